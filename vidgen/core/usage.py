"""What usage is computed from: a window's credit ledger entries and jobs, as plain facts. The
stores read them (``GenerationRepository.usage_records``); ``service.usage`` sums them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["JobFact", "LedgerFact", "UsageRecords"]


@dataclass(frozen=True)
class LedgerFact:
    """One charge or refund (grants and adjustments carry no job and are not usage)."""

    key_id: str
    job_id: str
    model: str
    delta: int  # a charge is negative, a refund positive
    reason: str  # charge | refund
    created_at: datetime


@dataclass(frozen=True)
class JobFact:
    key_id: str
    job_id: str
    model: str
    status: str  # core.models.Status's value as stored
    error_name: str | None
    seconds: float  # of video made: the output's, for a completed job; 0 otherwise
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class UsageRecords:
    ledger: list[LedgerFact]
    jobs: list[JobFact]

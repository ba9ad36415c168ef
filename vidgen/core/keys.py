"""An API key as the core sees it: who is calling, with what balance, limits and priority.
Secrets and their hashes stay in the store (``vidgen.store.keys``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ApiKey"]


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    credits: int | None  # None: unlimited
    max_concurrency: int | None
    source: str
    created_at: datetime
    revoked_at: datetime | None
    priority: int = 0  # higher is claimed first; keys of one priority take turns

    @property
    def active(self) -> bool:
        return self.revoked_at is None

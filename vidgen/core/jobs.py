"""A job's life as the core sees it, whatever stores it: what is stored (``NewJob``, under an
optional ``IdempotencyClaim``), what a worker claims (``ClaimedJob``) and hears back from its
heartbeat, and how its attempt ends (``Ending``). The repository port (``core.ports``) speaks in
these types; the SQL store and the in-memory one both implement it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from vidgen.core.facts import JobFacts
from vidgen.core.models import CapturedImage, Generation

__all__ = [
    "ClaimedJob",
    "Ending",
    "Heartbeat",
    "IdempotencyClaim",
    "IdempotencyRace",
    "IdempotentMatch",
    "NewJob",
    "ReapResult",
    "UnknownCursor",
]


@dataclass(frozen=True)
class NewJob:
    """A validated, priced job, ready to be stored."""

    id: str
    key_id: str
    model: str
    engine: str
    dialect: str
    prompt: str
    aspect_ratio: str
    width: int
    height: int
    duration: int
    fps: int
    frames: int
    seed: int
    credits: int
    max_attempts: int
    first_image: CapturedImage | None
    last_image: CapturedImage | None
    priority: int = 0
    facts: JobFacts = field(default_factory=JobFacts)


@dataclass(frozen=True)
class IdempotencyClaim:
    """Reserve ``key`` for this job: the same key and fingerprint replay it for ``ttl``."""

    key: str
    fingerprint: str
    ttl: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class IdempotentMatch:
    job_id: str
    fingerprint: str


class IdempotencyRace(Exception):
    """Another request stored a job under the same Idempotency-Key first; nothing was stored."""


class UnknownCursor(Exception):
    """A list's ``after`` is not the id of one of the key's generations."""


@dataclass(frozen=True)
class ClaimedJob:
    generation: Generation
    attempt: int
    max_attempts: int
    engine_state: dict[str, Any]
    lease_expires_at: datetime
    #: The job's input images when the claim already knows them ({} for a job that has
    #: none); None: read them with ``load_inputs``.
    inputs: dict[str, CapturedImage] | None = None


class Ending(StrEnum):
    """How a worker's attempt to end a job came out."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # a cancel was asked for first: ended cancelled, refunded
    RETRIED = "retried"
    LOST = "lost"  # the lease is no longer this worker's: nothing was written


@dataclass(frozen=True)
class Heartbeat:
    owned: bool  # False: the lease was lost (expired and taken over, or the job ended)
    cancel_requested: bool


@dataclass(frozen=True)
class ReapResult:
    requeued: list[str]
    failed: list[str]

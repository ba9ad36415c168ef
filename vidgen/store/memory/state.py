"""The in-memory store's state: the rows it holds, its clock, and the steps that several of its
ports share (a job ending with its refund and its final event, an event entering the outbox).

The rows mirror the SQL tables (``store.tables``) column for column, so that a job reads back as
the same ``Generation`` (``store.rows.row_to_generation`` reads both).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from vidgen.core.events import FINAL_EVENTS
from vidgen.core.facts import JobFacts
from vidgen.core.keys import ApiKey
from vidgen.core.models import CapturedMedia, Status
from vidgen.errors import ServiceUnavailable
from vidgen.store.credits import CANCELLED
from vidgen.store.webhooks import FINAL_EVENT_LIFETIME, PROGRESS_EVENT_LIFETIME

__all__ = [
    "ACTIVE",
    "LOST",
    "Clock",
    "EventRow",
    "Idempotency",
    "JobRow",
    "KeyRow",
    "LedgerEntry",
    "ManualClock",
    "State",
    "system_clock",
]

#: What the store reads the time from: an aware UTC datetime.
Clock = Callable[[], datetime]
ACTIVE = (Status.QUEUED.value, Status.GENERATING.value)
#: The error of a job that lost its worker once too often (the SQL store's words).
LOST = ("WorkerLost", "The worker running this generation stopped responding too many times.")


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until a test moves it: lease expiry, retry backoff and
    Idempotency-Key lifetimes are then tested without sleeping.

    >>> clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    >>> clock.advance(30)
    >>> clock().isoformat()
    '2026-01-01T00:00:30+00:00'
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or system_clock()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class JobRow:
    """One row of ``jobs`` (``store.tables``), plus ``seq``: the order rows were stored in."""

    id: str
    key_id: str
    model: str
    engine: str
    status: str
    priority: int
    turn: int
    dialect: str
    kind: str
    prompt: str
    aspect_ratio: str
    width: int
    height: int
    duration: int
    fps: int
    frames: int
    seed: int
    credits: int
    extras: dict[str, Any]
    max_attempts: int
    created_at: datetime
    updated_at: datetime
    seq: int
    progress: float = 0.0
    waiting: bool = False
    attempts: int = 0
    run_after: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    pokes: int = 0
    engine_state: dict[str, Any] | None = None
    error_name: str | None = None
    error_message: str | None = None
    output_key: str | None = None
    output_media_type: str | None = None
    output_bytes: int | None = None
    output_frames: int | None = None
    output_fps: float | None = None
    output_width: int | None = None
    output_height: int | None = None
    thumbnail_key: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deleted_at: datetime | None = None
    deadline_at: datetime | None = None
    inputs: dict[str, CapturedMedia] = field(default_factory=dict)

    def owned_by(self, worker: str) -> bool:
        """The lease fence of every worker write (``store.jobs._owned``)."""
        return self.lease_owner == worker and self.status == Status.GENERATING.value

    def shown_as(self) -> Status:
        """The status a client reads: held by a worker but waiting upstream reads queued."""
        if self.status == Status.GENERATING.value and self.waiting:
            return Status.QUEUED
        return Status(self.status)


@dataclass(frozen=True)
class LedgerEntry:
    """One row of ``credit_ledger``: a charge, a refund or a grant."""

    key_id: str
    job_id: str | None
    delta: int
    reason: str  # charge | refund | grant | adjustment
    created_at: datetime
    note: str | None = None  # an operator's reason for an adjustment


@dataclass
class KeyRow:
    key: ApiKey
    key_hash: str


@dataclass
class EventRow:
    """One row of ``webhook_events``."""

    id: str
    job_id: str
    key_id: str
    url: str
    type: str
    final: bool
    data: dict[str, Any]
    next_attempt_at: datetime
    created_at: datetime
    expires_at: datetime
    seq: int
    attempts: int = 0
    lease_until: datetime | None = None
    delivered_at: datetime | None = None
    gave_up_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None

    @property
    def pending(self) -> bool:
        return self.delivered_at is None and self.gave_up_at is None


@dataclass
class Idempotency:
    fingerprint: str
    job_id: str
    expires_at: datetime


class State:
    """Everything the store holds, and the lock that makes each operation one step."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        # Each operation runs whole while holding the lock, without awaiting anything else,
        # so every one is atomic the way a SQL transaction is.
        self.lock = asyncio.Lock()
        self.available = True
        self.jobs: dict[str, JobRow] = {}
        self.keys: dict[str, KeyRow] = {}
        self.ledger: list[LedgerEntry] = []
        self.idempotency: dict[tuple[str, str], Idempotency] = {}
        self.events: dict[str, EventRow] = {}
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def running(self, key_id: str) -> int:
        """How many of the key's jobs are held by workers (its ``max_concurrency`` counts)."""
        return sum(
            1
            for r in self.jobs.values()
            if r.key_id == key_id and r.status == Status.GENERATING.value
        )

    def check_available(self) -> None:
        if not self.available:
            raise ServiceUnavailable("The store is unavailable; retry in a moment.", retry_after=1)

    def refund(self, job: JobRow, now: datetime) -> None:
        """Refund a job once (``store.credits.refund``): the ledger says whether it was."""
        if any(e.job_id == job.id and e.reason == "refund" for e in self.ledger):
            return
        row = self.keys.get(job.key_id)
        if row is not None and row.key.credits is not None:
            row.key = replace(row.key, credits=row.key.credits + job.credits)
        self.ledger.append(LedgerEntry(job.key_id, job.id, job.credits, "refund", now))

    def finish_and_refund(self, job: JobRow, status: Status, name: str, message: str) -> None:
        """End a job failed or cancelled, refunded, with its final event in the outbox
        (``store.credits.finish_and_refund``). The caller has checked that it may end."""
        now = self.clock()
        job.status = status.value
        job.waiting = False
        job.error_name, job.error_message = name, message
        job.lease_owner = job.lease_expires_at = None
        job.finished_at = job.updated_at = now
        self.refund(job, now)
        event = "cancelled" if status is Status.CANCELLED else "failed"
        self.enqueue(job, event, {}, now)

    def cancel(self, job: JobRow) -> None:
        self.finish_and_refund(job, Status.CANCELLED, *CANCELLED)

    def enqueue(
        self, job: JobRow, event: str, data: dict[str, Any], now: datetime | None = None
    ) -> str | None:
        """Add an event to the outbox if the job subscribed to it (``store.webhooks``)."""
        return self.enqueue_for(
            job.id, job.key_id, JobFacts.from_json(job.extras), event, data, now
        )

    def enqueue_for(
        self,
        job_id: str,
        key_id: str,
        facts: JobFacts,
        event: str,
        data: dict[str, Any],
        now: datetime | None = None,
    ) -> str | None:
        hook = facts.webhook
        if hook is None or not hook.wants(event):
            return None
        now = now or self.clock()
        final = event in FINAL_EVENTS
        event_id = str(uuid.uuid4())
        self.events[event_id] = EventRow(
            id=event_id,
            job_id=job_id,
            key_id=key_id,
            url=hook.url,
            type=f"generation.{event}",
            final=final,
            data=dict(data),
            next_attempt_at=now,
            created_at=now,
            expires_at=now + (FINAL_EVENT_LIFETIME if final else PROGRESS_EVENT_LIFETIME),
            seq=self.next_seq(),
        )
        return event_id

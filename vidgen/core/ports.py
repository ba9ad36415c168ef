"""The ports: what the service and the worker need from the world, as ``typing.Protocol``s.

The core and the layers above it (``vidgen.service``, ``vidgen.worker``, ``vidgen.webhooks``)
depend on these, never on an adapter. The adapters implement them: ``vidgen.store`` (SQL, on
SQLite or PostgreSQL) and ``vidgen.store.memory`` (in memory, for fast tests) the repositories
and the queue; ``vidgen.media`` image capture and URL checks; ``vidgen.storage`` blob storage
(``core.storage.Storage``) and link signing; ``vidgen.engines`` the engine interface
(``core.engine.Engine``). ``vidgen.wiring`` composes one of each.

Every repository method raises ``errors.ServiceUnavailable`` when its backend cannot be reached
(a 503 to a client, a retry to a worker), and nothing else for an outage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import Any, Protocol

from vidgen.core.catalog import ModelSpec
from vidgen.core.events import WebhookEvent
from vidgen.core.facts import JobFacts
from vidgen.core.jobs import (
    ClaimedJob,
    Ending,
    Heartbeat,
    IdempotencyClaim,
    IdempotentMatch,
    NewJob,
    QueuePlace,
    ReapResult,
)
from vidgen.core.keys import ApiKey, CreditResult, KeyStatus, Role
from vidgen.core.models import (
    CapturedImage,
    CapturedMedia,
    CapturedVideo,
    Generation,
    GenerationRequest,
    ImageRef,
    MediaRef,
    Status,
    VideoOutput,
)
from vidgen.core.usage import Dimension, UsageGroups, UsageTable
from vidgen.errors import FieldError

__all__ = [
    "CaptureImage",
    "CaptureMedia",
    "CaptureVideo",
    "CheckUrl",
    "EngineRules",
    "GenerationRepository",
    "JobQueue",
    "KeyAdmin",
    "KeyRepository",
    "LinkSigner",
    "Ping",
    "Wakeup",
    "WebhookOutbox",
]

#: Fetch and verify one input image at submit time; raises ``errors.ImageSourceError``.
CaptureImage = Callable[[ImageRef], Awaitable[CapturedImage]]
#: Fetch, probe and verify one input video at submit time; raises ``errors.ImageSourceError``.
CaptureVideo = Callable[[MediaRef], Awaitable[CapturedVideo]]
#: The same for an input that may be an image or a video (told apart by its bytes).
CaptureMedia = Callable[[MediaRef], Awaitable[CapturedMedia]]
#: Check a webhook URL against the fetch policy without calling it; a reason, or None.
CheckUrl = Callable[[str], Awaitable[str | None]]
#: Whether a backend answers (raises ``errors.ServiceUnavailable`` when it does not).
Ping = Callable[[], Awaitable[None]]


class GenerationRepository(Protocol):
    """Generations as clients see them: stored with their charge, read, listed, cancelled and
    deleted, always for the key that owns them."""

    async def create(
        self, job: NewJob, *, idempotency: IdempotencyClaim | None = None
    ) -> Generation:
        """Store the job and charge its price atomically. Raises ``InsufficientCredits`` (and
        stores nothing) below the price, ``IdempotencyRace`` when a concurrent create took
        the same Idempotency-Key first."""
        ...

    async def find_idempotent(
        self, key_id: str, idempotency_key: str
    ) -> IdempotentMatch | None: ...

    async def get(
        self, job_id: str, *, key_id: str | None = None, include_deleted: bool = False
    ) -> Generation | None: ...

    async def list(
        self,
        key_id: str,
        *,
        limit: int = 20,
        after: str | None = None,
        statuses: Collection[Status] | None = None,
        newest_first: bool = True,
    ) -> tuple[list[Generation], bool]:
        """A page and whether more follow; ``UnknownCursor`` when ``after`` names none of the
        key's generations."""
        ...

    async def running_count(self, key_id: str) -> int: ...

    async def spent_since(self, key_id: str, since: datetime) -> int:
        """Net credits the key spent since ``since``: its charges less its refunds."""
        ...

    async def usage_sums(
        self,
        key_id: str | None,
        start: datetime,
        end: datetime,
        by: tuple[Dimension, ...],
    ) -> UsageTable:
        """The jobs created, and the charges and refunds written, in ``start`` ≤ t < ``end``,
        of one key or (None) of every key, summed per group of ``by`` (``()``: one group, the
        totals); deleted jobs included (they were made). Only groups with a job or an entry."""
        ...

    async def usage_groups(
        self,
        key_id: str | None,
        start: datetime,
        end: datetime,
        by: tuple[Dimension, ...],
    ) -> UsageGroups:
        """``usage_sums``'s groups, and the median time to complete over all of them, read in
        one pass: the rest of the totals is the groups' sum (``UsageGroups.totals``)."""
        ...

    async def queue_place(self, job_id: str) -> QueuePlace | None:
        """Where a queued job stands in claim order, with its model's measured run time;
        None when the job is not queued."""
        ...

    async def request_cancel(self, job_id: str, key_id: str) -> Generation | None:
        """Queued: cancelled and refunded at once. Running: flagged, and then it never
        completes (see ``JobQueue.complete``). Finished: unchanged."""
        ...

    async def delete(self, job_id: str, key_id: str) -> Generation | None:
        """Cancel if active, hide from every read; the row as the delete left it."""
        ...


class Wakeup(Protocol):
    """Wakes idle workers when a job is queued. Only cuts latency: polling is the guarantee."""

    async def start(self, models: Collection[str] | None = None) -> None: ...

    async def wait(self, timeout: float) -> None: ...  # noqa: ASYNC109 (a poll interval)

    def notify(self) -> None: ...

    def job_ready(self) -> None: ...

    async def aclose(self) -> None: ...


class JobQueue(Protocol):
    """The queue, from the workers' side: claims with leases, heartbeats, and the endings,
    every one of them fenced on the lease (see ``vidgen.store.jobs`` for the SQL one)."""

    @property
    def wakeup(self) -> Wakeup: ...

    async def claim_next(
        self,
        worker: str,
        *,
        lease_seconds: float,
        models: Collection[str] | None = None,
        engines: Collection[str] | None = None,
    ) -> ClaimedJob | None:
        """The next job: highest priority, then the lowest turn (keys take turns), then the
        oldest; never one of a key already running its ``max_concurrency`` jobs."""
        ...

    async def heartbeat(
        self,
        job_id: str,
        worker: str,
        *,
        lease_seconds: float,
        progress: float,
        waiting: bool = False,
    ) -> Heartbeat: ...

    async def poke(self, job_id: str) -> bool:
        """Count a provider's webhook for an active job, for its worker's next heartbeat to
        wake the engine's poll; False when the job is not queued or running."""
        ...

    async def save_engine_state(self, job_id: str, worker: str, state: dict[str, Any]) -> bool: ...

    async def load_inputs(self, job_id: str) -> dict[str, CapturedMedia]: ...

    async def complete(
        self, job_id: str, worker: str, output: VideoOutput, *, announce: bool = True
    ) -> Ending:
        """Completed, unless a cancel was asked for first (then cancelled, refunded)."""
        ...

    async def fail(self, job_id: str, worker: str | None, name: str, message: str) -> Ending: ...

    async def finish_cancelled(self, job_id: str, worker: str) -> bool: ...

    async def retry_later(self, job_id: str, worker: str, *, delay_seconds: float) -> Ending: ...

    async def release(self, job_id: str, worker: str) -> bool: ...

    async def requeue_expired(self, *, batch: int = 100) -> ReapResult: ...

    async def end_overdue(self, *, batch: int = 100) -> list[str]:
        """End the jobs still queued or running past their deadline (Cancel-After) cancelled,
        refunded, with the error ``DeadlineExceeded``; returns their ids."""
        ...

    async def queue_depth(self) -> dict[str, int]: ...


class KeyRepository(Protocol):
    """API keys, as the service reads them (management is the operator's, in the store)."""

    async def authenticate(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None."""
        ...

    async def get(self, key_id: str) -> ApiKey | None: ...


class KeyAdmin(KeyRepository, Protocol):
    """API keys as an operator manages them over HTTP (``service.admin``)."""

    async def create(
        self,
        name: str,
        *,
        credits: int | None = None,
        source: str = "cli",
        secret: str | None = None,
        max_concurrency: int | None = None,
        priority: int = 0,
        role: Role = "client",
        rate_limit_per_minute: int | None = None,
        monthly_credit_limit: int | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret (never retrievable again); a limited key's credits are
        granted in the ledger."""
        ...

    async def overview(self, month_start: datetime) -> list[KeyStatus]:
        """Every key, oldest first, with its last use and its spending since ``month_start``."""
        ...

    async def update_limits(self, key_id: str, changes: dict[str, int | None]) -> ApiKey | None:
        """Set the named ``core.keys.LIMIT_FIELDS`` (None clears a limit); None: no such key."""
        ...

    async def adjust_credits(self, key_id: str, amount: int, note: str) -> CreditResult:
        """Add ``amount`` (negative takes away) to a limited key's balance, never below zero,
        with ``note`` in the ledger."""
        ...

    async def revoke(self, key_id: str) -> bool: ...


class WebhookOutbox(Protocol):
    """Webhook events: stored with the state change that causes them, then delivered."""

    async def enqueue(
        self, job_id: str, key_id: str, facts: JobFacts, event: str, data: dict[str, Any]
    ) -> str | None: ...

    async def claim_due(self, *, limit: int, lease_seconds: float) -> list[WebhookEvent]: ...

    async def delivered(self, event_id: str, status: int) -> None: ...

    async def retry_later(
        self, event_id: str, *, delay_seconds: float, status: int | None, error: str
    ) -> None: ...

    async def give_up(self, event_id: str, *, status: int | None, error: str) -> None: ...


class LinkSigner(Protocol):
    """Signs download links for objects served by vidgen's own ``/files`` route."""

    def sign(self, *, generation_id: str, key: str, now: float | None = None) -> tuple[str, int]:
        """A token and its expiry (unix seconds)."""
        ...

    def verify(self, token: str | None, *, key: str) -> str:
        """The generation id the token was signed for; raises ``LinkRefused``."""
        ...


class EngineRules(Protocol):
    """What an engine adds to the catalog's rules at submit time."""

    def validate(self, spec: ModelSpec, request: GenerationRequest) -> list[FieldError]: ...

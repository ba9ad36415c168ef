"""The jobs table as a queue: every statement that creates, claims, leases or finishes a job.

A job moves queued → generating → completed | failed | cancelled. A worker claims one job in a
single statement (``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``; on SQLite
the single writer makes the same statement atomic) and holds a lease that its heartbeats renew.
Every later write by that worker is conditioned on still owning the lease, so a worker that was
presumed dead and comes back cannot overwrite the attempt that replaced it. A lease that expires
puts the job back in the queue, or fails it once its attempts are used up.

Credits move in the same transaction as the state change that causes them: charged when the job
is stored, refunded when it fails or is cancelled.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Connection

from vidgen.core.models import (
    CapturedImage,
    Generation,
    GenerationError,
    Status,
    VideoOutput,
)
from vidgen.errors import InsufficientCredits
from vidgen.store.db import Database
from vidgen.store.notify import Wakeup
from vidgen.store.tables import api_keys, credit_ledger, job_inputs, jobs


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    seed: int
    credits: int
    max_attempts: int
    first_image: CapturedImage | None
    last_image: CapturedImage | None
    priority: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimedJob:
    generation: Generation
    attempt: int
    max_attempts: int
    engine_state: dict[str, Any]
    lease_expires_at: datetime


@dataclass(frozen=True)
class Heartbeat:
    owned: bool  # False: the lease was lost (expired and taken over, or the job ended)
    cancel_requested: bool


@dataclass(frozen=True)
class ReapResult:
    requeued: list[str]
    failed: list[str]


def row_to_generation(row: Any) -> Generation:
    video = None
    if row.output_key is not None:
        video = VideoOutput(
            key=row.output_key,
            media_type=row.output_media_type,
            size_bytes=row.output_bytes,
            width=row.output_width,
            height=row.output_height,
            fps=row.output_fps,
            frame_count=row.output_frames,
            duration=row.output_frames / row.output_fps if row.output_fps else 0.0,
            thumbnail_key=row.thumbnail_key,
        )
    error = None
    if row.error_name is not None:
        error = GenerationError(name=row.error_name, message=row.error_message or "")
    extras = dict(row.extras or {})
    images = extras.get("images", {})
    return Generation(
        id=row.id,
        key_id=row.key_id,
        model=row.model,
        engine=row.engine,
        # Held by a worker but not yet started upstream: honest status is "queued".
        status=Status.QUEUED
        if row.status == Status.GENERATING.value and row.waiting
        else Status(row.status),
        progress=row.progress,
        prompt=row.prompt,
        aspect_ratio=row.aspect_ratio,
        width=row.width,
        height=row.height,
        duration=row.duration,
        fps=row.fps,
        seed=row.seed,
        credits=row.credits,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=error,
        video=video,
        dialect=row.dialect,
        has_first_image="first" in images,
        has_last_image="last" in images,
        extras=extras,
    )


def _image_facts(image: CapturedImage) -> dict[str, Any]:
    return {
        "media_type": image.media_type,
        "width": image.width,
        "height": image.height,
        "sha256": image.sha256,
    }


class JobStore:
    def __init__(self, db: Database, wakeup: Wakeup | None = None) -> None:
        self.db = db
        self.wakeup = wakeup or Wakeup()

    # -- submit and read -------------------------------------------------------------------

    async def create(self, job: NewJob) -> Generation:
        """Store the job and charge its price in one transaction. Raises InsufficientCredits
        (and stores nothing) when the key's balance is below the price."""
        now = utcnow()
        images = {
            pos: img
            for pos, img in (("first", job.first_image), ("last", job.last_image))
            if img is not None
        }
        extras = dict(job.extras)
        extras["images"] = {pos: _image_facts(img) for pos, img in images.items()}

        def create(conn: Connection) -> Generation:
            _take_credits(conn, job.key_id, job.credits)
            conn.execute(
                insert(jobs).values(
                    id=job.id,
                    key_id=job.key_id,
                    model=job.model,
                    engine=job.engine,
                    status=Status.QUEUED.value,
                    priority=job.priority,
                    dialect=job.dialect,
                    prompt=job.prompt,
                    aspect_ratio=job.aspect_ratio,
                    width=job.width,
                    height=job.height,
                    duration=job.duration,
                    fps=job.fps,
                    seed=job.seed,
                    credits=job.credits,
                    extras=extras,
                    progress=0.0,
                    attempts=0,
                    max_attempts=job.max_attempts,
                    cancel_requested=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            if images:
                conn.execute(
                    insert(job_inputs),
                    [
                        {
                            "job_id": job.id,
                            "position": pos,
                            "media_type": img.media_type,
                            "width": img.width,
                            "height": img.height,
                            "sha256": img.sha256,
                            "data": img.data,
                        }
                        for pos, img in images.items()
                    ],
                )
            # The ledger row references the job, so it goes in last; all of it commits together.
            conn.execute(
                insert(credit_ledger).values(
                    key_id=job.key_id,
                    job_id=job.id,
                    delta=-job.credits,
                    reason="charge",
                    created_at=now,
                )
            )
            return row_to_generation(conn.execute(select(jobs).where(jobs.c.id == job.id)).one())

        generation = await self.db.write(create)
        self.wakeup.notify()
        return generation

    async def get(self, job_id: str, *, key_id: str | None = None) -> Generation | None:
        """One generation; with ``key_id``, only if that key owns it (the poll path)."""
        query, params = (
            (_GET_OWNED, {"job_id": job_id, "key_id": key_id})
            if key_id is not None
            else (_GET, {"job_id": job_id})
        )

        def read(conn: Connection) -> Generation | None:
            row = conn.execute(query, params).first()
            return row_to_generation(row) if row else None

        return await self.db.read(read, point=True)

    async def list(
        self,
        key_id: str,
        *,
        limit: int = 20,
        after: str | None = None,
        statuses: Collection[Status] | None = None,
        newest_first: bool = True,
    ) -> tuple[list[Generation], bool]:
        """One page of a key's generations and whether more follow. ``after`` is the id of the
        last generation of the previous page (a cursor that stays valid while rows are added)."""
        order = (
            (jobs.c.created_at.desc(), jobs.c.id.desc())
            if newest_first
            else (jobs.c.created_at, jobs.c.id)
        )
        query = select(jobs).where(jobs.c.key_id == key_id).order_by(*order).limit(limit + 1)
        if statuses:
            query = query.where(or_(*(_shown_as(status) for status in statuses)))

        def read(conn: Connection) -> tuple[list[Generation], bool]:
            nonlocal query
            if after is not None:
                cursor = conn.execute(
                    select(jobs.c.created_at, jobs.c.id).where(
                        jobs.c.id == after, jobs.c.key_id == key_id
                    )
                ).first()
                if cursor is None:
                    return [], False
                position = tuple_(jobs.c.created_at, jobs.c.id)
                query = query.where(
                    position < tuple_(cursor.created_at, cursor.id)
                    if newest_first
                    else position > tuple_(cursor.created_at, cursor.id)
                )
            rows = conn.execute(query).all()
            return [row_to_generation(r) for r in rows[:limit]], len(rows) > limit

        return await self.db.read(read)

    async def load_inputs(self, job_id: str) -> dict[str, CapturedImage]:
        def read(conn: Connection) -> dict[str, CapturedImage]:
            rows = conn.execute(select(job_inputs).where(job_inputs.c.job_id == job_id))
            return {
                r.position: CapturedImage(
                    data=r.data,
                    media_type=r.media_type,
                    width=r.width,
                    height=r.height,
                    sha256=r.sha256,
                )
                for r in rows
            }

        return await self.db.read(read)

    async def queue_depth(self) -> dict[str, int]:
        query = (
            select(jobs.c.model, func.count())
            .where(jobs.c.status == Status.QUEUED.value)
            .group_by(jobs.c.model)
        )
        return await self.db.read(lambda conn: {model: int(n) for model, n in conn.execute(query)})

    # -- the worker's side -----------------------------------------------------------------

    async def claim_next(
        self,
        worker: str,
        *,
        lease_seconds: float,
        models: Collection[str] | None = None,
        engines: Collection[str] | None = None,
    ) -> ClaimedJob | None:
        """Claim the next queued job (highest priority, then oldest) in one statement."""
        now = utcnow()
        candidate = (
            select(jobs.c.id)
            .where(
                jobs.c.status == Status.QUEUED.value,
                or_(jobs.c.run_after.is_(None), jobs.c.run_after <= now),
            )
            .order_by(jobs.c.priority.desc(), jobs.c.created_at, jobs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if models is not None:
            candidate = candidate.where(jobs.c.model.in_(list(models)))
        if engines is not None:
            candidate = candidate.where(jobs.c.engine.in_(list(engines)))
        expires = now + timedelta(seconds=lease_seconds)
        claim = (
            update(jobs)
            .where(jobs.c.id == candidate.scalar_subquery(), jobs.c.status == Status.QUEUED.value)
            .values(
                status=Status.GENERATING.value,
                lease_owner=worker,
                lease_expires_at=expires,
                attempts=jobs.c.attempts + 1,
                started_at=func.coalesce(jobs.c.started_at, now),
                updated_at=now,
                run_after=None,
            )
            .returning(*jobs.c)
        )
        row = await self.db.write(lambda conn: conn.execute(claim).first())
        if row is None:
            return None
        return ClaimedJob(
            generation=row_to_generation(row),
            attempt=row.attempts,
            max_attempts=row.max_attempts,
            engine_state=dict(row.engine_state or {}),
            lease_expires_at=expires,
        )

    def _owned(self, job_id: str, worker: str) -> Any:
        return and_(
            jobs.c.id == job_id,
            jobs.c.lease_owner == worker,
            jobs.c.status == Status.GENERATING.value,
        )

    async def _update_owned(self, job_id: str, worker: str, **values: Any) -> bool:
        statement = update(jobs).where(self._owned(job_id, worker)).values(**values)
        return await self.db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def heartbeat(
        self,
        job_id: str,
        worker: str,
        *,
        lease_seconds: float,
        progress: float,
        waiting: bool = False,
    ) -> Heartbeat:
        """Renew the lease and record progress (which only moves forward)."""
        now = utcnow()
        larger = func.max if self.db.is_sqlite else func.greatest
        statement = (
            update(jobs)
            .where(self._owned(job_id, worker))
            .values(
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                progress=larger(jobs.c.progress, progress),
                waiting=waiting,
                updated_at=now,
            )
            .returning(jobs.c.cancel_requested)
        )
        row = await self.db.write(lambda conn: conn.execute(statement).first())
        if row is None:
            return Heartbeat(owned=False, cancel_requested=False)
        return Heartbeat(owned=True, cancel_requested=bool(row.cancel_requested))

    async def save_engine_state(self, job_id: str, worker: str, state: dict[str, Any]) -> bool:
        return await self._update_owned(job_id, worker, engine_state=state, updated_at=utcnow())

    async def complete(self, job_id: str, worker: str, output: VideoOutput) -> bool:
        now = utcnow()
        return await self._update_owned(
            job_id,
            worker,
            status=Status.COMPLETED.value,
            waiting=False,
            progress=1.0,
            output_key=output.key,
            output_media_type=output.media_type,
            output_bytes=output.size_bytes,
            output_frames=output.frame_count,
            output_fps=output.fps,
            output_width=output.width,
            output_height=output.height,
            thumbnail_key=output.thumbnail_key,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )

    async def fail(self, job_id: str, worker: str | None, name: str, message: str) -> bool:
        """End the job in error and refund it. ``worker=None`` fails it regardless of lease."""
        condition = (
            self._owned(job_id, worker)
            if worker is not None
            else and_(jobs.c.id == job_id, jobs.c.status.in_(_ACTIVE))
        )
        return await self.db.write(
            lambda conn: _finish_and_refund(conn, condition, Status.FAILED, name, message)
        )

    async def finish_cancelled(self, job_id: str, worker: str) -> bool:
        """The engine stopped because the job was cancelled: end it cancelled, refunded."""
        condition = self._owned(job_id, worker)
        return await self.db.write(
            lambda conn: _finish_and_refund(conn, condition, Status.CANCELLED, *_CANCELLED)
        )

    async def retry_later(self, job_id: str, worker: str, *, delay_seconds: float) -> bool:
        """Hand the job back to the queue after a transient failure (not before ``delay``).
        The failure itself is logged by the worker; the job shows no error while it waits."""
        now = utcnow()
        return await self._update_owned(
            job_id,
            worker,
            status=Status.QUEUED.value,
            waiting=False,
            lease_owner=None,
            lease_expires_at=None,
            run_after=now + timedelta(seconds=delay_seconds),
            updated_at=now,
        )

    async def release(self, job_id: str, worker: str) -> bool:
        """Give a job back untouched (graceful shutdown): the attempt does not count."""
        released = await self._update_owned(
            job_id,
            worker,
            status=Status.QUEUED.value,
            waiting=False,
            lease_owner=None,
            lease_expires_at=None,
            attempts=jobs.c.attempts - 1,
            updated_at=utcnow(),
        )
        if released:
            self.wakeup.notify()
        return released

    async def requeue_expired(self) -> ReapResult:
        """Put jobs whose lease expired back in the queue, or fail them (refunded) when they
        have used up their attempts, or end them cancelled when a cancel was pending. Any
        process may run this; it is idempotent."""
        now = utcnow()
        expired = and_(jobs.c.status == Status.GENERATING.value, jobs.c.lease_expires_at < now)

        def reap(conn: Connection) -> ReapResult:
            requeued = [
                r.id
                for r in conn.execute(
                    update(jobs)
                    .where(expired, jobs.c.attempts < jobs.c.max_attempts, ~jobs.c.cancel_requested)
                    .values(
                        status=Status.QUEUED.value,
                        waiting=False,
                        lease_owner=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                    .returning(jobs.c.id)
                )
            ]
            ended: list[str] = []
            for row in conn.execute(
                select(jobs.c.id, jobs.c.cancel_requested).where(expired)
            ).all():
                status, name, message = (
                    (Status.CANCELLED, *_CANCELLED)
                    if row.cancel_requested
                    else (Status.FAILED, *_LOST)
                )
                if _finish_and_refund(
                    conn, and_(jobs.c.id == row.id, expired), status, name, message
                ):
                    ended.append(row.id)
            return ReapResult(requeued=requeued, failed=ended)

        result = await self.db.write(reap)
        if result.requeued:
            self.wakeup.notify()
        return result

    # -- client-side state changes ---------------------------------------------------------

    async def request_cancel(self, job_id: str, key_id: str) -> Generation | None:
        """Cancel: a queued job ends cancelled (refunded) at once; a running one is flagged and
        its worker stops it at the next check; a finished one is left as it is."""
        mine = and_(jobs.c.id == job_id, jobs.c.key_id == key_id)

        def cancel(conn: Connection) -> None:
            queued = and_(mine, jobs.c.status == Status.QUEUED.value)
            if not _finish_and_refund(conn, queued, Status.CANCELLED, *_CANCELLED):
                conn.execute(
                    update(jobs)
                    .where(mine, jobs.c.status == Status.GENERATING.value)
                    .values(cancel_requested=True, updated_at=utcnow())
                )

        await self.db.write(cancel)
        return await self.get(job_id, key_id=key_id)


_ACTIVE = (Status.QUEUED.value, Status.GENERATING.value)


def _shown_as(status: Status) -> Any:
    """The rows a client sees in ``status`` (see ``row_to_generation``: held-but-waiting jobs
    read as queued)."""
    if status is Status.QUEUED:
        return or_(
            jobs.c.status == Status.QUEUED.value,
            and_(jobs.c.status == Status.GENERATING.value, jobs.c.waiting),
        )
    if status is Status.GENERATING:
        return and_(jobs.c.status == Status.GENERATING.value, ~jobs.c.waiting)
    return jobs.c.status == status.value


# Built once: the poll path runs these thousands of times a second, and a statement object that
# is reused skips SQLAlchemy's construction and cache-key work.
_GET = select(jobs).where(jobs.c.id == bindparam("job_id"))
_GET_OWNED = _GET.where(jobs.c.key_id == bindparam("key_id"))
_CANCELLED = ("Cancelled", "The generation was cancelled.")
_LOST = ("WorkerLost", "The worker running this generation stopped responding too many times.")


def _finish_and_refund(
    conn: Connection, condition: Any, status: Status, name: str, message: str
) -> bool:
    """End the jobs matching ``condition`` (at most one) and refund them, in the caller's
    transaction. The status change is the guard: a job ends, and is refunded, once."""
    now = utcnow()
    row = conn.execute(
        update(jobs)
        .where(condition)
        .values(
            status=status.value,
            waiting=False,
            error_name=name,
            error_message=message,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
        .returning(jobs.c.id, jobs.c.key_id, jobs.c.credits)
    ).first()
    if row is None:
        return False
    _refund(conn, row.key_id, row.id, row.credits, now)
    return True


def _take_credits(conn: Connection, key_id: str, amount: int) -> None:
    """Take ``amount`` from a limited key, atomically; unlimited keys (NULL) pass."""
    result = conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            api_keys.c.credits.is_not(None),
            api_keys.c.credits >= amount,
        )
        .values(credits=api_keys.c.credits - amount)
    )
    if result.rowcount == 1:
        return
    balance = conn.execute(
        select(api_keys.c.credits).where(api_keys.c.id == key_id)
    ).scalar_one_or_none()
    if balance is not None:
        raise InsufficientCredits(required=amount, available=int(balance))


def _refund(conn: Connection, key_id: str, job_id: str, amount: int, now: datetime) -> None:
    already = conn.execute(
        select(credit_ledger.c.id).where(
            credit_ledger.c.job_id == job_id, credit_ledger.c.reason == "refund"
        )
    ).first()
    if already is not None:
        return
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.credits.is_not(None))
        .values(credits=api_keys.c.credits + amount)
    )
    conn.execute(
        insert(credit_ledger).values(
            key_id=key_id, job_id=job_id, delta=amount, reason="refund", created_at=now
        )
    )

"""The jobs table as a queue, from the workers' side: every statement that claims, leases or
finishes a job (jobs are created, read and cancelled for clients in ``store.generations``).

A job moves queued → generating → completed | failed | cancelled. A worker claims one job in a
single statement (``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``; on SQLite
the single writer makes the same statement atomic) and holds a lease that its heartbeats renew.
Every later write by that worker is conditioned on still owning the lease, so a worker that was
presumed dead and comes back cannot overwrite the attempt that replaced it. A lease that expires
puts the job back in the queue, or fails it once its attempts are used up. A cancel asked for
while a job runs always wins: the completion, a failure and a retry of that job all end it
cancelled instead.

Credits move in the same transaction as the state change that causes them: charged when the job
is stored, refunded when it fails or is cancelled.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Float, String, and_, bindparam, case, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from vidgen.core.facts import JobFacts
from vidgen.core.jobs import ClaimedJob, Ending, Heartbeat, ReapResult
from vidgen.core.models import (
    CapturedImage,
    Status,
    VideoOutput,
)
from vidgen.store.credits import CANCELLED, finish_and_refund
from vidgen.store.db import Database
from vidgen.store.notify import Wakeup, announce_job
from vidgen.store.rows import row_to_generation, utcnow
from vidgen.store.tables import UTCDateTime, api_keys, job_inputs, jobs
from vidgen.store.turns import CLAIM_ORDER
from vidgen.store.webhooks import enqueue_event


class JobStore:
    """The queue, from the workers' side."""

    def __init__(self, db: Database, wakeup: Wakeup | None = None) -> None:
        self.db = db
        self.wakeup = wakeup or Wakeup()

    async def claim_next(
        self,
        worker: str,
        *,
        lease_seconds: float,
        models: Collection[str] | None = None,
        engines: Collection[str] | None = None,
    ) -> ClaimedJob | None:
        """Claim the next queued job in one statement: highest priority, then the lowest turn
        (keys take turns, see ``store.turns``), then the oldest."""
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        claim = _claim_statement(models is not None, engines is not None)
        params = {
            "now": now,
            "expires": expires,
            "worker": worker,
            "models": list(models or ()),
            "engines": list(engines or ()),
        }

        # The claim is one statement, run on its own (in autocommit on PostgreSQL): a
        # transaction around it would cost two more round trips on every job.
        for _ in range(3):
            row = await self.db.write(lambda conn: conn.execute(claim, params).first(), single=True)
            if row is None:
                return None
            if row.key_limit is None or self.db.is_sqlite:
                break
            recount = functools.partial(_keep_within_key_limit, job=row, worker=worker, now=now)
            if await self.db.write(recount):
                break
            # Handed back: its key is at its limit, which the next claim sees and skips.
        else:
            return None
        # A job without input images (its stored facts list them) needs no read for them; one with
        # images has them read by the worker (``load_inputs``), which retries through outages.
        inputs: dict[str, CapturedImage] | None = None if (row.extras or {}).get("images") else {}
        return ClaimedJob(
            generation=row_to_generation(row),
            attempt=row.attempts,
            max_attempts=row.max_attempts,
            engine_state=dict(row.engine_state or {}),
            lease_expires_at=expires,
            inputs=inputs,
        )

    async def _update_owned(self, job_id: str, worker: str, **values: Any) -> bool:
        statement = update(jobs).where(_OWNED).values(**values)
        params = {"job_id": job_id, "worker": worker}
        return await self.db.write(
            lambda conn: conn.execute(statement, params).rowcount == 1, single=True
        )

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
        params = {
            "job_id": job_id,
            "worker": worker,
            "expires": now + timedelta(seconds=lease_seconds),
            "progress": float(progress),
            "waiting": bool(waiting),
            "now": now,
        }
        row = await self.db.write(
            lambda conn: conn.execute(_HEARTBEAT, params).first(), single=True
        )
        if row is None:
            return Heartbeat(owned=False, cancel_requested=False)
        return Heartbeat(owned=True, cancel_requested=bool(row.cancel_requested))

    async def save_engine_state(self, job_id: str, worker: str, state: dict[str, Any]) -> bool:
        return await self._update_owned(job_id, worker, engine_state=state, updated_at=utcnow())

    async def load_inputs(self, job_id: str) -> dict[str, CapturedImage]:
        return await self.db.read(lambda conn: _read_inputs(conn, job_id))

    async def complete(
        self, job_id: str, worker: str, output: VideoOutput, *, announce: bool = True
    ) -> Ending:
        """Mark the job completed with its stored output (and queue its webhook event), unless
        a cancel was asked for meanwhile: a client told that its cancel (or delete) was
        accepted is never charged, so then the job ends cancelled, refunded, and the caller
        removes the output it stored (``Ending.CANCELLED``). ``Ending.LOST``: the lease is no
        longer this worker's. ``announce=False``: the caller knows that the job has no webhook
        for completion (it holds the job's facts), so the ending is one statement, run as
        such."""
        now = utcnow()
        params = {
            "job_id": job_id,
            "worker": worker,
            "now": now,
            "output_key": output.key,
            "output_media_type": output.media_type,
            "output_bytes": output.size_bytes,
            "output_frames": output.frame_count,
            "output_fps": output.fps,
            "output_width": output.width,
            "output_height": output.height,
            "thumbnail_key": output.thumbnail_key,
        }

        def run(conn: Connection) -> bool:
            row = conn.execute(_COMPLETE, params).first()
            if row is None:
                return False
            if not announce:
                return True
            enqueue_event(
                conn,
                job_id=job_id,
                key_id=row.key_id,
                facts=JobFacts.from_json(row.extras),
                event="completed",
                now=now,
            )
            return True

        if await self.db.write(run, single=not announce):
            return Ending.COMPLETED
        return await self._end_if_cancel_requested(job_id, worker) or Ending.LOST

    async def fail(self, job_id: str, worker: str | None, name: str, message: str) -> Ending:
        """End the job in error and refund it; a job whose cancel was asked for ends cancelled
        instead (also refunded: what the client asked for is what it reads). ``worker=None``
        fails it regardless of lease."""
        if worker is None:
            condition = and_(jobs.c.id == job_id, jobs.c.status.in_(_ACTIVE))
            failed = await self.db.write(
                lambda conn: finish_and_refund(conn, condition, Status.FAILED, name, message)
            )
            return Ending.FAILED if failed else Ending.LOST

        def run(conn: Connection) -> Ending:
            if _cancel_if_requested(conn, job_id, worker):
                return Ending.CANCELLED
            owned = _owned(job_id, worker)
            if finish_and_refund(conn, owned, Status.FAILED, name, message):
                return Ending.FAILED
            return Ending.LOST

        return await self.db.write(run)

    async def finish_cancelled(self, job_id: str, worker: str) -> bool:
        """The engine stopped because the job was cancelled: end it cancelled, refunded."""
        condition = _owned(job_id, worker)
        return await self.db.write(
            lambda conn: finish_and_refund(conn, condition, Status.CANCELLED, *CANCELLED)
        )

    async def _end_if_cancel_requested(self, job_id: str, worker: str) -> Ending | None:
        cancelled = await self.db.write(lambda conn: _cancel_if_requested(conn, job_id, worker))
        return Ending.CANCELLED if cancelled else None

    async def retry_later(self, job_id: str, worker: str, *, delay_seconds: float) -> Ending:
        """Hand the job back to the queue after a transient failure (not before ``delay``),
        or end it cancelled when a cancel was asked for meanwhile (``Ending.CANCELLED``). The
        failure itself is logged by the worker; the job shows no error while it waits."""
        now = utcnow()
        retry = (
            update(jobs)
            .where(_owned(job_id, worker), ~jobs.c.cancel_requested)
            .values(
                status=Status.QUEUED.value,
                waiting=False,
                lease_owner=None,
                lease_expires_at=None,
                run_after=now + timedelta(seconds=delay_seconds),
                updated_at=now,
            )
        )

        def run(conn: Connection) -> Ending:
            if conn.execute(retry).rowcount == 1:
                return Ending.RETRIED
            if _cancel_if_requested(conn, job_id, worker):
                return Ending.CANCELLED
            return Ending.LOST

        return await self.db.write(run)

    async def release(self, job_id: str, worker: str) -> bool:
        """Give a job back untouched (graceful shutdown): the attempt does not count."""
        statement = (
            update(jobs)
            .where(_owned(job_id, worker))
            .values(**_GIVEN_BACK, updated_at=utcnow())
            .returning(jobs.c.model)
        )

        def run(conn: Connection) -> bool:
            model = conn.execute(statement).scalar_one_or_none()
            if model is not None:
                announce_job(conn, model, job_id)
            return model is not None

        released = await self.db.write(run)
        if released:
            self.wakeup.job_ready()
        return released

    async def requeue_expired(self, *, batch: int = 100) -> ReapResult:
        """Put jobs whose lease expired back in the queue, or fail them (refunded) when they
        have used up their attempts, or end them cancelled when a cancel was pending. Any
        process may run this at any time: rows are taken with SKIP LOCKED, so reapers in
        several workers share the work instead of waiting on (or deadlocking over) each other."""
        now = utcnow()
        expired = and_(jobs.c.status == Status.GENERATING.value, jobs.c.lease_expires_at < now)
        due = (
            select(
                jobs.c.id,
                jobs.c.model,
                jobs.c.attempts,
                jobs.c.max_attempts,
                jobs.c.cancel_requested,
            )
            .where(expired)
            .order_by(jobs.c.lease_expires_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )

        def reap(conn: Connection) -> ReapResult:
            requeued: list[str] = []
            ended: list[str] = []
            for row in conn.execute(due).all():
                this = and_(jobs.c.id == row.id, expired)
                if row.cancel_requested or row.attempts >= row.max_attempts:
                    status, name, message = (
                        (Status.CANCELLED, *CANCELLED)
                        if row.cancel_requested
                        else (Status.FAILED, *_LOST)
                    )
                    if finish_and_refund(conn, this, status, name, message):
                        ended.append(row.id)
                    continue
                back = conn.execute(
                    update(jobs)
                    .where(this)
                    .values(
                        status=Status.QUEUED.value,
                        waiting=False,
                        lease_owner=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                )
                if back.rowcount == 1:
                    requeued.append(row.id)
                    announce_job(conn, row.model, row.id)
            return ReapResult(requeued=requeued, failed=ended)

        result = await self.db.write(reap)
        for _ in result.requeued:
            self.wakeup.job_ready()
        return result

    async def queue_depth(self) -> dict[str, int]:
        query = (
            select(jobs.c.model, func.count())
            .where(jobs.c.status == Status.QUEUED.value)
            .group_by(jobs.c.model)
        )
        return await self.db.read(lambda conn: {model: int(n) for model, n in conn.execute(query)})


_ACTIVE = (Status.QUEUED.value, Status.GENERATING.value)
_RUNNING = aliased(jobs)
#: The claimed job's key's concurrency limit (NULL: none), and how many jobs that key runs.
_KEY_LIMIT = (
    select(api_keys.c.max_concurrency).where(api_keys.c.id == jobs.c.key_id).scalar_subquery()
)
_KEY_RUNNING = (
    select(func.count())
    .select_from(_RUNNING)
    .where(_RUNNING.c.key_id == jobs.c.key_id, _RUNNING.c.status == Status.GENERATING.value)
    .scalar_subquery()
)


# The hot statements of a job's life, built once: building and cache-keying a statement costs
# SQLAlchemy more CPU than the database spends running it.
_NOW = bindparam("now", type_=UTCDateTime())


def _owned(job_id: Any, worker: Any) -> Any:
    """This worker still holds the job's lease (every write of a running job is fenced on
    it): for one job and worker, or for bound parameters (``_OWNED``)."""
    return and_(
        jobs.c.id == job_id, jobs.c.lease_owner == worker, jobs.c.status == Status.GENERATING.value
    )


#: ``_owned`` for the statements built once, run with ``job_id`` and ``worker`` parameters.
_OWNED = _owned(bindparam("job_id", type_=String()), bindparam("worker", type_=String()))
#: A job handed back to the queue as it was claimed: the attempt does not count.
_GIVEN_BACK = {
    "status": Status.QUEUED.value,
    "waiting": False,
    "lease_owner": None,
    "lease_expires_at": None,
    "attempts": jobs.c.attempts - 1,
}
_PROGRESS = bindparam("progress", type_=Float())
_HEARTBEAT = (
    update(jobs)
    .where(_OWNED)
    .values(
        lease_expires_at=bindparam("expires", type_=UTCDateTime()),
        # Progress only moves forward (max() is not portable to PostgreSQL, CASE is).
        progress=case((jobs.c.progress > _PROGRESS, jobs.c.progress), else_=_PROGRESS),
        waiting=bindparam("waiting", type_=Boolean()),
        updated_at=_NOW,
    )
    .returning(jobs.c.cancel_requested)
)
_INPUTS = select(job_inputs).where(job_inputs.c.job_id == bindparam("job_id", type_=String()))
#: A cancel asked for before the completion commits wins over it (see ``JobStore.complete``).
_COMPLETE = (
    update(jobs)
    .where(_OWNED, ~jobs.c.cancel_requested)
    .values(
        status=Status.COMPLETED.value,
        waiting=False,
        progress=1.0,
        **{
            name: bindparam(name, type_=jobs.c[name].type)
            for name in (
                "output_key",
                "output_media_type",
                "output_bytes",
                "output_frames",
                "output_fps",
                "output_width",
                "output_height",
                "thumbnail_key",
            )
        },
        lease_owner=None,
        lease_expires_at=None,
        finished_at=_NOW,
        updated_at=_NOW,
    )
    .returning(jobs.c.key_id, jobs.c.extras)
)


def _cancel_if_requested(conn: Connection, job_id: str, worker: str) -> bool:
    """End this worker's job cancelled, refunded, if a cancel was asked for."""
    condition = and_(_owned(job_id, worker), jobs.c.cancel_requested)
    return finish_and_refund(conn, condition, Status.CANCELLED, *CANCELLED)


def _read_inputs(conn: Connection, job_id: str) -> dict[str, CapturedImage]:
    return {
        r.position: CapturedImage(
            data=r.data, media_type=r.media_type, width=r.width, height=r.height, sha256=r.sha256
        )
        for r in conn.execute(_INPUTS, {"job_id": job_id})
    }


@functools.cache
def _claim_statement(by_model: bool, by_engine: bool) -> Any:
    """The claim, built once per filter shape: building and cache-keying a statement of this
    size costs more CPU than running it (see ``JobStore.claim_next``)."""
    now = _NOW
    candidate = (
        select(jobs.c.id)
        .where(
            jobs.c.status == Status.QUEUED.value,
            or_(jobs.c.run_after.is_(None), jobs.c.run_after <= now),
        )
        .order_by(*CLAIM_ORDER)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    # A key with max_concurrency runs at most that many jobs at once; the rest wait (and
    # read as THROTTLED in the Runway dialect). The limit is read first so that the count
    # is only made for limited keys.
    candidate = candidate.where(or_(_KEY_LIMIT.is_(None), _KEY_RUNNING < _KEY_LIMIT))
    if by_model:
        candidate = candidate.where(jobs.c.model.in_(bindparam("models", expanding=True)))
    if by_engine:
        candidate = candidate.where(jobs.c.engine.in_(bindparam("engines", expanding=True)))
    # The row is found by its primary key alone. The candidate is still queued: PostgreSQL
    # locked it (FOR UPDATE re-checks the WHERE on the latest row version), and SQLite runs
    # the whole statement under its single writer. A second ``status = 'queued'`` here is
    # not only redundant: on a table without fresh statistics (a new deployment, a burst),
    # PostgreSQL may then read the row through ix_jobs_claim and filter the whole queue for
    # its id, which made each claim O(queue length): 3 ms at 750 queued jobs.
    return (
        update(jobs)
        .where(jobs.c.id == candidate.scalar_subquery())
        .values(
            status=Status.GENERATING.value,
            lease_owner=bindparam("worker", type_=String()),
            lease_expires_at=bindparam("expires", type_=UTCDateTime()),
            attempts=jobs.c.attempts + 1,
            started_at=func.coalesce(jobs.c.started_at, now),
            updated_at=now,
            run_after=None,
        )
        .returning(*jobs.c, _KEY_LIMIT.label("key_limit"))
    )


def _keep_within_key_limit(conn: Connection, *, job: Any, worker: str, now: datetime) -> bool:
    """On PostgreSQL, two workers can claim jobs of one key at the same instant, each
    counting the key's running jobs before the other's claim is committed, and so run one job
    more than the key's max_concurrency. A claim of a *limited* key is therefore checked
    after it commits and before its job starts: under the key's row lock, which orders the
    checks of concurrent claims, the key's running jobs are counted again, all claims
    committed; over the limit, this claim (made at ``now``) hands its job straight back as it
    found it (the attempt does not count, and a start time it set is cleared) and False is
    returned. SQLite's single writer cannot race this way."""
    conn.execute(select(api_keys.c.id).where(api_keys.c.id == job.key_id).with_for_update())
    running = conn.execute(
        select(func.count()).where(
            jobs.c.key_id == job.key_id, jobs.c.status == Status.GENERATING.value
        )
    ).scalar_one()
    if running <= job.key_limit:
        return True
    started_at = None if job.started_at == now else job.started_at
    conn.execute(
        update(jobs)
        .where(_owned(job.id, worker))
        .values(**_GIVEN_BACK, started_at=started_at, updated_at=utcnow())
    )
    return False


_LOST = ("WorkerLost", "The worker running this generation stopped responding too many times.")

"""The jobs table as a queue, from the workers' side: claiming, leasing and finishing jobs
(jobs are created, read and cancelled for clients in ``store.generations``).

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

The statements themselves, and why each has its shape, are in ``store.queue_sql``; this module
runs them.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_
from sqlalchemy.engine import Connection

from vidgen.core.deadlines import DEADLINE_EXCEEDED
from vidgen.core.facts import JobFacts
from vidgen.core.jobs import ClaimedJob, Ending, Heartbeat, ReapResult
from vidgen.core.models import CapturedImage, CapturedMedia, CapturedVideo, Status, VideoOutput
from vidgen.store import queue_sql
from vidgen.store.credits import CANCELLED, finish_and_refund
from vidgen.store.db import Database
from vidgen.store.notify import Wakeup, announce_job
from vidgen.store.rows import row_to_generation
from vidgen.store.tables import jobs
from vidgen.store.webhooks import enqueue_event

__all__ = ["JobStore"]


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
        (keys take turns, see ``store.queue_sql``), then the oldest."""
        now = self.db.now()
        expires = now + timedelta(seconds=lease_seconds)
        claim = queue_sql.claim(models is not None, engines is not None)
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
        stored = row.extras or {}
        inputs: dict[str, CapturedMedia] | None = (
            None if stored.get("images") or stored.get("videos") else {}
        )
        return ClaimedJob(
            generation=row_to_generation(row),
            attempt=row.attempts,
            max_attempts=row.max_attempts,
            engine_state=dict(row.engine_state or {}),
            lease_expires_at=expires,
            inputs=inputs,
        )

    async def _update_owned(self, job_id: str, worker: str, **values: Any) -> bool:
        statement = queue_sql.update_owned(**values)
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
        now = self.db.now()
        params = {
            "job_id": job_id,
            "worker": worker,
            "expires": now + timedelta(seconds=lease_seconds),
            "progress": float(progress),
            "waiting": bool(waiting),
            "now": now,
        }
        row = await self.db.write(
            lambda conn: conn.execute(queue_sql.HEARTBEAT, params).first(), single=True
        )
        if row is None:
            return Heartbeat(owned=False, cancel_requested=False)
        return Heartbeat(
            owned=True, cancel_requested=bool(row.cancel_requested), pokes=int(row.pokes or 0)
        )

    async def poke(self, job_id: str) -> bool:
        """Count a provider's webhook for the job; False when it is not queued or running."""
        statement = queue_sql.poke(job_id)
        return await self.db.write(lambda conn: conn.execute(statement).rowcount == 1, single=True)

    async def save_engine_state(self, job_id: str, worker: str, state: dict[str, Any]) -> bool:
        return await self._update_owned(
            job_id, worker, engine_state=state, updated_at=self.db.now()
        )

    async def load_inputs(self, job_id: str) -> dict[str, CapturedMedia]:
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
        now = self.db.now()
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
            row = conn.execute(queue_sql.COMPLETE, params).first()
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
        now = self.db.now()
        if worker is None:
            condition = queue_sql.active(job_id)
            failed = await self.db.write(
                lambda conn: finish_and_refund(
                    conn, condition, Status.FAILED, name, message, now=now
                )
            )
            return Ending.FAILED if failed else Ending.LOST

        def run(conn: Connection) -> Ending:
            if _cancel_if_requested(conn, job_id, worker, now):
                return Ending.CANCELLED
            owned = queue_sql.owned(job_id, worker)
            if finish_and_refund(conn, owned, Status.FAILED, name, message, now=now):
                return Ending.FAILED
            return Ending.LOST

        return await self.db.write(run)

    async def finish_cancelled(self, job_id: str, worker: str) -> bool:
        """The engine stopped because the job was cancelled: end it cancelled, refunded."""
        condition = queue_sql.owned(job_id, worker)
        now = self.db.now()
        return await self.db.write(
            lambda conn: finish_and_refund(conn, condition, Status.CANCELLED, *CANCELLED, now=now)
        )

    async def _end_if_cancel_requested(self, job_id: str, worker: str) -> Ending | None:
        now = self.db.now()
        cancelled = await self.db.write(
            lambda conn: _cancel_if_requested(conn, job_id, worker, now)
        )
        return Ending.CANCELLED if cancelled else None

    async def retry_later(self, job_id: str, worker: str, *, delay_seconds: float) -> Ending:
        """Hand the job back to the queue after a transient failure (not before ``delay``),
        or end it cancelled when a cancel was asked for meanwhile (``Ending.CANCELLED``). The
        failure itself is logged by the worker; the job shows no error while it waits."""
        now = self.db.now()
        retry = queue_sql.retry(job_id, worker, now + timedelta(seconds=delay_seconds), now)

        def run(conn: Connection) -> Ending:
            if conn.execute(retry).rowcount == 1:
                return Ending.RETRIED
            if _cancel_if_requested(conn, job_id, worker, now):
                return Ending.CANCELLED
            return Ending.LOST

        return await self.db.write(run)

    async def release(self, job_id: str, worker: str) -> bool:
        """Give a job back untouched (graceful shutdown): the attempt does not count."""
        statement = queue_sql.release(job_id, worker, self.db.now())

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
        now = self.db.now()
        expired = queue_sql.expired_lease(now)
        due = queue_sql.due_for_reaping(expired, batch)

        def reap(conn: Connection) -> ReapResult:
            requeued: list[str] = []
            ended: list[str] = []
            for row in conn.execute(due).all():
                this = queue_sql.expired_job(row.id, expired)
                if row.cancel_requested or row.attempts >= row.max_attempts:
                    status, name, message = (
                        (Status.CANCELLED, *CANCELLED)
                        if row.cancel_requested
                        else (Status.FAILED, *_LOST)
                    )
                    if finish_and_refund(conn, this, status, name, message, now=now):
                        ended.append(row.id)
                    continue
                back = conn.execute(queue_sql.requeue(this, now))
                if back.rowcount == 1:
                    requeued.append(row.id)
                    announce_job(conn, row.model, row.id)
            return ReapResult(requeued=requeued, failed=ended)

        result = await self.db.write(reap)
        for _ in result.requeued:
            self.wakeup.job_ready()
        return result

    async def end_overdue(self, *, batch: int = 100) -> list[str]:
        """End jobs past their Cancel-After deadline cancelled, refunded (``DeadlineExceeded``),
        whether queued or running: a running one's worker finds its lease gone at its next
        heartbeat and stops the engine. Each ending is guarded on the job still being overdue
        and active, so a job that ended meanwhile is left as it ended."""
        now = self.db.now()
        condition = queue_sql.overdue(now)
        # Every process asks once a second, and almost always nothing is due: a read first, so
        # that the answer "none" takes no write lock (SQLite's one writer, PostgreSQL's rows).
        probe = queue_sql.due_for_deadline(condition, 1, lock=False)
        if await self.db.read(lambda conn: conn.execute(probe).first()) is None:
            return []
        due = queue_sql.due_for_deadline(condition, batch)

        def run(conn: Connection) -> list[str]:
            ended = []
            for job_id in conn.execute(due).scalars().all():
                this = and_(jobs.c.id == job_id, condition)
                if finish_and_refund(conn, this, Status.CANCELLED, *DEADLINE_EXCEEDED, now=now):
                    ended.append(job_id)
            return ended

        return await self.db.write(run)

    async def queue_depth(self) -> dict[str, int]:
        query = queue_sql.QUEUE_DEPTH
        return await self.db.read(lambda conn: {model: int(n) for model, n in conn.execute(query)})


def _cancel_if_requested(conn: Connection, job_id: str, worker: str, now: datetime) -> bool:
    """End this worker's job cancelled, refunded, if a cancel was asked for."""
    condition = queue_sql.cancel_requested(job_id, worker)
    return finish_and_refund(conn, condition, Status.CANCELLED, *CANCELLED, now=now)


def _read_inputs(conn: Connection, job_id: str) -> dict[str, CapturedMedia]:
    return {
        r.position: CapturedImage(
            data=r.data, media_type=r.media_type, width=r.width, height=r.height, sha256=r.sha256
        )
        if r.fps is None
        else CapturedVideo(
            data=r.data,
            media_type=r.media_type,
            width=r.width,
            height=r.height,
            fps=r.fps,
            frame_count=r.frame_count,
            duration=r.duration,
            sha256=r.sha256,
        )
        for r in conn.execute(queue_sql.INPUTS, {"job_id": job_id})
    }


def _keep_within_key_limit(conn: Connection, *, job: Any, worker: str, now: datetime) -> bool:
    """On PostgreSQL a limited key's claim may race another's (see ``store.queue_sql``): under
    the key's row lock, count its running jobs again, all claims committed; over the limit,
    this claim (made at ``now``) hands its job straight back as it found it (the attempt does
    not count, and a start time it set is cleared) and False is returned."""
    conn.execute(queue_sql.lock_key(job.key_id))
    running = conn.execute(queue_sql.running_of_key(job.key_id)).scalar_one()
    if running <= job.key_limit:
        return True
    started_at = None if job.started_at == now else job.started_at
    conn.execute(queue_sql.give_back(job.id, worker, started_at=started_at, now=now))
    return False


_LOST = ("WorkerLost", "The worker running this generation stopped responding too many times.")

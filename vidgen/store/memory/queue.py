"""The queue, from the workers' side, in memory: ``JobQueue`` with the semantics of
``store.jobs`` (claim order, leases and their fence, heartbeats, endings in which a cancel
always wins, reaping), held to them by the contract tests in ``tests/contract``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from vidgen.core.deadlines import DEADLINE_EXCEEDED
from vidgen.core.jobs import ClaimedJob, Ending, Heartbeat, ReapResult
from vidgen.core.models import CapturedMedia, Status, VideoOutput
from vidgen.core.ports import Wakeup
from vidgen.store.memory.state import ACTIVE, LOST, JobRow, State
from vidgen.store.rows import row_to_generation

__all__ = ["MemoryJobQueue"]


class MemoryJobQueue:
    def __init__(self, state: State, wakeup: Wakeup) -> None:
        self._state = state
        self._wakeup = wakeup

    @property
    def wakeup(self) -> Wakeup:
        return self._wakeup

    async def claim_next(
        self,
        worker: str,
        *,
        lease_seconds: float,
        models: Collection[str] | None = None,
        engines: Collection[str] | None = None,
    ) -> ClaimedJob | None:
        """Highest priority, then the lowest turn, then the oldest (rows of one instant in the
        order they were stored); never a job of a key running its ``max_concurrency``."""
        state = self._state
        async with state.lock:
            state.check_available()
            now = state.clock()
            ready = [
                r
                for r in state.jobs.values()
                if r.status == Status.QUEUED.value
                and (r.run_after is None or r.run_after <= now)
                and (models is None or r.model in models)
                and (engines is None or r.engine in engines)
                and self._within_key_limit(r)
            ]
            if not ready:
                return None
            row = min(ready, key=lambda r: (-r.priority, r.turn, r.created_at, r.seq, r.id))
            expires = now + timedelta(seconds=lease_seconds)
            row.status = Status.GENERATING.value
            row.lease_owner = worker
            row.lease_expires_at = expires
            row.attempts += 1
            row.started_at = row.started_at or now
            row.updated_at = now
            row.run_after = None
            return ClaimedJob(
                generation=row_to_generation(row),
                attempt=row.attempts,
                max_attempts=row.max_attempts,
                engine_state=dict(row.engine_state or {}),
                lease_expires_at=expires,
                # As the SQL store does: a job with images has them read with load_inputs.
                inputs=None if row.inputs else {},
            )

    def _within_key_limit(self, row: JobRow) -> bool:
        key = self._state.keys.get(row.key_id)
        limit = key.key.max_concurrency if key is not None else None
        return limit is None or self._state.running(row.key_id) < limit

    def _owned(self, job_id: str, worker: str) -> JobRow | None:
        row = self._state.jobs.get(job_id)
        return row if row is not None and row.owned_by(worker) else None

    async def heartbeat(
        self,
        job_id: str,
        worker: str,
        *,
        lease_seconds: float,
        progress: float,
        waiting: bool = False,
    ) -> Heartbeat:
        state = self._state
        async with state.lock:
            state.check_available()
            row = self._owned(job_id, worker)
            if row is None:
                return Heartbeat(owned=False, cancel_requested=False)
            now = state.clock()
            row.lease_expires_at = now + timedelta(seconds=lease_seconds)
            row.progress = max(row.progress, float(progress))
            row.waiting = bool(waiting)
            row.updated_at = now
            return Heartbeat(owned=True, cancel_requested=row.cancel_requested, pokes=row.pokes)

    async def poke(self, job_id: str) -> bool:
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.jobs.get(job_id)
            if row is None or row.status not in (Status.QUEUED.value, Status.GENERATING.value):
                return False
            row.pokes += 1
            return True

    async def save_engine_state(self, job_id: str, worker: str, state: dict[str, Any]) -> bool:
        store = self._state
        async with store.lock:
            store.check_available()
            row = self._owned(job_id, worker)
            if row is None:
                return False
            row.engine_state = dict(state)
            row.updated_at = store.clock()
            return True

    async def load_inputs(self, job_id: str) -> dict[str, CapturedMedia]:
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.jobs.get(job_id)
            return dict(row.inputs) if row is not None else {}

    async def complete(
        self, job_id: str, worker: str, output: VideoOutput, *, announce: bool = True
    ) -> Ending:
        state = self._state
        async with state.lock:
            state.check_available()
            row = self._owned(job_id, worker)
            if row is None:
                return Ending.LOST
            if row.cancel_requested:
                state.cancel(row)
                return Ending.CANCELLED
            now = state.clock()
            row.status = Status.COMPLETED.value
            row.waiting = False
            row.progress = 1.0
            row.output_key = output.key
            row.output_media_type = output.media_type
            row.output_bytes = output.size_bytes
            row.output_frames = output.frame_count
            row.output_fps = output.fps
            row.output_width = output.width
            row.output_height = output.height
            row.thumbnail_key = output.thumbnail_key
            row.lease_owner = row.lease_expires_at = None
            row.finished_at = row.updated_at = now
            if announce:
                state.enqueue(row, "completed", {}, now)
            return Ending.COMPLETED

    async def fail(self, job_id: str, worker: str | None, name: str, message: str) -> Ending:
        state = self._state
        async with state.lock:
            state.check_available()
            if worker is None:
                row = state.jobs.get(job_id)
                if row is None or row.status not in ACTIVE:
                    return Ending.LOST
            else:
                row = self._owned(job_id, worker)
                if row is None:
                    return Ending.LOST
                if row.cancel_requested:
                    state.cancel(row)
                    return Ending.CANCELLED
            state.finish_and_refund(row, Status.FAILED, name, message)
            return Ending.FAILED

    async def finish_cancelled(self, job_id: str, worker: str) -> bool:
        state = self._state
        async with state.lock:
            state.check_available()
            row = self._owned(job_id, worker)
            if row is None:
                return False
            state.cancel(row)
            return True

    async def retry_later(self, job_id: str, worker: str, *, delay_seconds: float) -> Ending:
        state = self._state
        async with state.lock:
            state.check_available()
            row = self._owned(job_id, worker)
            if row is None:
                return Ending.LOST
            if row.cancel_requested:
                state.cancel(row)
                return Ending.CANCELLED
            now = state.clock()
            _back_in_queue(row)
            row.run_after = now + timedelta(seconds=delay_seconds)
            row.updated_at = now
            return Ending.RETRIED

    async def release(self, job_id: str, worker: str) -> bool:
        """Give a job back untouched: the attempt does not count."""
        state = self._state
        async with state.lock:
            state.check_available()
            row = self._owned(job_id, worker)
            if row is None:
                return False
            _back_in_queue(row)
            row.attempts -= 1
            row.updated_at = state.clock()
        self._wakeup.job_ready()
        return True

    async def requeue_expired(self, *, batch: int = 100) -> ReapResult:
        state = self._state
        requeued: list[str] = []
        ended: list[str] = []
        async with state.lock:
            state.check_available()
            now = state.clock()
            expired = sorted(
                (
                    r
                    for r in state.jobs.values()
                    if r.status == Status.GENERATING.value
                    and r.lease_expires_at is not None
                    and r.lease_expires_at < now
                ),
                key=lambda r: (r.lease_expires_at, r.seq),
            )[:batch]
            for row in expired:
                if row.cancel_requested:
                    state.cancel(row)
                    ended.append(row.id)
                elif row.attempts >= row.max_attempts:
                    state.finish_and_refund(row, Status.FAILED, *LOST)
                    ended.append(row.id)
                else:
                    _back_in_queue(row)
                    row.updated_at = now
                    requeued.append(row.id)
        for _ in requeued:
            self._wakeup.job_ready()
        return ReapResult(requeued=requeued, failed=ended)

    async def end_overdue(self, *, batch: int = 100) -> list[str]:
        state = self._state
        async with state.lock:
            state.check_available()
            now = state.clock()
            overdue = sorted(
                (
                    r
                    for r in state.jobs.values()
                    if r.status in ACTIVE and r.deadline_at is not None and r.deadline_at <= now
                ),
                key=lambda r: (r.deadline_at, r.seq),
            )[:batch]
            for row in overdue:
                state.finish_and_refund(row, Status.CANCELLED, *DEADLINE_EXCEEDED)
            return [row.id for row in overdue]

    async def queue_depth(self) -> dict[str, int]:
        state = self._state
        async with state.lock:
            state.check_available()
            return dict(
                Counter(r.model for r in state.jobs.values() if r.status == Status.QUEUED.value)
            )


def _back_in_queue(row: JobRow) -> None:
    row.status = Status.QUEUED.value
    row.waiting = False
    row.lease_owner = row.lease_expires_at = None

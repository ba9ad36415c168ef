"""One claimed job, from its engine's start to its outcome: the per-job state machine.

The engine runs while a heartbeat renews the lease, records progress and watches for a cancel;
then the video is checked and stored under the job's own keys and the job marked completed, all
conditioned on still holding the lease (see ``store.jobs``). The outcome is one of completed,
failed, cancelled, retried, released (handed back at shutdown) or lost (the lease went to another
worker, which now owns every write).

An outage of the database or the bucket never fails a job: the heartbeat keeps trying (and the
engine keeps working) until the database answers, and the writes that end a job are retried
through the outage (``worker.persist``). Only the database saying "this lease is no longer
yours" stops a job early.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from vidgen.core.engine import Engine, EngineContext, EngineResult, engine_job
from vidgen.core.jobs import ClaimedJob, Ending
from vidgen.core.ports import JobQueue, WebhookOutbox
from vidgen.core.storage import Storage, remove_outputs
from vidgen.errors import EngineError, JobCancelled, RetryableEngineError
from vidgen.settings import Settings
from vidgen.worker.events import ProgressEvents
from vidgen.worker.output import check_output, upload
from vidgen.worker.persist import persist
from vidgen.worker.policy import RetryPolicy

__all__ = ["CANCEL_GRACE_SECONDS", "JobContext", "JobRun"]

# The lines a job logs keep the logger name they had before the worker was split in modules:
# operators filter on it.
log = logging.getLogger("vidgen.worker.runner")
T = TypeVar("T")

#: How long an engine may ignore a cancel before its task is cancelled outright.
CANCEL_GRACE_SECONDS = 10.0


class JobContext(EngineContext):
    """The context handed to an engine. Thread-safe where the interface says so."""

    def __init__(
        self,
        scratch_dir: Path,
        state: Mapping[str, Any],
        save: Callable[[dict[str, Any]], Awaitable[bool]],
    ) -> None:
        self.scratch_dir = scratch_dir
        self.state = dict(state)
        self._save = save
        self._progress = 0.0
        self.waiting = False
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._poke = threading.Event()
        self.lease_lost = False
        self.releasing = False  # worker shutdown: hand the job back instead of cancelling it

    def report_progress(self, fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        with self._lock:
            if fraction > self._progress:
                self._progress = fraction

    def report_waiting(self, waiting: bool) -> None:
        self.waiting = bool(waiting)

    @property
    def progress(self) -> float:
        with self._lock:
            return self._progress

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def handing_back(self) -> bool:
        return self.releasing or self.lease_lost

    def poke(self) -> None:
        self._poke.set()

    def take_poke(self) -> bool:
        if not self._poke.is_set():
            return False
        self._poke.clear()
        return True

    def stop(self, *, lease_lost: bool = False, releasing: bool = False) -> None:
        self.lease_lost = self.lease_lost or lease_lost
        self.releasing = self.releasing or releasing
        self._cancel.set()

    async def save_state(self, **state: Any) -> None:
        self.state.update(state)
        if not await self._save(self.state):
            self.stop(lease_lost=True)
            raise JobCancelled("The lease on this job was lost.")


@dataclass
class JobRun:
    """One attempt at one claimed job, run by ``run`` to its outcome."""

    queue: JobQueue
    storage: Storage
    settings: Settings
    worker: str
    policy: RetryPolicy
    webhooks: WebhookOutbox | None
    engine: Engine
    claimed: ClaimedJob
    ctx: JobContext

    async def run(self) -> str:
        engine_task = asyncio.create_task(self._generate())
        events = ProgressEvents(self.webhooks, self.claimed.generation)
        # The heartbeat runs until the job is settled, not only while the engine runs: the
        # lease must stay ours while the video is stored (which may wait out an outage).
        heartbeat = asyncio.create_task(self._heartbeat(engine_task, events))
        try:
            return await self._settle(engine_task, events)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _generate(self) -> EngineResult:
        claimed, ctx = self.claimed, self.ctx
        gen = claimed.generation
        inputs = claimed.inputs
        if inputs is None:
            inputs = await persist(
                "load the inputs",
                lambda: self.queue.load_inputs(gen.id),
                give_up=lambda: ctx.cancelled,
                deadline_seconds=self.settings.job_timeout_seconds,
            )
        if inputs is None:
            ctx.raise_if_cancelled()
            raise RetryableEngineError(
                "The job's input images could not be read.", name="InputsUnavailable"
            )
        job = engine_job(gen, inputs, attempt=self.claimed.attempt, state=self.claimed.engine_state)
        return await asyncio.wait_for(
            self.engine.generate(job, ctx), timeout=self.settings.job_timeout_seconds
        )

    async def _settle(self, engine_task: asyncio.Task[EngineResult], events: ProgressEvents) -> str:
        ctx = self.ctx
        gen = self.claimed.generation
        try:
            result = await engine_task
            if ctx.lease_lost:
                return "lost"
            await events.engine_ran()
            if ctx.cancelled and not ctx.releasing:
                raise JobCancelled()
            if ctx.releasing:
                # Finished in time after all: keep the work rather than redo it.
                ctx.releasing = False
            info, thumb = await check_output(result)
        except (JobCancelled, asyncio.CancelledError) as exc:
            if ctx.lease_lost:
                return "lost"
            if ctx.releasing:
                await self._finish(
                    "hand the job back", lambda: self.queue.release(gen.id, self.worker)
                )
                return "released"
            if isinstance(exc, asyncio.CancelledError) and not ctx.cancelled:
                raise
            await self._finish(
                "end the cancelled job", lambda: self.queue.finish_cancelled(gen.id, self.worker)
            )
            return "cancelled"
        except Exception as exc:
            if ctx.lease_lost:
                return "lost"
            await events.engine_ran()
            return await self._attempt_failed(exc)
        # The engine's work is done and sound; from here on only an outage can get in the way,
        # and an outage delays the job but never fails it.
        output = await self._finish(
            "store the video", lambda: upload(self.storage, gen.id, result, info, thumb)
        )
        if output is None:
            return await self._hand_back()
        ending = await self._finish(
            "mark the job completed",
            lambda: self.queue.complete(
                gen.id, self.worker, output, announce=gen.facts.wants("completed")
            ),
        )
        if ending is None:
            return await self._hand_back()
        if ending is Ending.CANCELLED:
            # A cancel (or a delete) was accepted after the engine's last check and before
            # the completion: the cancel won, so the video it will never be charged for goes.
            await remove_outputs(self.storage, gen.id)
        return ending.value

    async def _attempt_failed(self, exc: Exception) -> str:
        claimed = self.claimed
        gen = claimed.generation
        error = _as_engine_error(exc)
        if self.policy.should_retry(exc, claimed.attempt, claimed.max_attempts):
            delay = self.policy.delay(claimed.attempt)
            log.warning(
                "attempt failed; will retry",
                exc_info=not isinstance(exc, EngineError),
                extra={"error": error.name, "detail": error.message, "retry_in": round(delay, 2)},
            )
            ending = await self._finish(
                "queue the retry",
                lambda: self.queue.retry_later(gen.id, self.worker, delay_seconds=delay),
            )
            return ending.value if ending is not None else "lost"
        log.error(
            "job failed",
            exc_info=not isinstance(exc, EngineError),
            extra={"error": error.name, "detail": error.message},
        )
        ending = await self._finish(
            "record the failure",
            lambda: self.queue.fail(gen.id, self.worker, error.name, error.message),
        )
        return ending.value if ending is not None else "lost"

    async def _finish(self, what: str, step: Callable[[], Awaitable[T]]) -> T | None:
        """Run one job-ending write through outages (see ``worker.persist``)."""
        ctx = self.ctx
        started = time.monotonic()

        def give_up() -> bool:
            # A shutdown past its grace stops retrying after the first failure: the lease then
            # runs out and another worker picks the job up, instead of this process hanging on.
            return ctx.lease_lost or (ctx.releasing and time.monotonic() - started > 1.0)

        return await persist(
            what, step, give_up=give_up, deadline_seconds=self.settings.job_timeout_seconds
        )

    async def _hand_back(self) -> str:
        """The video could not be stored or recorded in time: if the database still answers,
        queue the job again (the attempt counts, so an endless outage ends in error once the
        attempts are used up); if not, its lease runs out and the reaper does the same."""
        if self.ctx.lease_lost:
            return "lost"
        job_id = self.claimed.generation.id
        delay = self.policy.delay(1)
        try:
            ending = await self.queue.retry_later(job_id, self.worker, delay_seconds=delay)
        except Exception:
            log.warning("could not hand the job back; its lease will expire", exc_info=True)
            return "lost"
        if ending is Ending.CANCELLED:
            await remove_outputs(self.storage, job_id)
        return ending.value

    async def _heartbeat(
        self, engine_task: asyncio.Task[EngineResult], events: ProgressEvents
    ) -> None:
        ctx = self.ctx
        job_id = self.claimed.generation.id
        interval = min(1.0, self.settings.lease_seconds / 3)
        failures = 0
        cancelled_at: float | None = None
        # Each attempt starts from 0: after a crash, earlier hooks wake the resumed poll once
        # more, which costs one poll and nothing else.
        pokes_seen = 0
        # Runs until run() cancels it, after the job is settled.
        while True:
            await asyncio.sleep(interval)
            try:
                beat = await self.queue.heartbeat(
                    job_id,
                    self.worker,
                    lease_seconds=self.settings.lease_seconds,
                    progress=ctx.progress,
                    waiting=ctx.waiting,
                )
                if failures:
                    log.info("heartbeat is back", extra={"failures": failures})
                failures = 0
                if beat.owned:
                    await events.update(ctx.progress, ctx.waiting)
                if not beat.owned:
                    log.warning("lease lost; stopping the job")
                    ctx.stop(lease_lost=True)
                    return
                if beat.cancel_requested and not ctx.cancelled and not engine_task.done():
                    log.info("cancel requested; stopping the engine")
                    ctx.stop()
                if beat.pokes > pokes_seen:
                    pokes_seen = beat.pokes
                    ctx.poke()
            except Exception:
                # The database may be restarting. The lease is not presumed lost: every write
                # is fenced on it, so carrying on is safe, and the database will say "not
                # yours" if another worker took the job meanwhile.
                failures += 1
                log.warning("heartbeat failed", exc_info=failures == 1)
            if ctx.cancelled and not engine_task.done():
                cancelled_at = cancelled_at or time.monotonic()
                if time.monotonic() - cancelled_at > CANCEL_GRACE_SECONDS:
                    engine_task.cancel()


def _as_engine_error(exc: BaseException) -> EngineError:
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, TimeoutError):
        return EngineError("The generation took longer than the time allowed.", name="Timeout")
    # Never show a client a stack trace or an internal message; the log has both.
    return EngineError(
        "The engine failed unexpectedly; the error was logged.", name="InternalError"
    )

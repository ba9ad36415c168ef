"""The worker: claim a job, run its engine, store the video, finish the job.

One ``Worker`` runs ``concurrency`` slots in one process. Each slot loops: claim (one statement,
see ``store.jobs``), run the engine while a heartbeat renews the lease, records progress and
watches for a cancel, then store the output under the job's own key and mark it completed, all
conditioned on still holding the lease. The worker also reaps expired leases, so a job whose
worker died is queued again (or failed, refunded, once out of attempts) without any operator.

An outage of the database or the bucket never fails a job: the heartbeat keeps trying (and the
engine keeps working) until the database answers, and the writes that end a job are retried
through the outage (``worker.persist``). Only the database saying "this lease is no longer
yours" stops a job early.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from vidgen.core.engine import Engine, EngineContext, EngineJob, EngineResult
from vidgen.core.jobs import ClaimedJob, Ending
from vidgen.core.models import VideoInfo, VideoOutput
from vidgen.core.ports import JobQueue, WebhookOutbox
from vidgen.core.storage import Storage, remove_outputs, thumbnail_key, video_key
from vidgen.errors import EngineError, JobCancelled, RetryableEngineError, ServiceUnavailable
from vidgen.logs import generation_id_var, request_id_var
from vidgen.media.video import probe_video, write_thumbnail
from vidgen.metrics import JOB_DURATION, JOB_OUTCOMES, JOB_QUEUE_WAIT, JOBS_RUNNING
from vidgen.settings import Settings
from vidgen.worker.events import ProgressEvents
from vidgen.worker.persist import persist
from vidgen.worker.policy import RetryPolicy

__all__ = ["JobContext", "Worker", "default_worker_name", "reap_expired_leases"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long an engine may ignore a cancel before its task is cancelled outright.
CANCEL_GRACE_SECONDS = 10.0


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class JobContext(EngineContext):
    """The context handed to an engine. Thread-safe where the interface says so."""

    def __init__(self, scratch_dir: Path, state: Mapping[str, Any], save: Any) -> None:
        self.scratch_dir = scratch_dir
        self.state = dict(state)
        self._save = save
        self._progress = 0.0
        self.waiting = False
        self._lock = threading.Lock()
        self._cancel = threading.Event()
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

    def stop(self, *, lease_lost: bool = False, releasing: bool = False) -> None:
        self.lease_lost = self.lease_lost or lease_lost
        self.releasing = self.releasing or releasing
        self._cancel.set()

    async def save_state(self, **state: Any) -> None:
        self.state.update(state)
        if not await self._save(self.state):
            self.stop(lease_lost=True)
            raise JobCancelled("The lease on this job was lost.")


class Worker:
    def __init__(
        self,
        *,
        store: JobQueue,
        storage: Storage,
        engines: Mapping[str, Engine],
        settings: Settings,
        name: str | None = None,
        models: Collection[str] | None = None,
        concurrency: int | None = None,
        policy: RetryPolicy | None = None,
        webhooks: WebhookOutbox | None = None,
    ) -> None:
        self.store = store
        self.webhooks = webhooks
        self.storage = storage
        self.engines = dict(engines)
        self.settings = settings
        self.name = name or default_worker_name()
        self.models = set(models) if models else None
        self.concurrency = concurrency or settings.worker_concurrency
        self.policy = policy or RetryPolicy()
        self.scratch_root = settings.data_dir / "scratch"
        self._stopping = asyncio.Event()
        self._running: dict[str, JobContext] = {}
        self._scratch_dirs: list[Path] = []  # emptied, ready for the next job
        self._idle = asyncio.Event()
        self._idle.set()

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until ``stop()``; then wait for the jobs in hand (see ``shutdown``)."""
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        await self.store.wakeup.start(self.models)
        log.info(
            "worker started",
            extra={
                "worker": self.name,
                "concurrency": self.concurrency,
                "engines": sorted(self.engines),
                "models": sorted(self.models) if self.models else "all",
            },
        )
        tasks = [asyncio.create_task(self._slot(i)) for i in range(self.concurrency)]
        tasks.append(asyncio.create_task(self._reaper()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            while self._scratch_dirs:
                shutil.rmtree(self._scratch_dirs.pop(), ignore_errors=True)
            log.info("worker stopped", extra={"worker": self.name})

    def stop(self) -> None:
        """Stop claiming. Jobs in hand run to their end."""
        self._stopping.set()
        self.store.wakeup.notify()

    async def shutdown(self, grace_seconds: float) -> None:
        """Stop claiming; after ``grace_seconds`` hand every job still running back to the
        queue (the attempt does not count), so that a stop never loses or fails a job."""
        self.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace_seconds)
        for ctx in list(self._running.values()):
            ctx.stop(releasing=True)

    @property
    def busy(self) -> int:
        return len(self._running)

    # -- loops -----------------------------------------------------------------------------

    async def _slot(self, index: int) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                claimed = await self.store.claim_next(
                    self.name,
                    lease_seconds=self.settings.lease_seconds,
                    models=self.models,
                    engines=self.engines.keys(),
                )
                failures = 0
            except Exception as exc:
                # The database may be restarting: keep trying, with backoff, without exiting.
                failures += 1
                log.warning(
                    "claim failed; retrying",
                    exc_info=failures == 1 and not isinstance(exc, ServiceUnavailable),
                    extra={"worker": self.name, "error": repr(exc), "failures": failures},
                )
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            if claimed is None:
                await self.store.wakeup.wait(self.settings.poll_interval)
                continue
            try:
                await self.execute(claimed)
            except Exception:
                # Never lose the slot: whatever happened, the job's lease runs out and another
                # attempt picks it up.
                log.exception("job ended with an unexpected error", extra={"worker": self.name})

    async def _reaper(self) -> None:
        await reap_expired_leases(
            self.store, self.storage, self.settings.lease_seconds, self._stopping
        )

    # -- one job ---------------------------------------------------------------------------

    async def execute(self, claimed: ClaimedJob) -> str:
        """Run one claimed job to an outcome: completed, failed, cancelled, retried, released
        or lost (the lease went to another worker)."""
        gen = claimed.generation
        gen_token = generation_id_var.set(gen.id)
        req_token = request_id_var.set(gen.facts.request_id)
        engine = self.engines[gen.engine]
        if claimed.attempt == 1:
            JOB_QUEUE_WAIT.labels(gen.model).observe(
                (datetime.now(UTC) - gen.created_at).total_seconds()
            )
        scratch = self._scratch_dirs.pop() if self._scratch_dirs else self._new_scratch_dir()

        async def save(state: dict[str, Any]) -> bool:
            return await self.store.save_engine_state(gen.id, self.name, state)

        ctx = JobContext(scratch, claimed.engine_state, save)
        self._running[gen.id] = ctx
        self._idle.clear()
        JOBS_RUNNING.labels(gen.engine).inc()
        started = time.monotonic()
        log.info("job started", extra={"attempt": claimed.attempt, "engine": gen.engine})
        outcome = "failed"
        try:
            engine_task = asyncio.create_task(self._generate(engine, claimed, ctx))
            events = ProgressEvents(self.webhooks, gen)
            # The heartbeat runs until the job is settled, not only while the engine runs: the
            # lease must stay ours while the video is stored (which may wait out an outage).
            heartbeat = asyncio.create_task(self._heartbeat(gen.id, ctx, engine_task, events))
            try:
                outcome = await self._settle(claimed, ctx, engine_task, events)
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
        finally:
            elapsed = time.monotonic() - started
            self._running.pop(gen.id, None)
            if not self._running:
                self._idle.set()
            JOBS_RUNNING.labels(gen.engine).dec()
            JOB_OUTCOMES.labels(gen.model, gen.engine, outcome).inc()
            JOB_DURATION.labels(gen.model, gen.engine, outcome).observe(elapsed)
            self._give_back_scratch_dir(scratch)
            log.info("job %s", outcome, extra={"seconds": round(elapsed, 3), "engine": gen.engine})
            generation_id_var.reset(gen_token)
            request_id_var.reset(req_token)
        return outcome

    def _new_scratch_dir(self) -> Path:
        self.scratch_root.mkdir(parents=True, exist_ok=True)  # also for execute() on its own
        return Path(tempfile.mkdtemp(prefix="job-", dir=self.scratch_root))

    def _give_back_scratch_dir(self, scratch: Path) -> None:
        """Empty a job's scratch dir and keep it for the next job (a job's outputs have
        usually been moved into storage already, so there is little or nothing to delete):
        creating and removing a directory per job cost more than the rest of a no-op job's
        file handling on some disks. Kept only when emptied; at most one per slot."""
        try:
            for entry in list(scratch.iterdir()):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink(missing_ok=True)
            keep = len(self._scratch_dirs) < self.concurrency and not any(scratch.iterdir())
        except OSError:
            keep = False
        if keep:
            self._scratch_dirs.append(scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    async def _generate(self, engine: Engine, claimed: ClaimedJob, ctx: JobContext) -> EngineResult:
        gen = claimed.generation
        inputs = claimed.inputs
        if inputs is None:
            inputs = await persist(
                "load the inputs",
                lambda: self.store.load_inputs(gen.id),
                give_up=lambda: ctx.cancelled,
                deadline_seconds=self.settings.job_timeout_seconds,
            )
        if inputs is None:
            ctx.raise_if_cancelled()
            raise RetryableEngineError(
                "The job's input images could not be read.", name="InputsUnavailable"
            )
        job = EngineJob(
            id=gen.id,
            model=gen.model,
            prompt=gen.prompt,
            aspect_ratio=gen.aspect_ratio,
            width=gen.width,
            height=gen.height,
            fps=gen.fps,
            duration=gen.duration,
            frame_count=gen.frames,
            seed=gen.seed,
            first_image=inputs.get("first"),
            last_image=inputs.get("last"),
            attempt=claimed.attempt,
            state=dict(claimed.engine_state),
        )
        return await asyncio.wait_for(
            engine.generate(job, ctx), timeout=self.settings.job_timeout_seconds
        )

    async def _settle(
        self,
        claimed: ClaimedJob,
        ctx: JobContext,
        engine_task: asyncio.Task[EngineResult],
        events: ProgressEvents,
    ) -> str:
        gen = claimed.generation
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
            info, thumb = await self._check_output(result)
        except (JobCancelled, asyncio.CancelledError) as exc:
            if ctx.lease_lost:
                return "lost"
            if ctx.releasing:
                await self._finish(
                    "hand the job back", ctx, lambda: self.store.release(gen.id, self.name)
                )
                return "released"
            if isinstance(exc, asyncio.CancelledError) and not ctx.cancelled:
                raise
            await self._finish(
                "end the cancelled job",
                ctx,
                lambda: self.store.finish_cancelled(gen.id, self.name),
            )
            return "cancelled"
        except Exception as exc:
            if ctx.lease_lost:
                return "lost"
            await events.engine_ran()
            return await self._attempt_failed(claimed, ctx, exc)
        # The engine's work is done and sound; from here on only an outage can get in the way,
        # and an outage delays the job but never fails it.
        output = await self._finish(
            "store the video", ctx, lambda: self._upload(gen.id, result, info, thumb)
        )
        if output is None:
            return await self._hand_back(gen.id, ctx)
        ending = await self._finish(
            "mark the job completed",
            ctx,
            lambda: self.store.complete(
                gen.id, self.name, output, announce=gen.facts.wants("completed")
            ),
        )
        if ending is None:
            return await self._hand_back(gen.id, ctx)
        if ending is Ending.CANCELLED:
            # A cancel (or a delete) was accepted after the engine's last check and before
            # the completion: the cancel won, so the video it will never be charged for goes.
            await self._remove_outputs(gen.id)
        return ending.value

    async def _attempt_failed(self, claimed: ClaimedJob, ctx: JobContext, exc: Exception) -> str:
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
                ctx,
                lambda: self.store.retry_later(gen.id, self.name, delay_seconds=delay),
            )
            return ending.value if ending is not None else "lost"
        log.error(
            "job failed",
            exc_info=not isinstance(exc, EngineError),
            extra={"error": error.name, "detail": error.message},
        )
        ending = await self._finish(
            "record the failure",
            ctx,
            lambda: self.store.fail(gen.id, self.name, error.name, error.message),
        )
        return ending.value if ending is not None else "lost"

    async def _finish(
        self, what: str, ctx: JobContext, step: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Run one job-ending write through outages (see ``worker.persist``)."""
        started = time.monotonic()

        def give_up() -> bool:
            # A shutdown past its grace stops retrying after the first failure: the lease then
            # runs out and another worker picks the job up, instead of this process hanging on.
            return ctx.lease_lost or (ctx.releasing and time.monotonic() - started > 1.0)

        return await persist(
            what, step, give_up=give_up, deadline_seconds=self.settings.job_timeout_seconds
        )

    async def _hand_back(self, job_id: str, ctx: JobContext) -> str:
        """The video could not be stored or recorded in time: if the database still answers,
        queue the job again (the attempt counts, so an endless outage ends in error once the
        attempts are used up); if not, its lease runs out and the reaper does the same."""
        if ctx.lease_lost:
            return "lost"
        delay = self.policy.delay(1)
        try:
            ending = await self.store.retry_later(job_id, self.name, delay_seconds=delay)
        except Exception:
            log.warning("could not hand the job back; its lease will expire", exc_info=True)
            return "lost"
        if ending is Ending.CANCELLED:
            await self._remove_outputs(job_id)
        return ending.value

    async def _remove_outputs(self, job_id: str) -> None:
        await remove_outputs(self.storage, job_id)

    async def _heartbeat(
        self,
        job_id: str,
        ctx: JobContext,
        engine_task: asyncio.Task[EngineResult],
        events: ProgressEvents,
    ) -> None:
        interval = min(1.0, self.settings.lease_seconds / 3)
        failures = 0
        cancelled_at: float | None = None
        # Runs until execute() cancels it, after the job is settled.
        while True:
            await asyncio.sleep(interval)
            try:
                beat = await self.store.heartbeat(
                    job_id,
                    self.name,
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

    async def _check_output(self, result: EngineResult) -> tuple[VideoInfo, Path]:
        """Probe the engine's file and cut its thumbnail: failures here are the engine's."""
        if not result.path.is_file() or result.path.stat().st_size == 0:
            raise EngineError("The engine produced no video file.", name="BadOutput")
        info = result.info
        if info is None:
            info = await asyncio.to_thread(probe_video, result.path)
        if result.thumbnail is not None and result.thumbnail.is_file():
            return info, result.thumbnail
        thumb = result.path.with_name("thumbnail.jpg")
        await asyncio.to_thread(write_thumbnail, result.path, info.frame_count, thumb)
        return info, thumb

    async def _upload(
        self, job_id: str, result: EngineResult, info: VideoInfo, thumb: Path
    ) -> VideoOutput:
        """Store the video and its thumbnail under the job's own keys (a retry overwrites)."""
        key = video_key(job_id)
        # Both files are in this attempt's scratch dir, which goes when the job settles: the
        # storage may take them over (local storage renames them into place).
        size, _ = await self.storage.put_files(
            [(key, result.path, result.media_type), (thumbnail_key(job_id), thumb, "image/jpeg")],
            consume=True,
        )
        return VideoOutput(
            key=key,
            media_type=result.media_type,
            size_bytes=size,
            width=info.width,
            height=info.height,
            fps=info.fps,
            frame_count=info.frame_count,
            duration=info.duration,
            thumbnail_key=thumbnail_key(job_id),
        )


async def reap_expired_leases(
    store: JobQueue, storage: Storage, lease_seconds: float, stop: asyncio.Event
) -> None:
    """Requeue (or end) jobs whose lease expired, every half lease, until ``stop`` is set.
    Every vidgen process runs this, API-only ones included, so a job whose worker died reads
    ``queued`` again within a lease and a half even while no worker is alive. A job that ends
    here (out of attempts, or cancelled) never completes, so any output its worker stored
    before dying is removed."""
    interval = max(0.5, lease_seconds / 2)
    while not stop.is_set():
        try:
            result = await store.requeue_expired()
            if result.requeued or result.failed:
                log.warning(
                    "expired leases reaped",
                    extra={"requeued": result.requeued, "failed": result.failed},
                )
            for job_id in result.failed:
                await remove_outputs(storage, job_id)
        except Exception as exc:
            log.warning(
                "reaping expired leases failed",
                exc_info=not isinstance(exc, ServiceUnavailable),
                extra={"error": repr(exc)},
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def _as_engine_error(exc: BaseException) -> EngineError:
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, TimeoutError):
        return EngineError("The generation took longer than the time allowed.", name="Timeout")
    # Never show a client a stack trace or an internal message; the log has both.
    return EngineError(
        "The engine failed unexpectedly; the error was logged.", name="InternalError"
    )

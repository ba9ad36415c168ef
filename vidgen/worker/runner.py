"""The worker: slots that claim jobs and run them, and the reaper of expired leases.

One ``Worker`` runs ``concurrency`` slots in one process. Each slot loops: claim a job (one
statement, see ``store.jobs``), run it to its outcome (``worker.job``: the engine under a
heartbeat, then the upload, ``worker.output``, and the ending, every write fenced on the lease),
and claim the next. Each job gets a scratch directory from the worker's pool
(``worker.scratch``). The worker also reaps expired leases, so a job whose worker died is queued
again (or failed, refunded, once out of attempts) without any operator, and beside that sweeps
expired uploads out of the storage every ``UPLOAD_SWEEP_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from vidgen.core.engine import Engine
from vidgen.core.jobs import ClaimedJob
from vidgen.core.ports import JobQueue, WebhookOutbox
from vidgen.core.storage import Storage, remove_outputs
from vidgen.errors import ServiceUnavailable
from vidgen.logs import generation_id_var, request_id_var
from vidgen.metrics import JOB_DURATION, JOB_OUTCOMES, JOB_QUEUE_WAIT, JOBS_RUNNING
from vidgen.settings import Settings
from vidgen.worker.job import JobContext, JobRun
from vidgen.worker.policy import RetryPolicy
from vidgen.worker.scratch import ScratchPool

__all__ = [
    "UPLOAD_SWEEP_SECONDS",
    "JobContext",
    "Sweep",
    "Worker",
    "default_worker_name",
    "reap_expired_leases",
]

log = logging.getLogger(__name__)

#: Removes expired uploads from the storage (``Uploads.sweep``; the worker cannot import the
#: service layer, so the wiring hands it over).
Sweep = Callable[[], Awaitable[object]]
#: How often expired uploads are swept: an upload is at most 64 MiB and lasts a day, so an hour
#: more in the storage costs little, and each sweep lists every upload (one S3 request a
#: thousand).
UPLOAD_SWEEP_SECONDS = 3600.0


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


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
        sweep_uploads: Sweep | None = None,
    ) -> None:
        self.store = store
        self.sweep_uploads = sweep_uploads
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
        self._scratch = ScratchPool(self.scratch_root, keep=self.concurrency)
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
            self._scratch.clear()
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
            self.store,
            self.storage,
            self.settings.lease_seconds,
            self._stopping,
            sweep_uploads=self.sweep_uploads,
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
        scratch = self._scratch.take()

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
            outcome = await JobRun(
                queue=self.store,
                storage=self.storage,
                settings=self.settings,
                worker=self.name,
                policy=self.policy,
                webhooks=self.webhooks,
                engine=engine,
                claimed=claimed,
                ctx=ctx,
            ).run()
        finally:
            elapsed = time.monotonic() - started
            self._running.pop(gen.id, None)
            if not self._running:
                self._idle.set()
            JOBS_RUNNING.labels(gen.engine).dec()
            JOB_OUTCOMES.labels(gen.model, gen.engine, outcome).inc()
            JOB_DURATION.labels(gen.model, gen.engine, outcome).observe(elapsed)
            self._scratch.give_back(scratch)
            log.info("job %s", outcome, extra={"seconds": round(elapsed, 3), "engine": gen.engine})
            generation_id_var.reset(gen_token)
            request_id_var.reset(req_token)
        return outcome


#: How often the reaper ends jobs past their Cancel-After deadline: a deadline is kept to
#: about this much (the query is one probe of ``ix_jobs_deadline``).
DEADLINE_CHECK_SECONDS = 1.0


async def reap_expired_leases(
    store: JobQueue,
    storage: Storage,
    lease_seconds: float,
    stop: asyncio.Event,
    *,
    sweep_uploads: Sweep | None = None,
) -> None:
    """Requeue (or end) jobs whose lease expired, every half lease, and end jobs past their
    Cancel-After deadline, every ``DEADLINE_CHECK_SECONDS``, until ``stop`` is set. Every
    vidgen process runs this, API-only ones included, so a job whose worker died reads
    ``queued`` again within a lease and a half even while no worker is alive. A job that ends
    here (out of attempts, cancelled, or overdue) never completes, so any output its worker
    stored is removed. ``sweep_uploads`` runs at once and then every ``UPLOAD_SWEEP_SECONDS``
    beside it (its own loop: a long listing never delays a deadline)."""
    if sweep_uploads is None:
        await _reap(store, storage, lease_seconds, stop)
    else:
        await asyncio.gather(
            _reap(store, storage, lease_seconds, stop), _sweep(sweep_uploads, stop)
        )


async def _sweep(sweep_uploads: Sweep, stop: asyncio.Event) -> None:
    # Several processes may sweep at once: each removes what it finds, and a key another
    # removed first is no error, so they need no coordination.
    while not stop.is_set():
        try:
            await sweep_uploads()
        except Exception as exc:
            log.warning(
                "sweeping expired uploads failed",
                exc_info=not isinstance(exc, ServiceUnavailable),
                extra={"error": repr(exc)},
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), UPLOAD_SWEEP_SECONDS)


async def _reap(
    store: JobQueue, storage: Storage, lease_seconds: float, stop: asyncio.Event
) -> None:
    interval = max(0.5, lease_seconds / 2)
    next_reap = 0.0
    while not stop.is_set():
        try:
            ended = await store.end_overdue()
            if ended:
                log.warning("deadlines exceeded", extra={"cancelled": ended})
            if time.monotonic() >= next_reap:
                next_reap = time.monotonic() + interval
                result = await store.requeue_expired()
                if result.requeued or result.failed:
                    log.warning(
                        "expired leases reaped",
                        extra={"requeued": result.requeued, "failed": result.failed},
                    )
                ended += result.failed
            for job_id in ended:
                await remove_outputs(storage, job_id)
        except Exception as exc:
            log.warning(
                "reaping expired leases failed",
                exc_info=not isinstance(exc, ServiceUnavailable),
                extra={"error": repr(exc)},
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), min(interval, DEADLINE_CHECK_SECONDS))

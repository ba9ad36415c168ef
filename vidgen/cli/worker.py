"""``vidgen worker``: a worker process with no HTTP, for the scale-out deployment.

It shares nothing with the API processes but the database (PostgreSQL) and the bucket: it claims
jobs of the models it serves, runs them, stores the videos, and also delivers webhooks and reaps
expired leases, as every vidgen process does. Start one per GPU or per provider pool.

SIGTERM or SIGINT stops it gracefully: no new claims; running jobs get
``VIDGEN_SHUTDOWN_GRACE_SECONDS`` to finish, and are then handed back to the queue (the attempt
does not count). A second signal hands them back at once. A job is never lost either way: even a
SIGKILL only leaves a lease that expires, and another worker takes the job.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vidgen.cli.options import DataDir, load_settings, require_database

if TYPE_CHECKING:
    from vidgen.settings import Settings
    from vidgen.worker.runner import Worker

__all__ = ["event_loop_runner", "run_worker", "worker"]

log = logging.getLogger("vidgen.worker")


def worker(
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            help="Comma-separated model ids (or aliases) this worker serves. Default: all.",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", min=1, help="Jobs run at once. [env: VIDGEN_WORKER_CONCURRENCY]"
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Shown as the lease owner and in logs. Default: host-pid-random."
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run a worker (no HTTP): claim jobs, run engines, store videos, deliver webhooks."""
    settings = load_settings(data_dir=data_dir, worker_concurrency=concurrency)
    # Imported here, as in `serve`: the client commands must not load the server stack.
    from vidgen.configuration import ConfigurationError, check_configuration, served_models
    from vidgen.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    # A worker migrates PostgreSQL on start, as every process does; a SQLite file it would have
    # to create means it was pointed at the wrong place: no server shares it.
    require_database(settings)
    wanted = [m.strip() for m in models.split(",") if m.strip()] if models else None
    try:
        catalog, _ = check_configuration(settings, wanted)
        served = [spec.id for spec in served_models(catalog, wanted)] if wanted else None
    except ConfigurationError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc
    event_loop_runner()(run_worker(settings, served, name))


def event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """``uvloop.run`` where uvloop is installed (uvicorn[standard] brings it everywhere but on
    Windows), as ``vidgen serve`` gets through uvicorn: a worker's per-job cost is mostly event
    loop turns around database round trips, and uvloop's are several times cheaper."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


async def run_worker(settings: Settings, models: list[str] | None, name: str | None) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully (see the module docstring)."""
    from vidgen.wiring import Runtime

    stopping = asyncio.Event()
    signals = 0
    worker: Worker | None = None

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.info("stopping: running jobs may finish", extra={"signal": signum})
            stopping.set()
        elif worker is not None:
            log.warning("stopping now: handing running jobs back", extra={"signal": signum})
            asyncio.get_running_loop().create_task(worker.shutdown(0))

    # Before anything else, so that a signal during start-up is a graceful stop too.
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    runtime = await Runtime.start(settings, models=models)
    worker = runtime.worker(name=name, models=models)
    dispatcher = runtime.webhook_dispatcher()
    worker_task = asyncio.create_task(worker.run())
    dispatcher_task = asyncio.create_task(dispatcher.run())
    stop_task = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({worker_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        await worker.shutdown(settings.shutdown_grace_seconds)
        await worker_task
    finally:
        stop_task.cancel()
        dispatcher.stop()
        await dispatcher_task
        await runtime.aclose()
        log.info("worker exited", extra={"worker": worker.name})

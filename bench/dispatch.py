"""Dispatch throughput and claim latency: how fast the queue moves jobs, with the no-op engine.

For each database (SQLite in WAL mode; PostgreSQL 15 from Debian, started here on loopback with
its default durable settings) and each number of worker processes (``vidgen worker``, 4 slots
each), on one machine:

- **throughput**: ``--jobs`` jobs are created as fast as ``--producers`` concurrent producers
  can, and the figure is jobs / (last finished_at − first created_at): create to completed,
  end to end, every job stored (a tiny MP4 and its thumbnail in local storage), charged and
  completed in the database.
- **claim latency**: ``--latency-jobs`` jobs created one at a time at ``--rate`` per second
  (well under capacity, so no queue builds up); p50 and p99 of started_at − created_at, from
  queued to generating. On PostgreSQL with and without LISTEN/NOTIFY (``VIDGEN_PG_LISTEN``):
  without it a worker finds a job at its next poll (``VIDGEN_POLL_INTERVAL``, default 1 s).

"Create" is the service call every API dialect makes (``GenerationService.submit``: validation,
pricing, the insert with its charge and NOTIFY, in one transaction), made from this process;
HTTP parsing and rendering are not included (``bench/poll_throughput.py`` measures the HTTP
layer). Requests are text-only, so no image is decoded. Timestamps come from the database rows,
written by the creating and the working processes on the same clock.

    python bench/dispatch.py [--jobs 2000] [--workers 1,2,4] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import postgres_cluster  # noqa: E402
from vidgen.cli.worker import event_loop_runner  # noqa: E402
from vidgen.core.models import GenerationRequest  # noqa: E402
from vidgen.settings import Settings  # noqa: E402
from vidgen.store.tables import jobs  # noqa: E402
from vidgen.wiring import Runtime  # noqa: E402

SLOTS_PER_WORKER = 4
# A model that takes a prompt alone (Runway's models need a first image since 2026-12), routed
# to the no-op engine: the queue's cost, not an image capture's, is what is measured.
MODEL = "ltx-2.3-distilled"


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(count):
        log = (logs / f"worker-{i}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "vidgen.cli.main",
                    "worker",
                    "--name",
                    f"bench-{i}",
                    "--concurrency",
                    str(SLOTS_PER_WORKER),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all("worker started" in (logs / f"worker-{i}.log").read_text() for i in range(count)):
            return procs
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a worker exited: {(logs / 'worker-0.log').read_text()[-2000:]}")
        time.sleep(0.1)
    raise SystemExit("workers did not start")


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def wait_done(runtime: Runtime, key_id: str, total: int, timeout: float = 600) -> None:
    """Until the key has ``total`` completed jobs. Counted through the key's index range: a
    count over ``id IN (…a thousand ids…)`` cost the database ~30 ms every 50 ms, CPU that the
    workers being measured then lacked."""
    query = select(func.count()).where(jobs.c.key_id == key_id, jobs.c.status == "completed")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await runtime.db.read(lambda conn: conn.execute(query).scalar_one()) >= total:
            return
        await asyncio.sleep(0.05)
    raise SystemExit("jobs did not complete in time")


async def rows(runtime: Runtime, ids: list[str]) -> list[Any]:
    query = select(jobs.c.created_at, jobs.c.started_at, jobs.c.finished_at).where(
        jobs.c.id.in_(ids)
    )
    return list(await runtime.db.read(lambda conn: conn.execute(query).all()))


async def measure(settings: Settings, args: argparse.Namespace) -> dict[str, float]:
    runtime = await Runtime.start(settings)
    key, _ = await runtime.keys.create("bench")
    # One seed: the noop engine encodes each (shape, seed shade) once per process and then only
    # copies it, so that what is measured is the queue, not x264.
    request = GenerationRequest(model=MODEL, prompt="bench", duration=5, seed=1)

    async def create() -> str:
        return (await runtime.service.generations.submit(key, request)).generation.id

    try:
        # Warm up: the workers' first job encodes the noop clip; connections open.
        done = 8
        for _ in range(done):
            await create()
        await wait_done(runtime, key.id, done)

        queue: asyncio.Queue[None] = asyncio.Queue()
        for _ in range(args.jobs):
            queue.put_nowait(None)
        ids: list[str] = []

        async def producer() -> None:
            while not queue.empty():
                queue.get_nowait()
                ids.append(await create())

        await asyncio.gather(*(producer() for _ in range(args.producers)))
        done += len(ids)
        await wait_done(runtime, key.id, done)
        found = await rows(runtime, ids)
        span = (
            max(r.finished_at for r in found) - min(r.created_at for r in found)
        ).total_seconds()
        created = (
            max(r.created_at for r in found) - min(r.created_at for r in found)
        ).total_seconds()

        latency_ids = []
        for _ in range(args.latency_jobs):
            latency_ids.append(await create())
            await asyncio.sleep(1 / args.rate)
        done += len(latency_ids)
        await wait_done(runtime, key.id, done)
        waits = sorted(
            (r.started_at - r.created_at).total_seconds() * 1000
            for r in await rows(runtime, latency_ids)
        )
        return {
            "jobs_per_s": len(ids) / span,
            "creates_per_s": len(ids) / created if created else float("nan"),
            "p50_ms": statistics.median(waits),
            "p99_ms": waits[min(len(waits) - 1, round(0.99 * (len(waits) - 1)))],
        }
    finally:
        await runtime.aclose()


async def prepare(settings: Settings) -> None:
    runtime = await Runtime.start(settings)
    await runtime.aclose()


def run_case(
    backend: str, workers: int, listen: bool, database_url: str, args: argparse.Namespace
) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="vidgen-bench-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGEN_")}
        env.update(
            VIDGEN_DATA_DIR=str(tmp / "data"),
            VIDGEN_DATABASE_URL=database_url or f"sqlite:///{tmp / 'data' / 'vidgen.db'}",
            VIDGEN_ROUTES=f"{MODEL}=noop",
            VIDGEN_PG_LISTEN="true" if listen else "false",
            VIDGEN_RATE_LIMIT_PER_MINUTE="0",
            VIDGEN_LOG_LEVEL=args.log_level,
        )
        os.environ.update({k: v for k, v in env.items() if k.startswith("VIDGEN_")})
        settings = Settings()
        # Migrate (and create the data dir) before the workers race to do it.
        asyncio.run(prepare(settings))
        procs = start_workers(workers, env, tmp)
        try:
            return event_loop_runner()(measure(settings, args))
        finally:
            stop_workers(procs)
    finally:
        for name in list(os.environ):
            if name.startswith("VIDGEN_"):
                del os.environ[name]
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--producers", type=int, default=16)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="paced creates per second")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(
        f"# {platform.node()} · {os.cpu_count()} cores · {platform.python_version()} · "
        f"load {os.getloadavg()[0]:.2f} · {time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(f"# {args.jobs} jobs, {args.producers} producers, {SLOTS_PER_WORKER} slots per worker")
    print(
        "| database | wake-ups | workers | jobs/s create→completed | creates/s | claim p50 (ms) | claim p99 (ms) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for backend in args.backends.split(","):
        cases = [(True, n) for n in counts]
        if backend == "postgresql":
            cases += [(False, max(counts))]  # polling only, for the ratio
        if backend == "postgresql":
            with postgres_cluster(durable=True) as cluster:
                for listen, n in cases:
                    url = cluster.create_database()
                    result = run_case(backend, n, listen, url, args)
                    report(backend, "NOTIFY" if listen else "polling", n, result)
        else:
            for _, n in cases:
                report(backend, "polling", n, run_case(backend, n, False, "", args))


def report(backend: str, wakeups: str, workers: int, r: dict[str, float]) -> None:
    print(
        f"| {backend} | {wakeups} | {workers} | {r['jobs_per_s']:.0f} | {r['creates_per_s']:.0f} "
        f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |",
        flush=True,
    )


if __name__ == "__main__":
    main()

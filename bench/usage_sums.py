"""Usage over a window: summed by the database (``store.usage_sql``, what ``GET /v1/usage``
runs) against the rows carried into the process and summed there (what it did before), on the
same SQLite file in the same run: time (best of rounds) and peak Python memory (tracemalloc).

The database holds N jobs over 30 days, each charged, one in ten failed and refunded, across 20
keys and 8 models; both sides answer the same report (totals and groups by day, with failures
and the median time to complete) and must agree.

    python bench/usage_sums.py [--jobs 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from vidgen.core.usage import UsageSums, UsageTable
from vidgen.store.db import Database
from vidgen.store.tables import api_keys, credit_ledger, jobs
from vidgen.store.usage_sql import usage_table

START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(days=30)


def fill(conn: Connection, count: int) -> None:
    rng = random.Random(7)
    keys = [f"k{i:02d}" for i in range(20)]
    conn.execute(
        insert(api_keys),
        [
            {"id": k, "name": k, "key_hash": k * 3, "key_prefix": k, "source": "cli"}
            | {"created_at": START}
            for k in keys
        ],
    )
    models = [f"maker/model-{i}" for i in range(8)]
    job_rows: list[dict[str, Any]] = []
    ledger_rows: list[dict[str, Any]] = []
    for i in range(count):
        created = START + timedelta(seconds=rng.uniform(0, 30 * 86400 - 3600))
        failed = i % 10 == 0
        finished = created + timedelta(seconds=rng.uniform(20, 600))
        job_id = str(uuid.UUID(int=rng.getrandbits(128)))
        key = rng.choice(keys)
        job_rows.append(
            {
                "id": job_id,
                "key_id": key,
                "model": rng.choice(models),
                "engine": "preview",
                "status": "failed" if failed else "completed",
                "dialect": "aimlapi",
                "kind": "image_to_video",
                "prompt": "p",
                "aspect_ratio": "16:9",
                "width": 1280,
                "height": 720,
                "duration": 5,
                "fps": 24,
                "frames": 120,
                "seed": 1,
                "credits": 8,
                "extras": {},
                "max_attempts": 3,
                "error_name": "ContentRejected" if failed else None,
                "output_frames": None if failed else 120,
                "output_fps": None if failed else 24.0,
                "created_at": created,
                "finished_at": finished,
                "updated_at": finished,
            }
        )
        ledger_rows.append(
            {
                "key_id": key,
                "job_id": job_id,
                "delta": -8,
                "reason": "charge",
                "created_at": created,
            }
        )
        if failed:
            ledger_rows.append(
                {
                    "key_id": key,
                    "job_id": job_id,
                    "delta": 8,
                    "reason": "refund",
                    "created_at": finished,
                }
            )
    for chunk in range(0, count, 20_000):
        conn.execute(insert(jobs), job_rows[chunk : chunk + 20_000])
    conn.execute(insert(credit_ledger), ledger_rows)


def in_sql(conn: Connection) -> tuple[UsageSums, UsageTable]:
    usage = usage_table(conn, "sqlite", None, START, END, ("day",), overall=True)
    return usage.totals, usage.groups


def in_process(conn: Connection) -> tuple[UsageSums, UsageTable]:
    """The rows, as the store handed them over before, summed in Python."""
    job_rows = conn.execute(
        select(
            jobs.c.key_id,
            jobs.c.id,
            jobs.c.model,
            jobs.c.status,
            jobs.c.error_name,
            jobs.c.output_frames,
            jobs.c.output_fps,
            jobs.c.created_at,
            jobs.c.finished_at,
        ).where(jobs.c.created_at >= START, jobs.c.created_at < END)
    ).all()
    ledger = conn.execute(
        select(credit_ledger.c.delta, credit_ledger.c.reason, credit_ledger.c.created_at).where(
            credit_ledger.c.created_at >= START, credit_ledger.c.created_at < END
        )
    ).all()
    totals = UsageSums()
    groups: UsageTable = {}
    took: dict[tuple[str, ...], list[float]] = {}
    for row in job_rows:
        day: tuple[str, ...] = (row.created_at.date().isoformat(),)
        for name, sums in (((), totals), (day, groups.setdefault(day, UsageSums()))):
            sums.jobs += 1
            if row.status == "completed":
                sums.completed += 1
                sums.seconds_of_video += row.output_frames / row.output_fps
                seconds = (row.finished_at - row.created_at).total_seconds()
                took.setdefault(name, []).append(seconds)
            else:
                sums.failed += 1
                sums.failures[row.error_name] += 1
    for delta, reason, created in ledger:
        day = (created.date().isoformat(),)
        for sums in (totals, groups.setdefault(day, UsageSums())):
            if reason == "charge":
                sums.credits_charged -= delta
            else:
                sums.credits_refunded += delta
    for group, times in took.items():
        target = totals if group == () else groups[group]
        target.median_seconds_to_complete = statistics.median(times)
    return totals, dict(sorted(groups.items()))


async def measure(
    db: Database, fn: Callable[[Connection], tuple[UsageSums, UsageTable]], rounds: int
) -> tuple[float, int, tuple[UsageSums, UsageTable]]:
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        answer = await db.read(fn)
        best = min(best, time.perf_counter() - began)
    tracemalloc.start()
    await db.read(fn)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, answer


def same(a: UsageSums, b: UsageSums) -> bool:
    """Equal, but for float sums in another order and SQLite's milliseconds in the median."""

    def plain(s: UsageSums) -> tuple[Any, ...]:
        return (s.jobs, s.completed, s.failed, s.credits_charged, s.credits_refunded, s.failures)

    def close(x: float | None, y: float | None, within: float) -> bool:
        if x is None or y is None:
            return x is None and y is None
        return abs(x - y) <= within

    return (
        plain(a) == plain(b)
        and close(a.seconds_of_video, b.seconds_of_video, 1e-6 * max(1.0, b.seconds_of_video))
        and close(a.median_seconds_to_complete, b.median_seconds_to_complete, 1e-3)
    )


async def run(count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await db.migrate()
        await db.write(lambda conn: fill(conn, count))
        sql_time, sql_peak, sql_answer = await measure(db, in_sql, rounds)
        py_time, py_peak, py_answer = await measure(db, in_process, rounds)
        await db.dispose()
    agree = same(sql_answer[0], py_answer[0]) and all(
        same(sql_answer[1][k], py_answer[1][k]) for k in py_answer[1]
    )
    print(f"{count} jobs over 30 days, SQLite; both answers agree: {agree}")
    print(f"summed in SQL:      {sql_time * 1000:8.0f} ms, peak {sql_peak / 2**20:8.1f} MiB")
    print(f"summed in process:  {py_time * 1000:8.0f} ms, peak {py_peak / 2**20:8.1f} MiB")
    print(
        f"ratios (in process / in SQL): time {py_time / sql_time:.1f}x, "
        f"memory {py_peak / sql_peak:.0f}x"
    )
    if not agree:
        raise SystemExit("the two sums differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.jobs, args.rounds))


if __name__ == "__main__":
    main()

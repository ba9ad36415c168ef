"""One store per test, behind the ports, on each backend: in memory (``vidgen.store.memory``),
SQLite in the test's directory, and PostgreSQL on loopback. A contract test sees only the ports
and ``Backend``'s few helpers, so whatever it asserts holds for all three.

Time: the memory store runs on a clock that stands still until a test moves it
(``Backend.pass_time``); the SQL stores read the real clock, so there the same call sleeps.
Tests use leases and delays of a fraction of a second and pass more than that: no test asserts
how long anything took. Where a test checks that a lease or a delay still holds, it is half a
second or more, longer than the few statements between setting it and checking it take on a
loaded machine."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from vidgen.core.facts import JobFacts, WebhookSubscription
from vidgen.core.jobs import NewJob
from vidgen.core.models import CapturedImage, VideoOutput
from vidgen.core.ports import GenerationRepository, JobQueue, WebhookOutbox
from vidgen.store.db import Database
from vidgen.store.generations import GenerationStore
from vidgen.store.jobs import JobStore
from vidgen.store.keys import KeyStore
from vidgen.store.memory import ManualClock, MemoryStore
from vidgen.store.notify import Wakeup
from vidgen.store.tables import credit_ledger
from vidgen.store.webhooks import WebhookStore

IMAGE = CapturedImage(
    data=b"\x89PNG...", media_type="image/png", width=64, height=36, sha256="0" * 64
)
OUTPUT = VideoOutput(
    key="videos/x.mp4",
    media_type="video/mp4",
    size_bytes=10,
    width=1280,
    height=720,
    fps=24.0,
    frame_count=120,
    duration=5.0,
)
HOOK = "https://hooks.example/vidgen"


def new_job(
    key_id: str,
    *,
    model: str = "runway/gen4_turbo",
    credits: int = 8,
    priority: int = 0,
    max_attempts: int = 3,
    image: CapturedImage | None = IMAGE,
    webhook_events: tuple[str, ...] | None = None,
) -> NewJob:
    facts = JobFacts(
        webhook=WebhookSubscription(url=HOOK, events=webhook_events)
        if webhook_events is not None
        else None
    )
    return NewJob(
        id=str(uuid.uuid4()),
        key_id=key_id,
        model=model,
        engine="preview",
        dialect="aimlapi",
        prompt="p",
        aspect_ratio="16:9",
        width=1280,
        height=720,
        duration=5,
        fps=24,
        frames=120,
        seed=7,
        credits=credits,
        max_attempts=max_attempts,
        first_image=image,
        last_image=None,
        priority=priority,
        facts=facts,
    )


@dataclass
class Backend:
    name: str
    generations: GenerationRepository
    jobs: JobQueue
    #: ``KeyStore`` or ``MemoryKeys``: the port's reads, plus create, grant and configure.
    keys: Any
    webhooks: WebhookOutbox
    #: One job's credit ledger, as sorted (reason, delta) pairs.
    ledger: Callable[[str], Awaitable[list[tuple[str, int]]]]
    now: Callable[[], datetime]
    pass_time: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        clock = ManualClock()
        store = MemoryStore(clock=clock)

        async def memory_ledger(job_id: str) -> list[tuple[str, int]]:
            return sorted((e.reason, e.delta) for e in store.ledger(job_id))

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        yield Backend(
            "memory",
            store.generations,
            store.jobs,
            store.keys,
            store.webhooks,
            memory_ledger,
            clock,
            advance,
        )
        return
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'q.db'}")
        await db.migrate()
    else:
        db = Database(request.getfixturevalue("pg_url"))

    async def sql_ledger(job_id: str) -> list[tuple[str, int]]:
        query = select(credit_ledger.c.reason, credit_ledger.c.delta).where(
            credit_ledger.c.job_id == job_id
        )
        rows = await db.read(lambda conn: conn.execute(query).all())
        return sorted((r.reason, r.delta) for r in rows)

    wakeup = Wakeup()
    yield Backend(
        request.param,
        GenerationStore(db, wakeup),
        JobStore(db, wakeup),
        KeyStore(db),
        WebhookStore(db),
        sql_ledger,
        lambda: datetime.now(UTC),
        asyncio.sleep,
    )
    await db.dispose()

"""One store per test, behind the ports, on each backend: in memory (``vidgen.store.memory``),
SQLite in the test's directory, and PostgreSQL on loopback. A contract test sees only the ports
and ``Backend``'s few helpers, so whatever it asserts holds for all three.

Time: every store runs on a clock that stands still until a test moves it
(``Backend.pass_time``): the memory store's own, and the ``Database`` clock that the SQL stores
read for every time they write or compare. So a lease, a retry delay or an Idempotency-Key
lifetime holds until the test moves time past it, however loaded the machine is, and no test
sleeps or asserts how long anything took."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
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
    #: One key's entries without a job (grants, adjustments): (reason, delta, note) in order.
    key_ledger: Callable[[str], Awaitable[list[tuple[str, int, str | None]]]]
    now: Callable[[], datetime]
    pass_time: Callable[[float], Awaitable[None]]


class TickingClock(ManualClock):
    """A manual clock that also moves one microsecond each time it is read, so that rows a test
    writes one after another have distinct times, in order, as real requests have (the SQL
    stores order rows by time; the memory store keeps insertion order)."""

    def __call__(self) -> datetime:
        self.advance(1e-6)
        return self.now


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    clock = TickingClock()

    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    if request.param == "memory":
        store = MemoryStore(clock=clock)

        async def memory_ledger(job_id: str) -> list[tuple[str, int]]:
            return sorted((e.reason, e.delta) for e in store.ledger(job_id))

        async def memory_key_ledger(key_id: str) -> list[tuple[str, int, str | None]]:
            return [
                (e.reason, e.delta, e.note)
                for e in store.ledger()
                if e.key_id == key_id and e.job_id is None
            ]

        yield Backend(
            "memory",
            store.generations,
            store.jobs,
            store.keys,
            store.webhooks,
            memory_ledger,
            memory_key_ledger,
            clock,
            advance,
        )
        return
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'q.db'}", clock=clock)
        await db.migrate()
    else:
        db = Database(request.getfixturevalue("pg_url"), clock=clock)

    async def sql_ledger(job_id: str) -> list[tuple[str, int]]:
        query = select(credit_ledger.c.reason, credit_ledger.c.delta).where(
            credit_ledger.c.job_id == job_id
        )
        rows = await db.read(lambda conn: conn.execute(query).all())
        return sorted((r.reason, r.delta) for r in rows)

    async def sql_key_ledger(key_id: str) -> list[tuple[str, int, str | None]]:
        query = (
            select(credit_ledger.c.reason, credit_ledger.c.delta, credit_ledger.c.note)
            .where(credit_ledger.c.key_id == key_id, credit_ledger.c.job_id.is_(None))
            .order_by(credit_ledger.c.id)
        )
        rows = await db.read(lambda conn: conn.execute(query).all())
        return [(r.reason, r.delta, r.note) for r in rows]

    wakeup = Wakeup()
    yield Backend(
        request.param,
        GenerationStore(db, wakeup),
        JobStore(db, wakeup),
        KeyStore(db),
        WebhookStore(db),
        sql_ledger,
        sql_key_ledger,
        clock,
        advance,
    )
    await db.dispose()

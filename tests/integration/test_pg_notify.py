"""LISTEN/NOTIFY wake-ups on a real PostgreSQL: a stored job wakes an idle worker slot at once,
only for the models that worker serves, and only once the storing transaction has committed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.integration.test_queue import new_job
from vidgen.store.db import Database
from vidgen.store.generations import GenerationStore
from vidgen.store.keys import KeyStore
from vidgen.store.notify import announce_job
from vidgen.store.pg_notify import PgWakeup, asyncpg_dsn


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    database = Database(pg_url)
    yield database
    await database.dispose()


@pytest.fixture
async def wakeup(pg_url: str) -> AsyncIterator[PgWakeup]:
    listener = PgWakeup(pg_url)
    await listener.start(models={"runway/gen4_turbo"})
    await asyncio.wait_for(listener.connected.wait(), 10)
    yield listener
    await listener.aclose()


async def _woken_within(wakeup: PgWakeup, seconds: float) -> bool:
    started = time.monotonic()
    await wakeup.wait(seconds)
    return time.monotonic() - started < seconds * 0.9


async def test_a_stored_job_wakes_a_listening_worker_at_once(
    db: Database, wakeup: PgWakeup
) -> None:
    key, _ = await KeyStore(db).create("a")
    generations = GenerationStore(db)  # another process, as far as the listener knows
    waiting = asyncio.create_task(_woken_within(wakeup, 5.0))
    await asyncio.sleep(0.05)
    await generations.create(new_job(key.id))
    assert await waiting


async def test_a_job_for_a_model_the_worker_does_not_serve_does_not_wake_it(
    db: Database, wakeup: PgWakeup
) -> None:
    key, _ = await KeyStore(db).create("a")
    waiting = asyncio.create_task(_woken_within(wakeup, 1.0))
    await asyncio.sleep(0.05)
    await GenerationStore(db).create(new_job(key.id, model="gen3a_turbo"))
    assert not await waiting


async def test_a_rolled_back_transaction_wakes_no_one(db: Database, wakeup: PgWakeup) -> None:
    class Abort(Exception):
        pass

    def announce_then_fail(conn: object) -> None:
        announce_job(conn, "runway/gen4_turbo", "never-stored")  # type: ignore[arg-type]
        raise Abort()

    waiting = asyncio.create_task(_woken_within(wakeup, 1.0))
    await asyncio.sleep(0.05)
    with pytest.raises(Abort):
        await db.write(announce_then_fail)
    assert not await waiting


def test_the_listener_dsn_keeps_only_what_asyncpg_understands() -> None:
    url = "postgresql+asyncpg://u:p%40ss@db.example:5433/vidgen?ssl=require&prepared_statement_cache_size=0"
    assert asyncpg_dsn(url) == "postgresql://u:p%40ss@db.example:5433/vidgen?ssl=require"

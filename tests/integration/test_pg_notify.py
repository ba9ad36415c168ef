"""LISTEN/NOTIFY wake-ups on a real PostgreSQL: a stored job wakes an idle worker slot at once,
only for the models that worker serves, and only once the storing transaction has committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.contract.conftest import new_job
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


# Longer than any test: a slot released before it ran out was woken by a notification.
POLL_SECONDS = 3600.0
#: How long a test waits for a wake-up before it fails (not a measure of speed).
PATIENCE = 20.0


def count_wakes(wakeup: PgWakeup, monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per notification that woke (or would have woken) a slot."""
    wakes: list[None] = []
    wake_one = wakeup.wake_one

    def counted() -> None:
        wakes.append(None)
        wake_one()

    monkeypatch.setattr(wakeup, "wake_one", counted)
    return wakes


async def test_a_stored_job_wakes_a_listening_worker_at_once(
    db: Database, wakeup: PgWakeup
) -> None:
    key, _ = await KeyStore(db).create("a")
    generations = GenerationStore(db)  # another process, as far as the listener knows
    waiting = asyncio.create_task(wakeup.wait(POLL_SECONDS))
    await asyncio.sleep(0.05)
    await generations.create(new_job(key.id))
    await asyncio.wait_for(waiting, PATIENCE)  # released by the job, not by the poll


async def test_a_job_for_a_model_the_worker_does_not_serve_does_not_wake_it(
    db: Database, wakeup: PgWakeup, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _ = await KeyStore(db).create("a")
    wakes = count_wakes(wakeup, monkeypatch)
    waiting = asyncio.create_task(wakeup.wait(POLL_SECONDS))
    await asyncio.sleep(0.05)
    await GenerationStore(db).create(new_job(key.id, model="gen3a_turbo"))
    # Then a job it serves: notifications arrive in commit order, so once this one has woken
    # the slot, the first one has been seen, and it must not have counted.
    await GenerationStore(db).create(new_job(key.id))
    await asyncio.wait_for(waiting, PATIENCE)
    assert len(wakes) == 1


async def test_a_rolled_back_transaction_wakes_no_one(
    db: Database, wakeup: PgWakeup, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Abort(Exception):
        pass

    def announce_then_fail(conn: object) -> None:
        announce_job(conn, "runway/gen4_turbo", "never-stored")  # type: ignore[arg-type]
        raise Abort()

    key, _ = await KeyStore(db).create("a")
    wakes = count_wakes(wakeup, monkeypatch)
    waiting = asyncio.create_task(wakeup.wait(POLL_SECONDS))
    await asyncio.sleep(0.05)
    with pytest.raises(Abort):
        await db.write(announce_then_fail)
    await GenerationStore(db).create(new_job(key.id))  # as above: this one alone may wake it
    await asyncio.wait_for(waiting, PATIENCE)
    assert len(wakes) == 1


def test_the_listener_dsn_keeps_only_what_asyncpg_understands() -> None:
    url = "postgresql+asyncpg://u:p%40ss@db.example:5433/vidgen?ssl=require&prepared_statement_cache_size=0"
    assert asyncpg_dsn(url) == "postgresql://u:p%40ss@db.example:5433/vidgen?ssl=require"

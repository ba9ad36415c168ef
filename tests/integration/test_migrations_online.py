"""Migrations that run while servers keep serving: on PostgreSQL an index on a big table is
built CONCURRENTLY, so creates and claims go on during the build (revision 0013)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tests.servers import PostgresCluster
from vidgen.store.db import Database, alembic_config
from vidgen.store.tables import api_keys, jobs

INDEXES = {"ix_jobs_created", "ix_jobs_status_created", "ix_credit_ledger_created"}
KEY_ID = uuid.uuid4().hex
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture
async def database(pg_cluster: PostgresCluster) -> AsyncIterator[tuple[Database, AsyncEngine]]:
    """A database at revision 0012 with a key and a few jobs, and an autocommit engine on it
    for the test's own sessions."""
    url = pg_cluster.create_database()
    db = Database(url)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        await db.migrate("0012")
        now = datetime.now(UTC)
        key = {
            "id": KEY_ID, "name": "k", "key_hash": "0" * 64, "key_prefix": "vg_k",
            "credits": None, "max_concurrency": None, "priority": 0, "source": "cli",
            "created_at": now,
        }  # fmt: skip
        async with engine.connect() as conn:
            await conn.execute(insert(api_keys).values(**key))
            await conn.execute(insert(jobs), [job_row() for _ in range(50)])
        yield db, engine
    finally:
        await engine.dispose()
        await db.dispose()


def job_row() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": str(uuid.uuid4()), "key_id": KEY_ID, "model": "runway/gen4_turbo",
        "engine": "preview", "status": "queued", "priority": 0, "dialect": "aimlapi",
        "kind": "image_to_video",
        "prompt": "p", "aspect_ratio": "16:9", "width": 1280, "height": 720, "duration": 5,
        "fps": 24, "frames": 120, "seed": 1, "credits": 8, "extras": {}, "progress": 0.0,
        "attempts": 0, "max_attempts": 3, "cancel_requested": False, "waiting": False,
        "turn": 0, "created_at": now, "updated_at": now,
    }  # fmt: skip


async def index_states(engine: AsyncEngine) -> dict[str, tuple[bool, str]]:
    """Each of the usage indexes there: whether it is valid, and its definition."""
    query = text(
        "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY(:names)"
    )
    async with engine.connect() as conn:
        rows = await conn.execute(query, {"names": sorted(INDEXES)})
    return {name: (valid, definition) for name, valid, definition in rows}


async def test_the_usage_indexes_are_built_valid_on_jobs_with_rows_and_undone_and_redone(
    database: tuple[Database, AsyncEngine],
) -> None:
    db, engine = database
    await db.migrate()
    built = await index_states(engine)
    assert {name: valid for name, (valid, _) in built.items()} == dict.fromkeys(INDEXES, True)
    await db.downgrade("0012")
    assert await index_states(engine) == {}
    await db.migrate()
    assert await index_states(engine) == built


async def test_an_index_build_that_failed_midway_is_built_again_by_the_next_upgrade(
    database: tuple[Database, AsyncEngine],
) -> None:
    db, engine = database
    # A CONCURRENTLY build that fails leaves its index behind, INVALID: here one under the
    # name the migration uses, failed on the duplicates a unique index cannot take.
    async with engine.connect() as conn:
        with pytest.raises(Exception, match="could not create unique index"):
            await conn.execute(
                text("CREATE UNIQUE INDEX CONCURRENTLY ix_jobs_created ON jobs (status)")
            )
    assert (await index_states(engine))["ix_jobs_created"][0] is False
    await db.migrate()
    valid, definition = (await index_states(engine))["ix_jobs_created"]
    assert valid
    assert definition.endswith("ON public.jobs USING btree (created_at)"), definition


async def locks_of_the_migration(observer: AsyncConnection) -> list[tuple[str, bool]]:
    """Once the migrating session (the one holding vidgen's advisory lock) waits for a lock,
    the locks it holds or waits for on ``jobs``."""
    waiting = text(
        "SELECT m.pid FROM pg_locks m WHERE m.locktype = 'advisory' AND m.granted "
        "AND EXISTS (SELECT 1 FROM pg_locks w WHERE w.pid = m.pid AND NOT w.granted)"
    )
    on_jobs = text(
        "SELECT mode, granted FROM pg_locks WHERE pid = :pid AND relation = 'jobs'::regclass"
    )
    for _ in range(600):
        pid = (await observer.execute(waiting)).scalar()
        if pid is not None:
            return [
                (mode, granted) for mode, granted in await observer.execute(on_jobs, {"pid": pid})
            ]
        await asyncio.sleep(0.05)
    raise AssertionError("the migration never waited for a lock")


async def test_creates_go_on_while_the_upgrade_builds_the_jobs_indexes(
    database: tuple[Database, AsyncEngine],
) -> None:
    db, engine = database
    transactional = engine.execution_options(isolation_level="READ COMMITTED")
    async with transactional.connect() as writer, engine.connect() as observer:
        # A create in flight as the upgrade starts: its transaction has written to jobs. Any
        # index build on jobs must wait for it to end, so the build is caught while it waits.
        in_flight = await writer.begin()
        await writer.execute(insert(jobs).values(**job_row()))
        upgrade = asyncio.create_task(db.migrate())
        try:
            # SHARE UPDATE EXCLUSIVE (CONCURRENTLY), held: not SHARE, which a plain CREATE
            # INDEX would wait for here, and every write after it would queue behind.
            assert await locks_of_the_migration(observer) == [("ShareUpdateExclusiveLock", True)]
            # Another create, from another session, meanwhile: it goes through, where behind a
            # SHARE request it would wait until lock_timeout refused it.
            await observer.execute(text("SET lock_timeout = '2s'"))
            await observer.execute(insert(jobs).values(**job_row()))
        finally:
            await in_flight.commit()
            await upgrade
    states = await index_states(engine)
    assert {name: valid for name, (valid, _) in states.items()} == dict.fromkeys(INDEXES, True)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM jobs"))).scalar_one() == 52


async def test_processes_that_start_together_on_an_empty_database_all_come_up_at_head(
    pg_cluster: PostgresCluster,
) -> None:
    # One migrates; the others wait their turn on the lock, then find nothing left to do. Had
    # they waited inside pg_advisory_lock, the first one's CREATE INDEX CONCURRENTLY would wait
    # for their snapshots as they waited for it, and PostgreSQL would end one as a deadlock.
    url = pg_cluster.create_database()
    starting = [Database(url) for _ in range(3)]
    try:
        await asyncio.gather(*(db.migrate() for db in starting))
        async with starting[0].async_engine.connect() as conn:
            heads = await conn.execute(text("SELECT version_num FROM alembic_version"))
            assert [head for (head,) in heads] == [HEAD]
    finally:
        for db in starting:
            await db.dispose()

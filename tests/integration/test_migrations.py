"""The migrated schema is exactly the schema the code declares, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert

from vidgen.store.db import Database, alembic_config
from vidgen.store.generations import GenerationStore
from vidgen.store.keys import KeyStore
from vidgen.store.tables import api_keys, jobs, metadata


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_migrated_schema_matches_the_table_definitions(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        # An empty database, not the session's migrated template: run every migration here.
        url = request.getfixturevalue("pg_cluster").create_database()
    db = Database(url)
    try:
        await db.migrate()
        await db.migrate()  # a second start finds nothing to do
        diff = await db.read(
            lambda conn: compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
        )
    finally:
        await db.dispose()
    assert diff == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_migrations_are_safe_to_run_again_on_a_migrated_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # PostgreSQL: a copy of the session's migrated template, as a restarted server finds it.
    url = (
        f"sqlite:///{tmp_path / 'm.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    db = Database(url)
    try:
        await db.migrate()
        await db.migrate()
    finally:
        await db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_jobs_stored_before_job_facts_read_as_version_1(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A job stored with the untyped extras of revision 0007 is rewritten to ``JobFacts`` v1:
    ``image_sources`` becomes ``sources``, ``apiframe_model`` goes, the rest is kept."""
    url = (
        f"sqlite:///{tmp_path / 'm.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_cluster").create_database()
    )
    db = Database(url)
    old_extras = {
        "request_id": "req-1",
        "base_url": "http://h.example",
        "image_sources": {"first": "data URI"},
        "images": {"first": {"media_type": "image/png", "width": 4, "height": 3, "sha256": "ab"}},
        "webhook": {"url": "https://hook.example/x", "events": ["completed", "failed"]},
        "apiframe_model": "runway-gen4-turbo",
    }
    try:
        await db.write(lambda conn: command.upgrade(alembic_config(conn), "0007"))
        now = datetime.now(UTC)
        # The key as revision 0007 stored it (today's KeyStore writes columns it lacks).
        key_row = {
            "id": uuid.uuid4().hex, "name": "old", "key_hash": "0" * 64, "key_prefix": "vg_old",
            "credits": None, "max_concurrency": None, "priority": 0, "source": "cli",
            "created_at": now,
        }  # fmt: skip
        await db.write(lambda conn: conn.execute(insert(api_keys).values(**key_row)))
        job_id = str(uuid.uuid4())
        row = {
            "id": job_id, "key_id": key_row["id"], "model": "runway/gen4_turbo", "engine": "preview",
            "status": "queued", "priority": 0, "dialect": "apiframe", "prompt": "p",
            "aspect_ratio": "16:9", "width": 1280, "height": 720, "duration": 5, "fps": 24,
            "frames": 120, "seed": 1, "credits": 8, "extras": old_extras, "progress": 0.0,
            "attempts": 0, "max_attempts": 3, "cancel_requested": False, "waiting": False,
            "turn": 0, "created_at": now, "updated_at": now,
        }  # fmt: skip
        await db.write(lambda conn: conn.execute(insert(jobs).values(**row)))
        await db.migrate()
        generation = await GenerationStore(db).get(job_id)
    finally:
        await db.dispose()
    assert generation is not None
    facts = generation.facts
    assert (facts.v, facts.request_id, facts.base_url) == (1, "req-1", "http://h.example")
    assert facts.sources == {"first": "data URI"}
    assert facts.images["first"].width == 4
    assert facts.webhook is not None and facts.wants("failed") and not facts.wants("started")
    assert generation.has_first_image


async def test_keys_stored_before_roles_are_client_keys_without_limits(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        await db.write(lambda conn: command.upgrade(alembic_config(conn), "0009"))
        key_row = {
            "id": uuid.uuid4().hex, "name": "old", "key_hash": "1" * 64, "key_prefix": "vg_old",
            "credits": 5, "max_concurrency": 2, "priority": 1, "source": "cli",
            "created_at": datetime.now(UTC),
        }  # fmt: skip
        await db.write(lambda conn: conn.execute(insert(api_keys).values(**key_row)))
        await db.migrate()
        key = await KeyStore(db).get(str(key_row["id"]))
    finally:
        await db.dispose()
    assert key is not None
    assert (key.role, key.credits, key.max_concurrency, key.priority) == ("client", 5, 2, 1)
    assert (key.rate_limit_per_minute, key.monthly_credit_limit) == (None, None)

"""The migrated schema is exactly the schema the code declares, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vidgen.store.db import Database
from vidgen.store.tables import metadata


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

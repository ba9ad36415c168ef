"""The migrated schema is exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vidgen.store.db import Database
from vidgen.store.tables import metadata


async def test_migrated_sqlite_schema_matches_the_table_definitions(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    await db.migrate()
    diff = await db.read(
        lambda conn: compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    )
    await db.dispose()
    assert diff == []

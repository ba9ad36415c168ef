"""Alembic environment. vidgen runs migrations itself at start-up (``Database.migrate``), handing
over an open connection; the plain ``alembic`` CLI also works with ``-x url=<sqlalchemy url>``."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from vidgen.store.tables import metadata

config = context.config


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # A migration may commit what came before it to build an index outside a transaction
        # (PostgreSQL's CREATE INDEX CONCURRENTLY, in ``autocommit_block``): each is then a
        # whole step of its own, as Alembic advises for such blocks. The caller's connection
        # must be outside a transaction for that (``Database.migrate``); on SQLite, which never
        # leaves one, the caller's transaction holds them all.
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_configure_and_run)
        await conn.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _configure_and_run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database with: alembic -x url=sqlite:///path/vidgen.db ...")
    if url.startswith("sqlite"):
        with create_engine(url).begin() as conn:
            _configure_and_run(conn)
    else:
        asyncio.run(_run_async(url))

"""Connections, transactions and migrations, for SQLite and PostgreSQL alike.

Every store operation is one plain function of a SQLAlchemy ``Connection``, run in one transaction
through ``Database.write`` or ``Database.read``. How it runs depends on the backend:

- **SQLite**: on a small pool of threads with the standard ``sqlite3`` driver. One hop to a thread
  per operation; an async driver (aiosqlite) would hop for every statement, fetch and commit,
  which measured at ~2 ms per primary-key lookup on the 2-core dev machine against ~0.15 ms here.
  There is exactly one writer: the write pool holds a single connection and opens every
  transaction with ``BEGIN IMMEDIATE``, so a claim or a charge never meets a lock-upgrade
  deadlock, and other processes sharing the file wait on ``busy_timeout`` instead of failing.
  Reads use their own connections in WAL mode, which never wait for the writer.
- **PostgreSQL** (``postgresql+asyncpg://``): the same function runs through ``run_sync`` on an
  asyncpg connection. Every round trip to the server counts (a queue moves hundreds of jobs a
  second through a few statements each), so reads run in autocommit, without the BEGIN and
  ROLLBACK that would double their round trips (under READ COMMITTED each statement takes its
  own snapshot anyway), and a pooled connection is pinged only after it sat idle for
  ``PING_AFTER_IDLE_SECONDS``, not at every checkout (SQLAlchemy's ``pool_pre_ping``): one that
  is in steady use has just proved itself. A connection that breaks in between fails its
  statement; the pool then drops it, and callers retry (workers) or answer 503 (the API).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import namedtuple
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Select, create_engine, event, text
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from vidgen.errors import ServiceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: A pooled PostgreSQL connection idle for longer than this is pinged before it is used.
PING_AFTER_IDLE_SECONDS = 2.0
#: Any constant works; it only has to be the same in every vidgen process.
PG_MIGRATION_LOCK = 0x76696467
#: How often a process that finds another migrating the database tries its lock again.
MIGRATION_LOCK_POLL_SECONDS = 0.2
SQLITE_READERS = 4

#: What reaching the database raises while it is down, restarting or failing over: SQLAlchemy's
#: wrapped driver errors for a broken or refused connection, a pool with no connection to give,
#: a refused or reset socket (raised as it is when the pool opens a new connection), SQLite's
#: own error from the point lookups (which run on the driver's connection), and asyncpg's errors
#: for a lost connection. SQLAlchemy wraps some of asyncpg's in a plain ``DBAPIError``:
#: PostgreSQL refusing connections while it starts or stops (``CannotConnectNowError``, SQLSTATE
#: 57P03) comes that way, with ``connection_invalidated`` false.
_UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    OSError,
    sqlite3.OperationalError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means "the database cannot be reached now" (retry later), as opposed to a
    statement the database refused (a bug, or input that should have been refused earlier)."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        # The adapted driver error, and asyncpg's own exception that it was raised from.
        for inner in (exc.orig, getattr(exc.orig, "__cause__", None)):
            if isinstance(inner, _UNAVAILABLE):
                return True
    return False


def unavailable() -> ServiceUnavailable:
    """The one error every way into the database raises when the database cannot be reached,
    whatever the driver (503 to a client, a retry to a worker): the layers above know this
    error, not SQLAlchemy's and asyncpg's exception types."""
    return ServiceUnavailable("The database is unavailable; retry in a moment.", retry_after=1)


def _sqlite_engine(url: str, *, writer: bool) -> Engine:
    engine = create_engine(
        url,
        pool_size=1 if writer else SQLITE_READERS + 1,
        max_overflow=0,
        pool_timeout=60,
        # Readers run in autocommit (each SELECT is its own snapshot) and hold no transaction
        # to roll back on return; skipping that saves a third of a point lookup's cost.
        pool_reset_on_return="rollback" if writer else None,
        connect_args={"timeout": 30, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions out of pysqlite's hands so that BEGIN is ours (SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the client hears 2xx, even across a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    if writer:

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class PointLookup:
    """A ``SELECT`` of at most one row by key, compiled once for SQLite's driver.

    ``Database.point`` runs it on the raw ``sqlite3`` connection, then converts each value with
    the result processor SQLAlchemy itself would apply (the column's type, for this dialect).
    That skips what ``Connection.execute`` does per call (the compiled-statement cache lookup,
    an execution context, a result object and its metadata): two thirds of a 30 µs poll read.
    Parameters must be plain values that need no bind conversion (ids, strings, numbers).
    """

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.params = tuple(compiled.positiontup or ())
        for name in self.params:
            if compiled.binds[name].type.bind_processor(dialect) is not None:
                raise ValueError(f"parameter {name!r} needs a bind conversion")
        columns = list(statement.selected_columns)
        self.row_type = namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]
        processors = (
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        # Only the columns that have a conversion are visited (a few of a row's thirty).
        self.conversions = tuple((i, p) for i, p in enumerate(processors) if p is not None)

    def run(self, connection: Any, params: Mapping[str, Any]) -> Any:
        raw = connection.execute(self.sql, tuple(params[name] for name in self.params)).fetchone()
        if raw is None:
            return None
        values = list(raw)
        for i, convert in self.conversions:
            if values[i] is not None:
                values[i] = convert(values[i])
        return self.row_type._make(values)  # type: ignore[attr-defined]


def sqlite_path(url: str) -> Path | None:
    """The database file that ``url`` names when it is SQLite (None for PostgreSQL or in
    memory). Here, not on ``Settings``: parsing a database URL is SQLAlchemy's job, and the
    settings, which every layer reads, import no SQL library."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Database:
    """One database, reached through ``write(fn)`` and ``read(fn)``."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.url = url
        #: The stores' clock: every time they write or compare (leases, delays, Idempotency-Key
        #: lifetimes) is read here, so that a test can stand it still and move it.
        self.now: Callable[[], datetime] = clock or _utcnow
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._async: AsyncEngine | None = None
        self._executors: dict[Engine, ThreadPoolExecutor] = {}
        self._inline: Connection | None = None
        self._lookups: dict[int, PointLookup] = {}
        if self.is_sqlite:
            sync_url = parsed.set(drivername="sqlite+pysqlite")
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self._writer = _sqlite_engine(
                sync_url.render_as_string(hide_password=False), writer=True
            )
            self._reader = _sqlite_engine(
                sync_url.render_as_string(hide_password=False), writer=False
            )
            # One thread for the one writer: writes queue in order instead of blocking threads
            # that reads could use.
            self._executors = {
                self._writer: ThreadPoolExecutor(1, thread_name_prefix="vidgen-db-write"),
                self._reader: ThreadPoolExecutor(
                    SQLITE_READERS, thread_name_prefix="vidgen-db-read"
                ),
            }
        else:
            self._async = create_async_engine(url, pool_size=10, max_overflow=10)
            _ping_when_idle(self._async.sync_engine)
            # Each operation runs whole in one greenlet on the engine's sync face, as
            # ``AsyncConnection.run_sync`` runs its callable: connect, begin, ``fn``, commit and
            # close there, rather than one greenlet (and event loop turn) for each of them
            # through the async wrappers, which cost more CPU than the statements themselves.
            self._autocommit_sync = self._async.sync_engine.execution_options(
                isolation_level="AUTOCOMMIT"
            )

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else self.async_engine.dialect.name

    @property
    def async_engine(self) -> AsyncEngine:
        if self._async is None:
            raise RuntimeError("SQLite databases have no async engine")
        return self._async

    async def write(self, fn: Callable[[Connection], T], *, single: bool = False) -> T:
        """Run ``fn`` in one write transaction (committed when it returns, rolled back if it
        raises).

        ``single=True`` promises that ``fn`` runs exactly one statement, which is atomic by
        itself: on PostgreSQL it then runs in autocommit, two round trips (BEGIN, COMMIT)
        fewer. The queue's hottest writes are such statements (heartbeats, most endings)."""
        try:
            if self._async is not None:
                if single:
                    return await greenlet_spawn(_run_autocommit, self._autocommit_sync, fn)
                return await greenlet_spawn(_run_transaction, self._async.sync_engine, fn)
            return await self._in_thread(self._writer, fn)
        except Exception as exc:
            if is_unavailable(exc):
                raise unavailable() from exc
            raise

    async def read(self, fn: Callable[[Connection], T], *, point: bool = False) -> T:
        """Run ``fn``, which only reads. On SQLite each statement is its own snapshot.

        ``point=True`` marks a lookup of a few small rows by key. On SQLite it then runs inline
        on the event loop: ~40 µs, less than the ~130 µs a hop to a thread costs by itself, and
        a WAL reader never waits for the writer. Anything that scans or reads blobs must not.
        """
        try:
            if self._async is not None:
                return await greenlet_spawn(_run_autocommit, self._autocommit_sync, fn)
            if point:
                if self._inline is None:
                    self._inline = self._reader.connect()
                try:
                    return fn(self._inline)
                finally:
                    self._inline.rollback()  # ends SQLAlchemy's bookkeeping; no SQL here
            return await self._in_thread(self._reader, fn)
        except Exception as exc:
            if is_unavailable(exc):
                raise unavailable() from exc
            raise

    async def point(self, statement: Select[Any], params: Mapping[str, Any]) -> Any:
        """The one row ``statement`` selects, or None: the same row ``read`` would give (a
        named tuple of the selected columns), faster on SQLite (see ``PointLookup``).
        ``statement`` must be built once (a module constant), not per call."""
        if self._async is not None:
            return await self.read(lambda conn: conn.execute(statement, params).first())
        lookup = self._lookups.get(id(statement))
        if lookup is None or lookup.statement is not statement:
            lookup = self._lookups[id(statement)] = PointLookup(statement, self._reader.dialect)
        try:
            if self._inline is None:
                self._inline = self._reader.connect()
            return lookup.run(self._inline.connection.driver_connection, params)
        except Exception as exc:
            if is_unavailable(exc):
                raise unavailable() from exc
            raise

    async def _in_thread(self, engine: Engine, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with engine.begin() as conn:
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self._executors[engine], run)

    async def migrate(self, revision: str = "head") -> None:
        """Apply Alembic migrations up to ``revision``. Safe when several processes start
        together: SQLite serialises them with BEGIN IMMEDIATE, PostgreSQL with an advisory
        lock.

        On PostgreSQL Alembic runs each migration in a transaction of its own on a connection
        outside any (``transaction_per_migration``), so that a migration can step out of
        transactions for a CREATE INDEX CONCURRENTLY (``autocommit_block``), which cannot run
        in one. The lock is therefore the session's, taken by polling: a process that waited
        inside ``pg_advisory_lock`` would hold a snapshot as it waited, and CREATE INDEX
        CONCURRENTLY waits for every older snapshot to end, so the two would deadlock."""
        if self._async is None:
            await self.write(lambda conn: command.upgrade(alembic_config(conn), revision))
            return
        try:
            async with self._async.connect() as conn:
                lock = text("SELECT pg_try_advisory_lock(:k)")
                while not (await conn.execute(lock, {"k": PG_MIGRATION_LOCK})).scalar_one():
                    await conn.commit()
                    await asyncio.sleep(MIGRATION_LOCK_POLL_SECONDS)
                await conn.commit()
                try:
                    await conn.run_sync(lambda c: command.upgrade(alembic_config(c), revision))
                finally:
                    await conn.rollback()  # a failed step's transaction; the lock outlives it
                    unlock = text("SELECT pg_advisory_unlock(:k)")
                    await conn.execute(unlock, {"k": PG_MIGRATION_LOCK})
                    await conn.commit()
        except Exception as exc:
            if is_unavailable(exc):
                raise unavailable() from exc
            raise

    async def downgrade(self, revision: str) -> None:
        """Undo migrations down to ``revision`` (an operator's ``alembic downgrade``, and the
        tests of each migration's way back), transactions as ``migrate`` runs them."""
        if self._async is None:
            await self.write(lambda conn: command.downgrade(alembic_config(conn), revision))
            return
        async with self._async.connect() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))
            await conn.commit()

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute(text("SELECT 1")).scalar_one())

    async def dispose(self) -> None:
        if self._async is not None:
            await self._async.dispose()
            return
        for executor in self._executors.values():
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        if self._inline is not None:
            self._inline.close()
        self._writer.dispose()
        self._reader.dispose()


def _run_transaction(engine: Engine, fn: Callable[[Connection], T]) -> T:
    with engine.begin() as conn:
        return fn(conn)


def _run_autocommit(engine: Engine, fn: Callable[[Connection], T]) -> T:
    with engine.connect() as conn:
        return fn(conn)


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it has been idle for a while (see the
    module docstring). A failed ping makes the pool discard it and connect afresh, as
    ``pool_pre_ping`` would (SQLAlchemy's "checkout" event and ``DisconnectionError``)."""

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


__all__ = ["Database", "alembic_config", "is_unavailable", "sqlite_path", "unavailable"]

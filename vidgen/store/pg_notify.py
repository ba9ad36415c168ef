"""LISTEN/NOTIFY wake-ups on PostgreSQL: a job stored by any API process wakes a worker on any
machine within a round trip, instead of at that worker's next poll.

Each worker process holds one dedicated asyncpg connection (outside SQLAlchemy's pool, which
would hand a LISTENing connection to other work) that LISTENs on ``queue_sql.CHANNEL``. The
NOTIFY itself is sent inside the transaction that makes the job claimable (``announce_job``), so
it is delivered at commit and never for a rolled-back row. A notification wakes one idle slot
of this process, and only for a model that this worker serves.

Polling stays the guarantee: when the connection drops (the database restarts, a network
blip), the listener reconnects with backoff, and then wakes every slot once, because jobs may
have arrived while nobody was listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from vidgen.store.notify import Wakeup
from vidgen.store.queue_sql import CHANNEL

__all__ = ["PgWakeup", "asyncpg_dsn"]

log = logging.getLogger(__name__)

#: How often an idle listener checks that its connection is alive. A server that vanished
#: without closing the socket is otherwise noticed only by the kernel's TCP timeouts.
KEEPALIVE_SECONDS = 15.0
MAX_BACKOFF_SECONDS = 30.0


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The libpq-style DSN for asyncpg from vidgen's SQLAlchemy URL. Only the query options
    that asyncpg itself understands (ssl…, target_session_attrs) are kept; the others are
    SQLAlchemy's own."""
    url = make_url(sqlalchemy_url)
    query = {
        name: value
        for name, value in url.query.items()
        if name.startswith("ssl") or name in {"target_session_attrs", "passfile"}
    }
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


class PgWakeup(Wakeup):
    """Wake-ups from PostgreSQL notifications (see the module docstring)."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.dsn = asyncpg_dsn(database_url)
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def job_ready(self) -> None:
        # The NOTIFY sent in the committing transaction reaches this process too; waking a slot
        # here as well would send two claims after one job.
        return None

    async def start(self, models: Collection[str] | None = None) -> None:
        await super().start(models)
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="vidgen-listen")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await super().aclose()

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        model = payload.split(" ", 1)[0]
        if self.models is None or model in self.models:
            self.wake_one()

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                conn = await asyncpg.connect(self.dsn, timeout=10)
            except Exception as exc:
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**failures)
                log.warning("LISTEN connection failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                continue
            closed = asyncio.Event()
            conn.add_termination_listener(lambda _c, event=closed: event.set())
            try:
                await conn.add_listener(CHANNEL, self._on_notification)
                failures = 0
                self.connected.set()
                # Jobs may have been stored while no one listened: let every slot look once.
                self.notify()
                while not closed.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(closed.wait(), KEEPALIVE_SECONDS)
                    if not closed.is_set():
                        await conn.fetchval("SELECT 1", timeout=10)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection lost; reconnecting", extra={"error": repr(exc)})
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5)
                if closed.is_set():
                    log.warning("LISTEN connection closed by the server; reconnecting")
            await asyncio.sleep(0.5)

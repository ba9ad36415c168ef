"""Wake-ups for idle workers when a job becomes claimable.

They only cut latency: a worker that misses one still finds the job at its next poll, so a lost
wake-up can delay a job by one poll interval but never strand it. The embedded deployment uses an
in-process event; PostgreSQL deployments use LISTEN/NOTIFY (see ``store.pg_notify``).

Each job that becomes claimable (stored, handed back, requeued after a lost lease) wakes *one*
idle slot per process, not all of them: every process hears about every job, so waking all its
slots would send a herd of claims after a single row.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection

from sqlalchemy.engine import Connection

from vidgen.store import queue_sql

__all__ = ["Wakeup", "announce_job"]


def announce_job(conn: Connection, model: str, job_id: str) -> None:
    """Call inside the transaction that makes a job claimable. On PostgreSQL this queues a
    NOTIFY (``queue_sql.announcement``), which the server delivers when (and only if) the
    transaction commits, so no worker wakes for a row it cannot see yet. On SQLite it does
    nothing (see ``Wakeup.job_ready``)."""
    if conn.dialect.name == "postgresql":
        conn.execute(queue_sql.announcement(model, job_id))


class Wakeup:
    """In-process wake-ups: ``job_ready`` releases one slot waiting in ``wait``, ``notify`` all."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []
        self.models: set[str] | None = None

    def notify(self) -> None:
        """Wake every waiting slot (shutdown, or after a gap in which wake-ups were missed)."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return

    def job_ready(self) -> None:
        """A job became claimable in this process's own transaction (after its commit)."""
        self.wake_one()

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109 (a poll interval)
        """Return on the next wake-up or after ``timeout`` seconds, whichever comes first."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    async def start(self, models: Collection[str] | None = None) -> None:
        """Begin listening for jobs of ``models`` (None: any). Nothing to do in-process."""
        self.models = set(models) if models else None

    async def aclose(self) -> None:
        self.notify()

"""Wake-ups for idle workers when a job becomes claimable.

They only cut latency: a worker that misses one still finds the job at its next poll, so a lost
wake-up can delay a job by one poll interval but never strand it. The embedded deployment uses an
in-process event; PostgreSQL deployments use LISTEN/NOTIFY (see ``store.pg_notify``).
"""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """In-process wake-ups: ``notify`` releases every worker slot waiting in ``wait``."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109 (a poll interval)
        """Return on the next ``notify`` or after ``timeout`` seconds, whichever comes first."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiters.discard(waiter)

    async def start(self) -> None:
        """Begin listening (nothing to do in-process)."""

    async def aclose(self) -> None:
        self.notify()

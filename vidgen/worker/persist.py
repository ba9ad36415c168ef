"""Retrying the writes that end a job, through outages of the database or the bucket.

Once an engine has produced a video, the work is paid for: a bucket that is down for a minute, or
a database that restarts, must delay the job, not fail it. ``persist`` retries one such write
(store the video, mark the job completed, hand it back, …) with capped exponential backoff, while
the worker's heartbeat keeps the lease alive, until it succeeds, until the lease is known to be
lost (another worker owns the job now, so there is nothing left to save), or until a deadline
passes. A step that gives up returns None and the caller decides: the job is never failed for an
outage; at worst its lease runs out and another worker runs it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["persist"]

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY_SECONDS = 0.25
#: Short enough that a job finishes within seconds of the bucket or the database coming back.
MAX_DELAY_SECONDS = 5.0


async def persist(
    what: str,
    step: Callable[[], Awaitable[T]],
    *,
    give_up: Callable[[], bool],
    deadline_seconds: float,
) -> T | None:
    """Run ``step`` until it returns. Returns None, without trying again, once ``give_up()``
    says so (checked before each try) or after ``deadline_seconds`` of failures."""
    deadline = time.monotonic() + deadline_seconds
    delay = FIRST_DELAY_SECONDS
    failures = 0
    while not give_up():
        try:
            result = await step()
        except Exception as exc:
            failures += 1
            if time.monotonic() + delay > deadline:
                log.error("%s: still failing; giving up for now", what, extra={"error": repr(exc)})
                return None
            # One full traceback, then one line per retry: an outage must not flood the log.
            log.warning(
                "%s failed; retrying in %.2f s",
                what,
                delay,
                exc_info=failures == 1,
                extra={"error": repr(exc), "failures": failures},
            )
            await asyncio.sleep(delay)
            delay = min(MAX_DELAY_SECONDS, delay * 2)
            continue
        if failures:
            log.info("%s succeeded after %d failures", what, failures)
        return result
    return None

"""Per-key request rate limits (token buckets, in process memory).

Each API process limits on its own; with N API processes a key can reach N times the rate. That
is deliberate: the limit protects a process from one noisy key, while money is protected by the
credit balance, which is enforced in the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from vidgen.errors import RateLimited

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float
    per_minute: int


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}

    def check(
        self, key_id: str, *, per_minute: int | None = None, now: float | None = None
    ) -> None:
        """Take one token for ``key_id``, or raise RateLimited with the wait until the next.
        ``per_minute`` is the key's own limit, which overrides the global one (0: none)."""
        limit = self.per_minute if per_minute is None else per_minute
        if limit <= 0:
            return
        now = time.monotonic() if now is None else now
        rate = limit / 60.0
        bucket = self._buckets.get(key_id)
        if bucket is None or bucket.per_minute != limit:
            # A new limit starts a full bucket: an operator who raises a key's limit expects
            # it to apply now, not after the old bucket refills.
            bucket = self._buckets[key_id] = _Bucket(float(limit), now, limit)
        bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / rate
            raise RateLimited(
                f"Too many requests: at most {limit} generations per minute for this key. "
                f"Retry in {wait:.1f} s.",
                retry_after=wait,
            )
        bucket.tokens -= 1.0

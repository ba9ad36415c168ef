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


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key_id: str, *, now: float | None = None) -> None:
        """Take one token for ``key_id``, or raise RateLimited with the wait until the next."""
        if self.per_minute <= 0:
            return
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        bucket = self._buckets.setdefault(key_id, _Bucket(float(self.per_minute), now))
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / rate
            raise RateLimited(
                f"Too many requests: at most {self.per_minute} generations per minute per key. "
                f"Retry in {wait:.1f} s.",
                retry_after=wait,
            )
        bucket.tokens -= 1.0

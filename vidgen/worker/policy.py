"""What a worker does after an attempt fails: retry later, or end the job in error."""

from __future__ import annotations

import random
from dataclasses import dataclass

from vidgen.errors import EngineError

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    base_delay: float = 2.0
    max_delay: float = 60.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter (AWS architecture blog), so a burst of jobs
        failing together does not come back together."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def should_retry(self, error: BaseException, attempt: int, max_attempts: int) -> bool:
        if attempt >= max_attempts:
            return False
        if isinstance(error, EngineError):
            return error.retryable
        # An unexpected exception may be a passing fault (a full disk, a dropped connection);
        # a real bug fails the same way each time and ends in error after max_attempts.
        return True

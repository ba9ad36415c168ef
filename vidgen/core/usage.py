"""Usage: a window's jobs and credit ledger, summed per group by the store
(``GenerationRepository.usage_sums``), so that a year of an operator's jobs is summed where the
rows are, not carried into the API process.

A window is ``start`` ≤ t < ``end``. Jobs count in the group of the day they were created; credit
entries (charges and refunds; grants and adjustments carry no job and are not usage) in the group
of the day they were written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Dimension", "GroupKey", "UsageSums", "UsageTable"]

#: What a group is made of: the UTC day (``YYYY-MM-DD``), the model id, the key id.
Dimension = Literal["day", "model", "key"]
#: One value per dimension asked for, in that order; ``()`` when no dimension was asked for.
GroupKey = tuple[str, ...]


@dataclass
class UsageSums:
    """One group's numbers (or the totals)."""

    jobs: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    seconds_of_video: float = 0.0  # of the completed jobs' outputs
    credits_charged: int = 0
    credits_refunded: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # failed jobs per error name
    #: From create to completed, over the completed jobs; None without one.
    median_seconds_to_complete: float | None = None

    @property
    def credits_net(self) -> int:
        return self.credits_charged - self.credits_refunded


#: The groups that have a job or a credit entry in the window, in key order.
UsageTable = dict[GroupKey, UsageSums]

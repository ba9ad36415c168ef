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

__all__ = ["Dimension", "GroupKey", "UsageGroups", "UsageSums", "UsageTable"]

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

    def add(self, other: UsageSums) -> None:
        """Add another group's counts and sums to these (not its median: see ``UsageGroups``)."""
        self.jobs += other.jobs
        self.completed += other.completed
        self.failed += other.failed
        self.cancelled += other.cancelled
        self.seconds_of_video += other.seconds_of_video
        self.credits_charged += other.credits_charged
        self.credits_refunded += other.credits_refunded
        self.failures.update(other.failures)


#: The groups that have a job or a credit entry in the window, in key order.
UsageTable = dict[GroupKey, UsageSums]


@dataclass(frozen=True)
class UsageGroups:
    """A window's usage per group, and the median over every group's completed jobs: the one
    total the groups cannot give (a median of medians is not the median), so the store finds it
    in the same pass as the groups' own."""

    groups: UsageTable
    median_seconds_to_complete: float | None

    @property
    def totals(self) -> UsageSums:
        """The whole window's numbers: each job and credit entry is in exactly one group."""
        totals = UsageSums(median_seconds_to_complete=self.median_seconds_to_complete)
        for sums in self.groups.values():
            totals.add(sums)
        return totals

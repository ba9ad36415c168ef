"""Usage, summed from the credit ledger and the jobs: what ``GET /v1/usage`` answers, and what
Runway's ``/v1/organization`` routes report in Runway's shape.

A window is ``start`` ≤ t < ``end``. Jobs count in the window they were created in; credits in
the window their ledger entry was written in (a job created on the 31st and refunded on the 1st
is charged in one month and refunded in the next, as the balance saw it).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from vidgen.core.keys import ApiKey
from vidgen.core.models import Status
from vidgen.core.ports import GenerationRepository
from vidgen.core.usage import JobFact, LedgerFact, UsageRecords
from vidgen.errors import FieldError, InvalidRequest

__all__ = [
    "GROUPINGS",
    "MAX_WINDOW",
    "Grouping",
    "Usage",
    "UsageReport",
    "UsageService",
    "UsageSums",
]

Grouping = Literal["day", "model", "key"]
GROUPINGS: tuple[Grouping, ...] = ("day", "model", "key")
#: The longest window one query may sum (the rows are summed in the API process).
MAX_WINDOW = timedelta(days=366)
DEFAULT_WINDOW = timedelta(days=30)


@dataclass
class UsageSums:
    """One group's numbers (or the totals)."""

    jobs: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    seconds_of_video: float = 0.0
    credits_charged: int = 0
    credits_refunded: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)

    @property
    def credits_net(self) -> int:
        return self.credits_charged - self.credits_refunded

    @property
    def median_seconds_to_complete(self) -> float | None:
        """Median time from create to completed, over the completed jobs."""
        return statistics.median(self.durations) if self.durations else None

    def add_job(self, job: JobFact) -> None:
        self.jobs += 1
        if job.status == Status.COMPLETED.value:
            self.completed += 1
            self.seconds_of_video += job.seconds
            if job.finished_at is not None:
                self.durations.append((job.finished_at - job.created_at).total_seconds())
        elif job.status == Status.FAILED.value:
            self.failed += 1
            self.failures[job.error_name or "Unknown"] += 1
        elif job.status == Status.CANCELLED.value:
            self.cancelled += 1

    def add_entry(self, entry: LedgerFact) -> None:
        if entry.reason == "charge":
            self.credits_charged -= entry.delta
        elif entry.reason == "refund":
            self.credits_refunded += entry.delta


@dataclass(frozen=True)
class UsageReport:
    start: datetime
    end: datetime
    group_by: Grouping
    key_id: str | None  # None: every key
    totals: UsageSums
    groups: dict[str, UsageSums]


class Usage:
    """Sums of one window's records, by a grouping."""

    def __init__(self, records: UsageRecords) -> None:
        self.records = records

    def group(self, by: Callable[[str, str, datetime], str]) -> dict[str, UsageSums]:
        """``by(key_id, model, at)`` names each record's group; groups in name order."""
        groups: dict[str, UsageSums] = {}
        for job in self.records.jobs:
            groups.setdefault(by(job.key_id, job.model, job.created_at), UsageSums()).add_job(job)
        for entry in self.records.ledger:
            name = by(entry.key_id, entry.model, entry.created_at)
            groups.setdefault(name, UsageSums()).add_entry(entry)
        return dict(sorted(groups.items()))

    def totals(self) -> UsageSums:
        sums = UsageSums()
        for job in self.records.jobs:
            sums.add_job(job)
        for entry in self.records.ledger:
            sums.add_entry(entry)
        return sums

    def net_by_day_and_model(self) -> dict[date, Counter[str]]:
        """Net credits (charges less refunds) per UTC day and model id."""
        days: dict[date, Counter[str]] = {}
        for entry in self.records.ledger:
            days.setdefault(entry.created_at.astimezone(UTC).date(), Counter())[entry.model] -= (
                entry.delta
            )
        return days

    def jobs_by_model(self) -> Counter[str]:
        return Counter(job.model for job in self.records.jobs)


def _day(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


_KEYS: dict[Grouping, Callable[[str, str, datetime], str]] = {
    "day": lambda _key, _model, at: _day(at),
    "model": lambda _key, model, _at: model,
    "key": lambda key, _model, _at: key,
}


class UsageService:
    def __init__(self, generations: GenerationRepository) -> None:
        self.generations = generations

    async def window(
        self, caller: ApiKey, start: datetime, end: datetime, *, key_id: str | None = None
    ) -> Usage:
        """The records of [start, end): the caller's own, or, for an admin key, every key's
        (or ``key_id``'s)."""
        scope = _scope(caller, key_id)
        return Usage(await self.generations.usage_records(scope, start, end))

    async def report(
        self,
        caller: ApiKey,
        *,
        start: datetime | None,
        end: datetime | None,
        group_by: Grouping,
        key_id: str | None = None,
        now: datetime | None = None,
    ) -> UsageReport:
        start, end = usage_window(start, end, now=now or datetime.now(UTC))
        usage = await self.window(caller, start, end, key_id=key_id)
        return UsageReport(
            start=start,
            end=end,
            group_by=group_by,
            key_id=_scope(caller, key_id),
            totals=usage.totals(),
            groups=usage.group(_KEYS[group_by]),
        )


def _scope(caller: ApiKey, key_id: str | None) -> str | None:
    if caller.is_admin:
        return key_id
    if key_id is not None and key_id != caller.id:
        raise InvalidRequest.single("key_id", "only an admin key may ask for another key's usage")
    return caller.id


def usage_window(
    start: datetime | None, end: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """The window a query names: ``end`` defaults to now, ``start`` to 30 days before it; a
    time without a zone is UTC."""
    end = _utc(end, "end") if end is not None else now
    if start is not None:
        start = _utc(start, "start")
    else:
        try:
            start = end - DEFAULT_WINDOW
        except OverflowError:
            raise _out_of_range("end") from None
    errors: list[FieldError] = []
    if end <= start:
        errors.append(FieldError("end", "must be after start"))
    elif end - start > MAX_WINDOW:
        errors.append(FieldError("end", f"must be at most {MAX_WINDOW.days} days after start"))
    if errors:
        raise InvalidRequest(errors, "Query validation error!")
    return start, end


def _utc(value: datetime, field: str) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00 is in year 0 in UTC
        raise _out_of_range(field) from None


def _out_of_range(field: str) -> InvalidRequest:
    return InvalidRequest(
        [FieldError(field, "is too close to the ends of the calendar (years 1 to 9999, UTC)")],
        "Query validation error!",
    )

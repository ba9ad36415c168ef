"""Usage, summed by the store from the credit ledger and the jobs (``core.usage``): what
``GET /v1/usage`` answers, and what Runway's ``/v1/organization`` routes report in Runway's shape.

A window is ``start`` ≤ t < ``end``. Jobs count in the window they were created in; credits in
the window their ledger entry was written in (a job created on the 31st and refunded on the 1st
is charged in one month and refunded in the next, as the balance saw it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from vidgen.core.keys import ApiKey
from vidgen.core.ports import GenerationRepository
from vidgen.core.usage import UsageSums
from vidgen.core.validation import text_problem
from vidgen.errors import FieldError, InvalidRequest

__all__ = [
    "GROUPINGS",
    "MAX_WINDOW",
    "Grouping",
    "UsageReport",
    "UsageService",
    "UsageSums",
]

Grouping = Literal["day", "model", "key"]
GROUPINGS: tuple[Grouping, ...] = ("day", "model", "key")
#: The longest window one query may sum.
MAX_WINDOW = timedelta(days=366)
DEFAULT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class UsageReport:
    start: datetime
    end: datetime
    group_by: Grouping
    key_id: str | None  # None: every key
    totals: UsageSums
    groups: dict[str, UsageSums]


class UsageService:
    def __init__(self, generations: GenerationRepository) -> None:
        self.generations = generations

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
        """The caller's own usage, or, for an admin key, every key's (or ``key_id``'s)."""
        start, end = usage_window(start, end, now=now or datetime.now(UTC))
        scope = _scope(caller, key_id)
        usage = await self.generations.usage_groups(scope, start, end, (group_by,))
        return UsageReport(
            start=start,
            end=end,
            group_by=group_by,
            key_id=scope,
            totals=usage.totals,
            groups={name: sums for (name,), sums in usage.groups.items()},
        )

    async def jobs_by_model(self, key: ApiKey, start: datetime, end: datetime) -> Counter[str]:
        """The key's own jobs created in [start, end), per model id (whatever its role)."""
        table = await self.generations.usage_sums(key.id, start, end, ("model",))
        return Counter({model: sums.jobs for (model,), sums in table.items()})

    async def net_by_day_and_model(
        self, key: ApiKey, start: datetime, end: datetime
    ) -> dict[date, Counter[str]]:
        """The key's own net credits (charges less refunds) per UTC day and model id."""
        table = await self.generations.usage_sums(key.id, start, end, ("day", "model"))
        days: dict[date, Counter[str]] = {}
        for (day, model), sums in table.items():
            if sums.credits_charged or sums.credits_refunded:
                days.setdefault(date.fromisoformat(day), Counter())[model] += sums.credits_net
        return days


def _scope(caller: ApiKey, key_id: str | None) -> str | None:
    if key_id is not None and (problem := text_problem(key_id)) is not None:
        raise InvalidRequest.single("key_id", problem)
    if caller.is_admin:
        return key_id
    if key_id is not None and key_id != caller.id:
        raise InvalidRequest(
            [FieldError("key_id", "only an admin key may ask for another key's usage")],
            "Query validation error!",
        )
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

"""Usage summed by the database (``GenerationRepository.usage_sums`` and ``usage_groups``): three
queries, the jobs and the credit ledger (GROUP BY) and the median time to complete (the middle
rows of each group), whose answers are as many rows as there are groups (× statuses and error
names, × 2 for the median), whatever the number of jobs.

The day of a time is its UTC date, spelled ``YYYY-MM-DD`` by the database itself: SQLite keeps
UTC times as text (``store.tables.UTCDateTime``), PostgreSQL as ``timestamptz``. The median
uses window functions (SQLite ≥ 3.25, PostgreSQL), the mean of the middle one or two ranks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from statistics import fmean
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.engine import Connection

from vidgen.core.models import Status
from vidgen.core.usage import Dimension, GroupKey, UsageGroups, UsageSums, UsageTable
from vidgen.store.tables import credit_ledger, jobs

__all__ = ["usage_table"]

_COMPLETED = Status.COMPLETED.value
_FAILED = Status.FAILED.value
_CANCELLED = Status.CANCELLED.value


def usage_table(
    conn: Connection,
    dialect: str,
    key_id: str | None,
    start: datetime,
    end: datetime,
    by: tuple[Dimension, ...],
    *,
    overall: bool = False,
) -> UsageGroups:
    """The groups' sums, and with ``overall`` the median over every group (else None)."""
    sqlite = dialect == "sqlite"

    def day(column: Any) -> ColumnElement[Any]:
        if sqlite:
            return func.date(column)
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")

    def groups(created: Any, key: Any) -> list[ColumnElement[Any]]:
        columns: dict[Dimension, Callable[[], ColumnElement[Any]]] = {
            "day": lambda: day(created),
            "model": lambda: jobs.c.model,
            "key": lambda: key,
        }
        return [columns[d]() for d in by]

    table: UsageTable = {}

    def sums(values: tuple[Any, ...]) -> UsageSums:
        return table.setdefault(tuple(str(v) for v in values), UsageSums())

    created_in = and_(jobs.c.created_at >= start, jobs.c.created_at < end)
    if key_id is not None:
        created_in = and_(created_in, jobs.c.key_id == key_id)
    n = len(by)

    # Jobs: counts per status and error name, and the completed ones' seconds of video.
    job_groups = groups(jobs.c.created_at, jobs.c.key_id)
    made = and_(jobs.c.status == _COMPLETED, jobs.c.output_frames > 0, jobs.c.output_fps > 0)
    seconds = case((made, cast(jobs.c.output_frames, Float) / jobs.c.output_fps), else_=0.0)
    job_query = (
        select(*job_groups, jobs.c.status, jobs.c.error_name, func.count(), func.sum(seconds))
        .where(created_in)
        .group_by(*job_groups, jobs.c.status, jobs.c.error_name)
    )
    for row in conn.execute(job_query):
        group = sums(tuple(row[:n]))
        status, error_name, count, total = row[n:]
        group.jobs += count
        if status == _COMPLETED:
            group.completed += count
            group.seconds_of_video += float(total or 0.0)
        elif status == _FAILED:
            group.failed += count
            group.failures[error_name or "Unknown"] += count
        elif status == _CANCELLED:
            group.cancelled += count

    # Credits: each entry of a job in the group of the day it was written.
    ledger_groups = groups(credit_ledger.c.created_at, credit_ledger.c.key_id)
    written_in = and_(
        credit_ledger.c.created_at >= start,
        credit_ledger.c.created_at < end,
        credit_ledger.c.reason.in_(("charge", "refund")),
    )
    if key_id is not None:
        written_in = and_(written_in, credit_ledger.c.key_id == key_id)
    ledger_query = (
        select(*ledger_groups, credit_ledger.c.reason, func.sum(credit_ledger.c.delta))
        .select_from(credit_ledger.join(jobs, jobs.c.id == credit_ledger.c.job_id))
        .where(written_in)
        .group_by(*ledger_groups, credit_ledger.c.reason)
    )
    for row in conn.execute(ledger_query):
        group = sums(tuple(row[:n]))
        reason, delta = row[n:]
        if reason == "charge":
            group.credits_charged -= int(delta)
        else:
            group.credits_refunded += int(delta)

    # The median time from create to completed, per group and (``overall``) over every group,
    # in one pass: the rows in the middle of their group, or of the whole window; each row says
    # its rank in both, and the mean of the middle one or two ranks is taken here.
    if sqlite:
        # A Julian day is a double: ~40 µs of error at today's dates, hence the milliseconds.
        took: ColumnElement[Any] = func.round(
            (func.julianday(jobs.c.finished_at) - func.julianday(jobs.c.created_at))
            * literal(86400.0),
            3,
        )
    else:
        took = cast(func.extract("epoch", jobs.c.finished_at - jobs.c.created_at), Float)
    partition = job_groups or None
    ranks = [
        func.row_number().over(partition_by=partition, order_by=took).label("rank"),
        func.count().over(partition_by=partition).label("n"),
    ]
    if overall:
        ranks += [
            func.row_number().over(order_by=took).label("rank_all"),
            func.count().over().label("n_all"),
        ]
    ranked = (
        select(*(g.label(f"g{i}") for i, g in enumerate(job_groups)), took.label("took"), *ranks)
        .where(created_in, jobs.c.status == _COMPLETED, jobs.c.finished_at.is_not(None))
        .subquery()
    )

    def middle(rank: Any, count: Any) -> ColumnElement[bool]:
        return and_(rank * 2 >= count, rank * 2 <= count + 2)

    middles = [middle(ranked.c.rank, ranked.c.n)]
    if overall:
        middles.append(middle(ranked.c.rank_all, ranked.c.n_all))
    keys = [ranked.c[f"g{i}"] for i in range(n)]
    median_query = select(*keys, *(case((m, 1), else_=0) for m in middles), ranked.c.took).where(
        or_(*middles)
    )
    in_group: dict[GroupKey, list[float]] = {}
    in_all: list[float] = []
    for row in conn.execute(median_query):
        group_key = tuple(str(v) for v in row[:n])
        if row[n]:
            in_group.setdefault(group_key, []).append(float(row[-1]))
        if overall and row[n + 1]:
            in_all.append(float(row[-1]))
    for group_key, times in in_group.items():
        sums(group_key).median_seconds_to_complete = fmean(times)

    return UsageGroups(dict(sorted(table.items())), fmean(in_all) if in_all else None)

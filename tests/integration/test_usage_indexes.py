"""An admin's usage report (every key, one window) finds the window's jobs and credit entries
through an index on SQLite and PostgreSQL, as each database's own EXPLAIN shows, instead of
reading both tables whole: the only indexes on those times used to lead with the key."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from vidgen.store.db import Database
from vidgen.store.usage_sql import usage_table

END = datetime(2026, 12, 1, tzinfo=UTC)
TABLES = ("jobs", "credit_ledger")


def plans(conn: Connection, dialect: str, key_id: str | None) -> list[str]:
    """Each statement of one usage report, as the database plans it."""
    statements: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        statements.append((args[2], args[3]))

    if dialect == "postgresql":
        # The tables are empty, so the planner would read them whole whatever the indexes; with
        # sequential scans priced out it shows what it can find through an index.
        conn.exec_driver_sql("SET enable_seqscan = off")
    event.listen(conn, "before_cursor_execute", record)
    try:
        usage_table(conn, dialect, key_id, END - timedelta(days=30), END, ("day",), overall=True)
    finally:
        event.remove(conn, "before_cursor_execute", record)
    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    return [
        "\n".join(str(row[-1]) for row in conn.exec_driver_sql(explain + sql, params))
        for sql, params in statements
    ]


def pg_index_columns(conn: Connection) -> dict[str, list[str]]:
    """The columns of each index on the two tables, in order."""
    rows = conn.exec_driver_sql(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('jobs', 'credit_ledger')"
    )
    columns: dict[str, list[str]] = {}
    for name, definition in rows:
        listed = definition[definition.index("(") + 1 : definition.rindex(")")]
        columns[name] = [c.split()[0].strip('"') for c in listed.split(",")]
    return columns


def unsearched_reads(plan: str, dialect: str, columns: dict[str, list[str]]) -> list[str]:
    """The plan's reads of jobs or credit_ledger that do not search the window by index: a
    search bounds created_at through an index whose columns before it are all bound too (a
    lookup by the jobs' primary key, for a ledger entry's job, is a search as well)."""
    lines = [line.strip().removeprefix("->  ") for line in plan.splitlines()]
    if dialect == "sqlite":
        # "SCAN TABLE jobs" before SQLite 3.36, "SCAN jobs" since.
        reads = re.compile(r"(SCAN|SEARCH)( TABLE)? (jobs|credit_ledger)\b")
        return [
            line
            for line in lines
            if reads.match(line) and "created_at>?" not in line and not line.endswith("(id=?)")
        ]
    unsearched = [line for line in lines if re.match(r"Seq Scan on (jobs|credit_ledger)\b", line)]
    for line, after in zip(lines, [*lines[1:], ""], strict=True):
        used = re.match(
            r"(?:Index Scan using|Index Only Scan using|Bitmap Index Scan on) (\S+)", line
        )
        if used is None or used[1] not in columns or after.startswith("Index Cond: (id = "):
            continue
        cols = columns[used[1]]
        bound = after.startswith("Index Cond:") and "created_at" in cols
        if bound:
            before = cols[: cols.index("created_at")]
            bound = "created_at >=" in after and all(
                re.search(rf"\b{c}\)?(::text)? = ", after) for c in before
            )
        if not bound:
            unsearched.append(f"{line} / {after}")
    return unsearched


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("key_id", [None, "k" * 32], ids=["every-key", "one-key"])
async def test_a_usage_report_searches_the_window_by_index_for_every_key_or_one(
    dialect: str, key_id: str | None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if dialect == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'u.db'}")
    else:
        db = Database(request.getfixturevalue("pg_url"))
    try:
        await db.migrate()
        found = await db.read(lambda conn: plans(conn, dialect, key_id))
        columns = {} if dialect == "sqlite" else await db.read(pg_index_columns)
    finally:
        await db.dispose()
    assert len(found) == 3  # the jobs, the credit ledger, the median
    for plan in found:
        assert re.search(r"\b(jobs|credit_ledger)\b", plan), plan
        assert not unsearched_reads(plan, dialect, columns), plan

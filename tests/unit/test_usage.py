"""Whose usage and which window (``UsageService`` on the in-memory store): a client key sees
only its own, an admin key everyone's; a bad window is a 400 naming the parameter. The sums
themselves are checked on every store by tests/contract/test_usage.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.contract.conftest import new_job
from vidgen.errors import InvalidRequest
from vidgen.service.usage import UsageService
from vidgen.store.memory import ManualClock, MemoryStore

START = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


async def test_a_client_sees_its_own_usage_and_an_admin_everyones(clock: ManualClock) -> None:
    store = MemoryStore(clock=clock)
    alice, _ = await store.keys.create("alice", credits=100)
    bob, _ = await store.keys.create("bob", credits=100)
    boss, _ = await store.keys.create("boss", role="admin")
    await store.generations.create(new_job(alice.id, credits=8))
    await store.generations.create(new_job(bob.id, credits=5))
    usage = UsageService(store.generations)
    end = clock() + timedelta(seconds=1)
    mine = await usage.report(alice, start=START, end=end, group_by="key")
    assert (mine.key_id, list(mine.groups), mine.totals.credits_charged) == (
        alice.id,
        [alice.id],
        8,
    )
    every = await usage.report(boss, start=START, end=end, group_by="key")
    assert every.key_id is None and every.totals.credits_charged == 13
    assert sorted(every.groups) == sorted([alice.id, bob.id])
    one = await usage.report(boss, start=START, end=end, group_by="key", key_id=bob.id)
    assert list(one.groups) == [bob.id]
    with pytest.raises(InvalidRequest) as refused:
        await usage.report(alice, start=START, end=end, group_by="key", key_id=bob.id)
    assert refused.value.errors[0].field == "key_id"


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (START, START, "end"),
        (START, START - timedelta(days=1), "end"),
        (START - timedelta(days=367), START, "end"),
    ],
)
async def test_a_window_that_is_empty_backwards_or_too_long_is_refused(
    start: datetime, end: datetime, field: str
) -> None:
    store = MemoryStore()
    key, _ = await store.keys.create("k")
    with pytest.raises(InvalidRequest) as refused:
        await UsageService(store.generations).report(key, start=start, end=end, group_by="day")
    assert [e.field for e in refused.value.errors] == [field]


async def test_a_window_defaults_to_the_30_days_before_now_and_a_naive_time_is_utc() -> None:
    store = MemoryStore()
    key, _ = await store.keys.create("k")
    usage = UsageService(store.generations)
    report = await usage.report(key, start=None, end=None, group_by="day", now=START)
    assert (report.start, report.end) == (START - timedelta(days=30), START)
    naive = await usage.report(key, start=datetime(2026, 1, 1), end=None, group_by="day", now=START)
    assert naive.start == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (None, datetime(1, 1, 5), "end"),  # 30 days before it is before year 1
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), START, "start"),
        (None, datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), "end"),
    ],
)
async def test_a_window_at_the_edge_of_the_calendar_is_a_400_not_a_crash(
    start: datetime | None, end: datetime, field: str
) -> None:
    store = MemoryStore()
    key, _ = await store.keys.create("k")
    with pytest.raises(InvalidRequest) as refused:
        await UsageService(store.generations).report(key, start=start, end=end, group_by="day")
    assert [e.field for e in refused.value.errors] == [field]

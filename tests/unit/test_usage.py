"""Usage summed from the ledger and the jobs (``UsageService`` on the in-memory store): after a
mix of completed, failed and cancelled jobs the sums match the credit ledger, each grouping
splits them, a client key sees only its own, an admin key everyone's."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.contract.conftest import OUTPUT, new_job
from vidgen.core.keys import ApiKey
from vidgen.errors import InvalidRequest
from vidgen.service.usage import UsageService
from vidgen.store.memory import ManualClock, MemoryStore

START = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)


async def run_mix(store: MemoryStore, clock: ManualClock, key: ApiKey) -> dict[str, str]:
    """One job of each ending, a minute or more apart, the failed one refunded after midnight."""
    ids: dict[str, str] = {}
    for name, model, credits in [
        ("completed", "runway/gen4_turbo", 8),
        ("slow", "runway/gen4_turbo", 15),
        ("failed", "gen3a_turbo", 10),
        ("cancelled", "gen3a_turbo", 5),
        ("queued", "runway/gen4_turbo", 8),
    ]:
        ids[name] = (
            await store.generations.create(new_job(key.id, model=model, credits=credits))
        ).id
        clock.advance(60)
    for name, seconds in [("completed", 30), ("slow", 90)]:
        claimed = await store.jobs.claim_next("w", lease_seconds=600)
        assert claimed is not None and claimed.generation.id == ids[name]
        clock.advance(seconds)
        await store.jobs.complete(ids[name], "w", OUTPUT)
    clock.advance(3600)  # past midnight: the refund is written on the next day
    assert await store.jobs.claim_next("w", lease_seconds=600) is not None
    await store.jobs.fail(ids["failed"], "w", "ContentRejected", "no")
    await store.generations.request_cancel(ids["cancelled"], key.id)
    return ids


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


async def test_the_sums_match_the_ledger_after_completed_failed_and_cancelled_jobs(
    clock: ManualClock,
) -> None:
    store = MemoryStore(clock=clock)
    key, _ = await store.keys.create("k", credits=100)
    await run_mix(store, clock, key)
    usage = UsageService(store.generations)
    end = clock() + timedelta(seconds=1)
    report = await usage.report(key, start=START, end=end, group_by="day")
    totals = report.totals
    ledger = [e for e in store.ledger() if e.job_id is not None]
    assert totals.credits_charged == -sum(e.delta for e in ledger if e.reason == "charge") == 46
    assert totals.credits_refunded == sum(e.delta for e in ledger if e.reason == "refund") == 15
    balance = (await store.keys.get(key.id)).credits  # type: ignore[union-attr]
    assert totals.credits_net == 100 - balance
    assert (totals.jobs, totals.completed, totals.failed, totals.cancelled) == (5, 2, 1, 1)
    assert totals.failures == Counter({"ContentRejected": 1})
    assert totals.seconds_of_video == 2 * OUTPUT.frame_count / OUTPUT.fps
    # Created at +0 and +60 s, completed at +330 s and +420 s.
    assert totals.median_seconds_to_complete == (330 + 360) / 2
    # Jobs on the day they were created; the refunds on the day they were written.
    assert list(report.groups) == ["2026-03-31", "2026-04-01"]
    first, second = report.groups.values()
    assert (first.jobs, first.credits_charged, first.credits_refunded) == (5, 46, 0)
    assert (second.jobs, second.credits_charged, second.credits_refunded) == (0, 0, 15)
    by_model = (await usage.report(key, start=START, end=end, group_by="model")).groups
    assert {m: (g.jobs, g.credits_net) for m, g in by_model.items()} == {
        "gen3a_turbo": (2, 0),
        "runway/gen4_turbo": (3, 31),
    }
    window = await usage.window(key, START, end)
    assert sum(window.net_by_day_and_model().values(), Counter()) == Counter(
        {"runway/gen4_turbo": 31, "gen3a_turbo": 0}
    )


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

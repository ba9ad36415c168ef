"""Usage as each store sums it (``usage_sums``, summed by the database on SQLite and
PostgreSQL): after a mix of completed, failed and cancelled jobs across a UTC midnight, the sums
match the credit ledger, each grouping splits them by the day, model or key they belong to, and
the median time to complete is the middle of the completed jobs'."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.contract.conftest import OUTPUT, Backend, new_job
from vidgen.service.usage import UsageService


async def to_next(backend: Backend, hour: int) -> datetime:
    """Move the clock to the next ``hour``:00 UTC."""
    now = backend.now()
    target = datetime.combine(now.date(), time(hour), tzinfo=UTC)
    if target <= now:
        target += timedelta(days=1)
    await backend.pass_time((target - now).total_seconds())
    return target


async def test_the_sums_match_the_ledger_and_split_by_day_model_and_key(backend: Backend) -> None:
    key, _ = await backend.keys.create("k", credits=100)
    other, _ = await backend.keys.create("other", credits=100)
    start = await to_next(backend, 23)
    ids: dict[str, str] = {}
    for name, model, credits in [
        ("completed", "runway/gen4_turbo", 8),
        ("slow", "runway/gen4_turbo", 15),
        ("failed", "gen3a_turbo", 10),
        ("cancelled", "gen3a_turbo", 5),
        ("queued", "runway/gen4_turbo", 8),
    ]:
        job = await backend.generations.create(new_job(key.id, model=model, credits=credits))
        ids[name] = job.id
        await backend.pass_time(60)
    for name, seconds in [("completed", 30), ("slow", 90)]:
        claimed = await backend.jobs.claim_next("w", lease_seconds=600)
        assert claimed is not None and claimed.generation.id == ids[name]
        await backend.pass_time(seconds)
        await backend.jobs.complete(ids[name], "w", OUTPUT)
    await backend.pass_time(3600)  # past midnight: the refund is written on the next day
    assert await backend.jobs.claim_next("w", lease_seconds=600) is not None
    await backend.jobs.fail(ids["failed"], "w", "ContentRejected", "no")
    await backend.generations.request_cancel(ids["cancelled"], key.id)
    await backend.generations.create(new_job(other.id, credits=3))
    end = backend.now() + timedelta(seconds=1)
    await backend.keys.adjust_credits(key.id, 3, "a grant is not usage")

    usage = UsageService(backend.generations)
    report = await usage.report(key, start=start, end=end, group_by="day")
    totals = report.totals
    charges = [d for j in ids.values() for r, d in await backend.ledger(j) if r == "charge"]
    refunds = [d for j in ids.values() for r, d in await backend.ledger(j) if r == "refund"]
    assert totals.credits_charged == -sum(charges) == 46
    assert totals.credits_refunded == sum(refunds) == 15
    assert (totals.jobs, totals.completed, totals.failed, totals.cancelled) == (5, 2, 1, 1)
    assert totals.failures == Counter({"ContentRejected": 1})
    assert totals.seconds_of_video == pytest.approx(2 * OUTPUT.frame_count / OUTPUT.fps)
    # Created at +0 and +60 s, completed at +330 s and +420 s (and a few ticks of the clock).
    assert totals.median_seconds_to_complete == pytest.approx((330 + 360) / 2, abs=1e-3)
    # Jobs on the day they were created; the refunds on the day they were written.
    first_day = start.date().isoformat()
    second_day = (start.date() + timedelta(days=1)).isoformat()
    assert list(report.groups) == [first_day, second_day]
    first, second = report.groups.values()
    assert (first.jobs, first.credits_charged, first.credits_refunded) == (5, 46, 0)
    assert first.median_seconds_to_complete == totals.median_seconds_to_complete
    assert (second.jobs, second.credits_charged, second.credits_refunded) == (0, 0, 15)
    assert second.median_seconds_to_complete is None

    by_model = (await usage.report(key, start=start, end=end, group_by="model")).groups
    assert {m: (g.jobs, g.completed, g.credits_net) for m, g in by_model.items()} == {
        "gen3a_turbo": (2, 0, 0),
        "runway/gen4_turbo": (3, 2, 31),
    }
    assert await usage.jobs_by_model(key, start, end) == Counter(
        {"runway/gen4_turbo": 3, "gen3a_turbo": 2}
    )
    assert await usage.net_by_day_and_model(key, start, end) == {
        date.fromisoformat(first_day): Counter({"runway/gen4_turbo": 31, "gen3a_turbo": 15}),
        date.fromisoformat(second_day): Counter({"gen3a_turbo": -15}),
    }

    by_key = await backend.generations.usage_sums(None, start, end, ("key",))
    assert {k: (s.jobs, s.credits_charged) for (k,), s in by_key.items()} == {
        key.id: (5, 46),
        other.id: (1, 3),
    }
    assert await backend.generations.usage_sums(None, end, end + timedelta(days=1), ()) == {}


class CountingReads:
    """The store, counting the usage reads made through it."""

    def __init__(self, generations: object) -> None:
        self.generations = generations
        self.reads = 0

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self.generations, name)
        if name.startswith("usage"):
            self.reads += 1
        return attribute


async def test_a_report_reads_the_store_once_and_its_totals_are_the_same_whatever_the_grouping(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("k", credits=100)
    start = backend.now()
    for model, seconds in [
        ("runway/gen4_turbo", 10),
        ("runway/gen4_turbo", 20),
        ("gen3a_turbo", 90),
    ]:
        job = await backend.generations.create(new_job(key.id, model=model))
        assert await backend.jobs.claim_next("w", lease_seconds=600) is not None
        await backend.pass_time(seconds)
        await backend.jobs.complete(job.id, "w", OUTPUT)
    failed = await backend.generations.create(new_job(key.id, model="gen3a_turbo"))
    assert await backend.jobs.claim_next("w", lease_seconds=600) is not None
    await backend.jobs.fail(failed.id, "w", "ContentRejected", "no")
    end = backend.now() + timedelta(seconds=1)

    store = CountingReads(backend.generations)
    usage = UsageService(store)  # type: ignore[arg-type]
    for group_by in ("day", "model", "key"):
        store.reads = 0
        report = await usage.report(key, start=start, end=end, group_by=group_by)
        assert store.reads == 1
        totals = report.totals
        assert (totals.jobs, totals.completed, totals.failed) == (4, 3, 1)
        assert (totals.credits_charged, totals.credits_refunded) == (32, 8)
        assert totals.failures == Counter({"ContentRejected": 1})
        assert totals.seconds_of_video == pytest.approx(3 * OUTPUT.frame_count / OUTPUT.fps)
        # The middle of 10, 20 and 90 s: not a median of the groups' medians (15 and 90).
        assert totals.median_seconds_to_complete == pytest.approx(20, abs=1e-3)
    by_model = (await usage.report(key, start=start, end=end, group_by="model")).groups
    assert {m: g.median_seconds_to_complete for m, g in by_model.items()} == {
        "gen3a_turbo": pytest.approx(90, abs=1e-3),
        "runway/gen4_turbo": pytest.approx(15, abs=1e-3),
    }

"""Keys as an operator manages them, the same on every backend: roles, limits set and cleared,
credits adjusted with a note in the ledger (never below zero), the overview's last use and month
spending, and the records usage is summed from."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.contract.conftest import OUTPUT, Backend, new_job


async def test_a_key_is_a_client_key_unless_made_an_admin(backend: Backend) -> None:
    client, _ = await backend.keys.create("c")
    admin, secret = await backend.keys.create("a", role="admin")
    assert client.role == "client" and not client.is_admin
    assert (await backend.keys.authenticate(secret)).is_admin
    assert (await backend.keys.get(admin.id)).role == "admin"


async def test_limits_are_set_and_cleared_and_an_unknown_key_is_none(backend: Backend) -> None:
    key, _ = await backend.keys.create("k", max_concurrency=2)
    changed = await backend.keys.update_limits(
        key.id, {"rate_limit_per_minute": 5, "monthly_credit_limit": 100, "priority": 3}
    )
    assert (changed.rate_limit_per_minute, changed.monthly_credit_limit) == (5, 100)
    assert (changed.priority, changed.max_concurrency) == (3, 2)
    cleared = await backend.keys.update_limits(
        key.id, {"monthly_credit_limit": None, "max_concurrency": None}
    )
    assert (cleared.monthly_credit_limit, cleared.max_concurrency) == (None, None)
    assert cleared.rate_limit_per_minute == 5
    assert await backend.keys.get(key.id) == cleared
    assert await backend.keys.update_limits("0" * 32, {"priority": 1}) is None
    with pytest.raises(ValueError, match="credits"):
        await backend.keys.update_limits(key.id, {"credits": 1})


async def test_credits_are_adjusted_with_their_reason_and_never_below_zero(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("k", credits=10)
    assert (await backend.keys.adjust_credits(key.id, 5, "bonus")).balance == 15
    taken = await backend.keys.adjust_credits(key.id, -15, "refund by bank")
    assert (taken.outcome, taken.balance) == ("applied", 0)
    refused = await backend.keys.adjust_credits(key.id, -1, "too much")
    assert (refused.outcome, refused.balance) == ("below_zero", 0)
    assert await backend.key_ledger(key.id) == [
        ("grant", 10, None),
        ("adjustment", 5, "bonus"),
        ("adjustment", -15, "refund by bank"),
    ]
    unlimited, _ = await backend.keys.create("u")
    assert (await backend.keys.adjust_credits(unlimited.id, 5, "x")).outcome == "unlimited"
    assert (await backend.keys.adjust_credits("0" * 32, 5, "x")).outcome == "unknown_key"
    assert await backend.key_ledger(unlimited.id) == []


async def test_the_overview_shows_last_use_and_net_spending_this_month(
    backend: Backend,
) -> None:
    idle, _ = await backend.keys.create("idle", credits=50)
    busy, _ = await backend.keys.create("busy", credits=50)
    month_start = backend.now() - timedelta(seconds=1)
    await backend.generations.create(new_job(busy.id, credits=8))
    cancelled = await backend.generations.create(new_job(busy.id, credits=5))
    await backend.generations.request_cancel(cancelled.id, busy.id)
    overview = {s.key.id: s for s in await backend.keys.overview(month_start)}
    assert (overview[idle.id].last_used_at, overview[idle.id].spent_this_month) == (None, 0)
    assert overview[busy.id].last_used_at == cancelled.created_at
    assert overview[busy.id].spent_this_month == 8
    assert await backend.generations.spent_since(busy.id, month_start) == 8
    later = backend.now() + timedelta(seconds=1)
    assert (await backend.keys.overview(later))[1].spent_this_month == 0
    assert await backend.generations.spent_since(busy.id, later) == 0


async def test_usage_sums_hold_the_windows_jobs_and_charges_of_one_key_or_all(
    backend: Backend,
) -> None:
    a, _ = await backend.keys.create("a", credits=100)
    b, _ = await backend.keys.create("b", credits=100)
    start = backend.now()
    done = await backend.generations.create(new_job(a.id, credits=8))
    claimed = await backend.jobs.claim_next("w", lease_seconds=30)
    assert claimed is not None and claimed.generation.id == done.id
    await backend.jobs.complete(done.id, "w", OUTPUT)
    failed = await backend.generations.create(new_job(a.id, model="gen3a_turbo", credits=5))
    await backend.jobs.claim_next("w", lease_seconds=30)
    await backend.jobs.fail(failed.id, "w", "ContentRejected", "no")
    await backend.generations.create(new_job(b.id, credits=8))
    end = backend.now()
    await backend.keys.adjust_credits(a.id, 3, "not usage")

    mine = await backend.generations.usage_sums(a.id, start, end, ("model",))
    assert {
        model: (s.jobs, s.completed, s.failed, dict(s.failures), s.seconds_of_video)
        for (model,), s in mine.items()
    } == {
        "runway/gen4_turbo": (1, 1, 0, {}, OUTPUT.frame_count / OUTPUT.fps),
        "gen3a_turbo": (1, 0, 1, {"ContentRejected": 1}, 0.0),
    }
    assert {m: (s.credits_charged, s.credits_refunded) for (m,), s in mine.items()} == {
        "runway/gen4_turbo": (8, 0),
        "gen3a_turbo": (5, 5),
    }
    every = await backend.generations.usage_sums(None, start, end, ("key",))
    assert {k: (s.jobs, s.credits_net) for (k,), s in every.items()} == {
        a.id: (2, 8),
        b.id: (1, 8),
    }
    assert await backend.generations.usage_sums(None, end, end + timedelta(seconds=1), ()) == {}

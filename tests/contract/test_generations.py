"""Generations as clients see them, on every backend: lists and their cursors, deletes,
Idempotency-Key reservations, and a key's usage."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.contract.conftest import OUTPUT, Backend, new_job
from vidgen.core.jobs import IdempotencyClaim, IdempotencyRace, UnknownCursor
from vidgen.core.models import Status
from vidgen.errors import InsufficientCredits


async def test_a_key_lists_its_own_generations_newest_first_page_by_page(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    other, _ = await backend.keys.create("b")
    mine = []
    for _ in range(5):
        mine.append((await backend.generations.create(new_job(key.id))).id)
        await backend.pass_time(0.001)  # distinct creation times, as real requests have
    await backend.generations.create(new_job(other.id))
    first, more = await backend.generations.list(key.id, limit=3)
    assert [g.id for g in first] == mine[::-1][:3] and more
    second, more = await backend.generations.list(key.id, limit=3, after=first[-1].id)
    assert [g.id for g in second] == mine[::-1][3:] and not more
    oldest, more = await backend.generations.list(key.id, limit=2, newest_first=False)
    assert [g.id for g in oldest] == mine[:2] and more
    rest, more = await backend.generations.list(key.id, after=oldest[-1].id, newest_first=False)
    assert [g.id for g in rest] == mine[2:] and not more


async def test_a_cursor_stays_valid_after_its_generation_is_deleted(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    ids = []
    for _ in range(4):
        ids.append((await backend.generations.create(new_job(key.id))).id)
        await backend.pass_time(0.001)
    page, _ = await backend.generations.list(key.id, limit=2)
    assert await backend.generations.delete(page[-1].id, key.id) is not None
    rest, more = await backend.generations.list(key.id, after=page[-1].id)
    assert [g.id for g in rest] == ids[::-1][2:] and not more
    everything, _ = await backend.generations.list(key.id)
    assert page[-1].id not in {g.id for g in everything}


async def test_a_cursor_that_is_not_one_of_the_keys_generations_is_refused(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a")
    other, _ = await backend.keys.create("b")
    theirs = await backend.generations.create(new_job(other.id))
    for after in (theirs.id, "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(UnknownCursor):
            await backend.generations.list(key.id, after=after)


async def test_lists_filter_by_the_status_a_client_reads(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    held = await backend.generations.create(new_job(key.id))
    running = await backend.generations.create(new_job(key.id))
    waiting = await backend.generations.create(new_job(key.id))
    done = await backend.generations.create(new_job(key.id, credits=1))
    for gen in (held, running, waiting, done):
        claimed = await backend.jobs.claim_next(gen.id, lease_seconds=30)
        assert claimed is not None and claimed.generation.id == gen.id
    await backend.jobs.release(held.id, held.id)
    await backend.jobs.heartbeat(waiting.id, waiting.id, lease_seconds=30, progress=0, waiting=True)
    await backend.jobs.complete(done.id, done.id, OUTPUT)

    async def shown(*statuses: Status) -> set[str]:
        page, _ = await backend.generations.list(key.id, statuses=statuses)
        return {g.id for g in page}

    # Held by a worker but waiting for its upstream: reads queued, and is listed so.
    assert await shown(Status.QUEUED) == {held.id, waiting.id}
    assert await shown(Status.GENERATING) == {running.id}
    assert await shown(Status.COMPLETED) == {done.id}
    assert await shown(Status.COMPLETED, Status.GENERATING) == {done.id, running.id}
    assert await shown(Status.FAILED) == set()


async def test_a_deleted_queued_generation_is_cancelled_refunded_and_gone_from_every_read(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a", credits=8)
    gen = await backend.generations.create(new_job(key.id))
    deleted = await backend.generations.delete(gen.id, key.id)
    assert deleted is not None and deleted.status is Status.CANCELLED
    assert (await backend.keys.get(key.id)).credits == 8
    assert await backend.ledger(gen.id) == [("charge", -8), ("refund", 8)]
    assert await backend.generations.get(gen.id, key_id=key.id) is None
    assert await backend.generations.get(gen.id) is None
    kept = await backend.generations.get(gen.id, include_deleted=True)
    assert kept is not None and kept.status is Status.CANCELLED
    assert await backend.generations.list(key.id) == ([], False)
    assert await backend.generations.request_cancel(gen.id, key.id) is None
    assert await backend.generations.delete(gen.id, key.id) is None
    assert await backend.jobs.claim_next("w", lease_seconds=30) is None


async def test_another_key_can_neither_delete_nor_see_a_generation(backend: Backend) -> None:
    owner, _ = await backend.keys.create("owner")
    other, _ = await backend.keys.create("other")
    gen = await backend.generations.create(new_job(owner.id))
    assert await backend.generations.delete(gen.id, other.id) is None
    assert await backend.generations.list(other.id) == ([], False)
    assert (await backend.generations.get(gen.id, key_id=owner.id)) is not None


async def test_an_idempotency_key_is_reserved_for_its_job_until_it_expires(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a", credits=100)
    claim = IdempotencyClaim(key="order-1", fingerprint="f1", ttl=timedelta(seconds=0.6))
    first = await backend.generations.create(new_job(key.id), idempotency=claim)
    match = await backend.generations.find_idempotent(key.id, "order-1")
    assert match is not None and (match.job_id, match.fingerprint) == (first.id, "f1")
    assert await backend.generations.find_idempotent(key.id, "order-2") is None
    other, _ = await backend.keys.create("b")
    assert await backend.generations.find_idempotent(other.id, "order-1") is None

    # A second create under the live reservation stores nothing and charges nothing.
    second = new_job(key.id)
    with pytest.raises(IdempotencyRace):
        await backend.generations.create(second, idempotency=claim)
    assert await backend.generations.get(second.id) is None
    assert (await backend.keys.get(key.id)).credits == 92

    await backend.pass_time(0.7)
    assert await backend.generations.find_idempotent(key.id, "order-1") is None
    third = await backend.generations.create(new_job(key.id), idempotency=claim)
    match = await backend.generations.find_idempotent(key.id, "order-1")
    assert match is not None and match.job_id == third.id


async def test_concurrent_creates_under_one_idempotency_key_store_one_job(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a", credits=100)
    claim = IdempotencyClaim(key="burst", fingerprint="f")
    results = await asyncio.gather(
        *(backend.generations.create(new_job(key.id), idempotency=claim) for _ in range(6)),
        return_exceptions=True,
    )
    stored = [r for r in results if not isinstance(r, BaseException)]
    assert len(stored) == 1
    assert all(isinstance(r, IdempotencyRace) for r in results if r not in stored)
    assert (await backend.keys.get(key.id)).credits == 92
    assert [g.id for g in (await backend.generations.list(key.id))[0]] == [stored[0].id]


async def test_credits_are_granted_and_an_unlimited_key_is_never_refused(
    backend: Backend,
) -> None:
    poor, _ = await backend.keys.create("poor", credits=5)
    with pytest.raises(InsufficientCredits):
        await backend.generations.create(new_job(poor.id, credits=8))
    assert await backend.keys.grant(poor.id, 10) == 15
    await backend.generations.create(new_job(poor.id, credits=8))
    assert (await backend.keys.get(poor.id)).credits == 7
    rich, _ = await backend.keys.create("rich")
    assert await backend.keys.grant(rich.id, 10) is None
    await backend.generations.create(new_job(rich.id, credits=10**6))
    assert (await backend.keys.get(rich.id)).credits is None


async def test_usage_sums_count_every_creation_and_credits_net_of_refunds(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a", credits=100)
    start = backend.now() - timedelta(seconds=1)
    await backend.generations.create(new_job(key.id, model="gen3a_turbo", credits=10))
    cancelled = await backend.generations.create(new_job(key.id, credits=8))
    deleted = await backend.generations.create(new_job(key.id, credits=8))
    await backend.generations.request_cancel(cancelled.id, key.id)
    await backend.generations.delete(deleted.id, key.id)
    end = backend.now() + timedelta(seconds=1)
    sums = await backend.generations.usage_sums(key.id, start, end, ("model",))
    # Deleted ones included: they were made.
    assert {model: (s.jobs, s.credits_net) for (model,), s in sums.items()} == {
        "runway/gen4_turbo": (2, 0),
        "gen3a_turbo": (1, 10),
    }
    assert await backend.generations.spent_since(key.id, start) == 10
    assert await backend.generations.usage_sums(key.id, end, end + timedelta(days=1), ()) == {}


async def test_running_count_counts_the_keys_claimed_jobs(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    for _ in range(3):
        await backend.generations.create(new_job(key.id))
    await backend.jobs.claim_next("w", lease_seconds=30)
    second = await backend.jobs.claim_next("w", lease_seconds=30)
    assert await backend.generations.running_count(key.id) == 2
    assert second is not None
    await backend.jobs.complete(second.generation.id, "w", OUTPUT)
    assert await backend.generations.running_count(key.id) == 1

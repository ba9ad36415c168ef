"""The queue, on every backend (in memory, SQLite, PostgreSQL): claims, leases, reaping, credits,
fairness between keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.contract.conftest import IMAGE, OUTPUT, Backend, new_job
from vidgen.core.jobs import Ending
from vidgen.core.models import Status
from vidgen.core.ports import GenerationRepository, JobQueue
from vidgen.errors import InsufficientCredits


@pytest.fixture
def jobs(backend: Backend) -> Any:
    return backend.jobs


@pytest.fixture
def generations(backend: Backend) -> Any:
    return backend.generations


@pytest.fixture
def keys(backend: Backend) -> Any:
    return backend.keys


async def test_a_stored_job_keeps_its_image_bytes_and_is_queued(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    gen = await generations.create(new_job(key.id))
    assert gen.status is Status.QUEUED and gen.has_first_image and not gen.has_last_image
    inputs = await jobs.load_inputs(gen.id)
    assert inputs["first"] == IMAGE


async def test_claims_take_the_oldest_job_of_the_highest_priority(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    first = await generations.create(new_job(key.id))
    second = await generations.create(new_job(key.id))
    urgent = await generations.create(new_job(key.id, priority=5))
    order = [(await jobs.claim_next("w", lease_seconds=30)) for _ in range(3)]
    assert [c.generation.id for c in order if c] == [urgent.id, first.id, second.id]
    assert await jobs.claim_next("w", lease_seconds=30) is None
    assert all(c and c.generation.status is Status.GENERATING and c.attempt == 1 for c in order)


async def test_a_worker_claims_only_the_models_it_serves(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    gen3 = await generations.create(new_job(key.id, model="gen3a_turbo"))
    assert await jobs.claim_next("w", lease_seconds=30, models={"runway/gen4_turbo"}) is None
    claimed = await jobs.claim_next("w", lease_seconds=30, models={"gen3a_turbo"})
    assert claimed and claimed.generation.id == gen3.id


async def test_concurrent_claims_never_hand_out_a_job_twice(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    created = {(await generations.create(new_job(key.id))).id for _ in range(20)}
    results = await asyncio.gather(*(jobs.claim_next(f"w{i}", lease_seconds=30) for i in range(30)))
    claimed = [r.generation.id for r in results if r is not None]
    assert sorted(claimed) == sorted(created)


async def test_progress_only_moves_forward(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    for value in (0.3, 0.1, 0.6, 0.5):
        assert (await jobs.heartbeat(gen.id, "w", lease_seconds=30, progress=value)).owned
    stored = await generations.get(gen.id)
    assert stored and stored.progress == pytest.approx(0.6)


async def test_a_job_waiting_on_its_upstream_reads_as_queued_until_it_starts(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    await jobs.heartbeat(gen.id, "w", lease_seconds=30, progress=0.0, waiting=True)
    assert (await generations.get(gen.id)).status is Status.QUEUED  # type: ignore[union-attr]
    assert await jobs.claim_next("w2", lease_seconds=30) is None  # still held, not claimable
    await jobs.heartbeat(gen.id, "w", lease_seconds=30, progress=0.1, waiting=False)
    assert (await generations.get(gen.id)).status is Status.GENERATING  # type: ignore[union-attr]


async def test_an_expired_lease_requeues_the_job_and_fences_out_the_old_worker(
    backend: Backend, jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("dead", lease_seconds=0.05)
    await backend.pass_time(0.1)
    reaped = await jobs.requeue_expired()
    assert reaped.requeued == [gen.id]
    again = await jobs.claim_next("alive", lease_seconds=30)
    assert again and again.generation.id == gen.id and again.attempt == 2
    # The presumed-dead worker comes back: none of its writes land.
    assert not (await jobs.heartbeat(gen.id, "dead", lease_seconds=30, progress=0.9)).owned
    assert await jobs.complete(gen.id, "dead", OUTPUT) is Ending.LOST
    assert await jobs.complete(gen.id, "alive", OUTPUT) is Ending.COMPLETED


async def test_a_job_that_loses_its_worker_too_often_fails_and_is_refunded(
    backend: Backend, jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a", credits=20)
    gen = await generations.create(new_job(key.id, max_attempts=2))
    for _ in range(2):
        await jobs.claim_next("w", lease_seconds=0.01)
        await backend.pass_time(0.05)
        await jobs.requeue_expired()
    final = await generations.get(gen.id)
    assert (
        final and final.status is Status.FAILED and final.error and final.error.name == "WorkerLost"
    )
    assert (await keys.get(key.id)).credits == 20  # type: ignore[union-attr]


async def test_submit_is_refused_without_enough_credits_and_nothing_is_stored(
    jobs: JobQueue, generations: GenerationRepository, keys: Any, backend: Backend
) -> None:
    key, _ = await keys.create("poor", credits=10)
    await generations.create(new_job(key.id, credits=8))
    job = new_job(key.id, credits=8)
    with pytest.raises(InsufficientCredits) as info:
        await generations.create(job)
    assert (info.value.required, info.value.available) == (8, 2)
    assert await generations.get(job.id) is None
    assert (await keys.get(key.id)).credits == 2  # type: ignore[union-attr]


async def test_failure_refunds_exactly_once(
    jobs: JobQueue, generations: GenerationRepository, keys: Any, backend: Backend
) -> None:
    key, _ = await keys.create("a", credits=15)
    gen = await generations.create(new_job(key.id, credits=15))
    await jobs.claim_next("w", lease_seconds=30)
    assert await jobs.fail(gen.id, "w", "Boom", "it broke") is Ending.FAILED
    assert await jobs.fail(gen.id, "w", "Boom", "again") is Ending.LOST
    assert await jobs.fail(gen.id, None, "Boom", "forced") is Ending.LOST
    assert (await keys.get(key.id)).credits == 15  # type: ignore[union-attr]
    assert await backend.ledger(gen.id) == [("charge", -15), ("refund", 15)]


async def test_cancelling_a_queued_job_ends_it_at_once_with_a_refund(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a", credits=8)
    gen = await generations.create(new_job(key.id))
    cancelled = await generations.request_cancel(gen.id, key.id)
    assert cancelled and cancelled.status is Status.CANCELLED
    assert (await keys.get(key.id)).credits == 8  # type: ignore[union-attr]
    assert await jobs.claim_next("w", lease_seconds=30) is None


async def test_cancelling_a_running_job_flags_it_for_its_worker(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    flagged = await generations.request_cancel(gen.id, key.id)
    assert flagged and flagged.status is Status.GENERATING
    beat = await jobs.heartbeat(gen.id, "w", lease_seconds=30, progress=0.2)
    assert beat.owned and beat.cancel_requested
    assert await jobs.finish_cancelled(gen.id, "w")


async def test_a_cancel_accepted_while_the_job_runs_wins_over_its_completion(
    jobs: JobQueue, generations: GenerationRepository, keys: Any, backend: Backend
) -> None:
    # The engine has finished and its video is stored; the cancel lands before the worker
    # records the completion. The client was told its cancel was taken: it is not charged.
    key, _ = await keys.create("a", credits=8)
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    told = await generations.request_cancel(gen.id, key.id)
    assert told and told.status is Status.GENERATING
    assert await jobs.complete(gen.id, "w", OUTPUT) is Ending.CANCELLED
    final = await generations.get(gen.id)
    assert final and final.status is Status.CANCELLED and final.video is None
    assert (await keys.get(key.id)).credits == 8  # type: ignore[union-attr]
    assert await backend.ledger(gen.id) == [("charge", -8), ("refund", 8)]


async def test_a_cancel_that_comes_after_the_completion_says_so(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a", credits=8)
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    assert await jobs.complete(gen.id, "w", OUTPUT) is Ending.COMPLETED
    told = await generations.request_cancel(gen.id, key.id)
    assert told and told.status is Status.COMPLETED
    assert (await keys.get(key.id)).credits == 0  # type: ignore[union-attr]


async def test_a_running_job_deleted_before_its_completion_never_completes(
    jobs: JobQueue, generations: GenerationRepository, keys: Any, backend: Backend
) -> None:
    key, _ = await keys.create("a", credits=8)
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    deleted = await generations.delete(gen.id, key.id)
    assert deleted and deleted.status is Status.GENERATING
    assert await jobs.complete(gen.id, "w", OUTPUT) is Ending.CANCELLED
    assert await generations.get(gen.id, key_id=key.id) is None
    row = await generations.get(gen.id, include_deleted=True)
    assert row and row.status is Status.CANCELLED and row.video is None
    assert await backend.ledger(gen.id) == [("charge", -8), ("refund", 8)]


async def test_a_delete_after_the_completion_answers_the_completed_job(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    # The caller removes the stored files of what the delete answers as finished.
    key, _ = await keys.create("a")
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    await jobs.complete(gen.id, "w", OUTPUT)
    deleted = await generations.delete(gen.id, key.id)
    assert deleted and deleted.status is Status.COMPLETED and deleted.video is not None
    assert await generations.delete(gen.id, key.id) is None


@pytest.mark.parametrize("ending", ["fail", "retry"])
async def test_a_job_whose_cancel_was_accepted_ends_cancelled_however_its_attempt_ends(
    jobs: JobQueue, generations: GenerationRepository, keys: Any, ending: str
) -> None:
    key, _ = await keys.create("a", credits=8)
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    await generations.request_cancel(gen.id, key.id)
    if ending == "fail":
        assert await jobs.fail(gen.id, "w", "Boom", "it broke") is Ending.CANCELLED
    else:
        assert await jobs.retry_later(gen.id, "w", delay_seconds=0) is Ending.CANCELLED
    final = await generations.get(gen.id)
    assert final and final.status is Status.CANCELLED
    assert (await keys.get(key.id)).credits == 8  # type: ignore[union-attr]
    assert await jobs.claim_next("w", lease_seconds=30) is None


async def test_another_keys_generation_does_not_exist_for_it(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    owner, _ = await keys.create("owner")
    other, _ = await keys.create("other")
    gen = await generations.create(new_job(owner.id))
    assert await generations.get(gen.id, key_id=other.id) is None
    assert await generations.request_cancel(gen.id, other.id) is None
    assert (await generations.get(gen.id)).status is Status.QUEUED  # type: ignore[union-attr]


async def test_a_retry_waits_for_its_backoff(
    backend: Backend, jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    assert await jobs.retry_later(gen.id, "w", delay_seconds=0.3) is Ending.RETRIED
    assert await jobs.claim_next("w", lease_seconds=30) is None
    await backend.pass_time(0.35)
    again = await jobs.claim_next("w", lease_seconds=30)
    assert again and again.attempt == 2


async def test_a_released_job_goes_back_without_using_an_attempt(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    gen = await generations.create(new_job(key.id))
    await jobs.claim_next("w", lease_seconds=30)
    assert await jobs.release(gen.id, "w")
    again = await jobs.claim_next("w2", lease_seconds=30)
    assert again and again.attempt == 1


async def test_queue_depth_counts_queued_jobs_per_model(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    key, _ = await keys.create("a")
    for model in ("gen3a_turbo", "gen3a_turbo", "runway/gen4_turbo"):
        await generations.create(new_job(key.id, model=model))
    await jobs.claim_next("w", lease_seconds=30, models={"runway/gen4_turbo"})
    assert await jobs.queue_depth() == {"gen3a_turbo": 2}


async def test_one_keys_backlog_does_not_starve_another_keys_single_job(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    big, _ = await keys.create("big")
    small, _ = await keys.create("small")
    for _ in range(60):
        await generations.create(new_job(big.id))
    for _ in range(20):  # the big key's backlog is being worked through
        assert await jobs.claim_next("w", lease_seconds=30)
    lone = await generations.create(new_job(small.id))
    order = [(await jobs.claim_next("w", lease_seconds=30)) for _ in range(3)]
    assert lone.id in [c.generation.id for c in order if c]


async def test_keys_take_turns_in_the_claim_order(
    jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    a, _ = await keys.create("a")
    b, _ = await keys.create("b")
    for _ in range(4):
        await generations.create(new_job(a.id))
    for _ in range(3):
        await generations.create(new_job(b.id))
    claimed = [(await jobs.claim_next("w", lease_seconds=30)) for _ in range(7)]
    owners = ["a" if c and c.generation.key_id == a.id else "b" for c in claimed]
    assert owners == ["a", "b", "a", "b", "a", "b", "a"]


async def test_a_key_never_runs_more_than_its_limit_even_under_concurrent_claims(
    backend: Backend, jobs: JobQueue, generations: GenerationRepository, keys: Any
) -> None:
    limited, _ = await keys.create("limited", max_concurrency=2)
    created = [await generations.create(new_job(limited.id)) for _ in range(10)]
    for round_ in range(3):  # a race is a race: give it a few chances to show
        began = backend.now()
        results = await asyncio.gather(
            *(jobs.claim_next(f"w{round_}-{i}", lease_seconds=30) for i in range(12))
        )
        claimed = [(f"w{round_}-{i}", r) for i, r in enumerate(results) if r is not None]
        assert len(claimed) == 2
        assert await generations.running_count(limited.id) == 2
        # Started by this round's claim, even a job that an earlier round's claim handed back.
        assert all(c.generation.started_at and c.generation.started_at >= began for _, c in claimed)
        for worker, claim in claimed:
            assert await jobs.complete(claim.generation.id, worker, OUTPUT) is Ending.COMPLETED
    # A claim that lost the race handed its job back untouched: queued, never started, and
    # its next claim is its first attempt.
    final = [await generations.get(g.id) for g in created]
    assert sorted(g.status for g in final) == [Status.COMPLETED] * 6 + [Status.QUEUED] * 4
    assert all((g.started_at is None) == (g.status is Status.QUEUED) for g in final)
    await keys.configure(limited.id, unlimited_concurrency=True)
    rest = [await jobs.claim_next("w", lease_seconds=30) for _ in range(4)]
    assert all(c is not None and c.attempt == 1 for c in rest)

"""Leases on every backend: what a worker that lost its lease can no longer write, what an
attempt hands to the next one, and how a lease that runs out ends a job that was cancelled."""

from __future__ import annotations

import asyncio

from tests.contract.conftest import IMAGE, OUTPUT, Backend, new_job
from vidgen.core.jobs import Ending
from vidgen.core.models import Status


async def test_engine_state_saved_under_the_lease_reaches_the_next_attempt(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a")
    gen = await backend.generations.create(new_job(key.id))
    first = await backend.jobs.claim_next("w1", lease_seconds=0.05)
    assert first is not None and first.engine_state == {}
    assert await backend.jobs.save_engine_state(gen.id, "w1", {"task": "t-1"})
    await backend.pass_time(0.1)
    assert (await backend.jobs.requeue_expired()).requeued == [gen.id]
    second = await backend.jobs.claim_next("w2", lease_seconds=30)
    assert second is not None and second.engine_state == {"task": "t-1"}
    # The first worker comes back: nothing it writes lands.
    assert not await backend.jobs.save_engine_state(gen.id, "w1", {"task": "t-2"})
    assert not await backend.jobs.release(gen.id, "w1")
    assert not await backend.jobs.finish_cancelled(gen.id, "w1")
    assert await backend.jobs.retry_later(gen.id, "w1", delay_seconds=0) is Ending.LOST
    assert await backend.jobs.fail(gen.id, "w1", "Boom", "late") is Ending.LOST
    assert await backend.jobs.complete(gen.id, "w2", OUTPUT) is Ending.COMPLETED


async def test_a_heartbeat_keeps_the_lease_and_a_lost_one_says_so(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    gen = await backend.generations.create(new_job(key.id))
    await backend.jobs.claim_next("w", lease_seconds=0.6)
    # Longer than the lease in all, but renewed in time.
    for _ in range(2):
        await backend.pass_time(0.4)
        assert (await backend.jobs.heartbeat(gen.id, "w", lease_seconds=0.6, progress=0.1)).owned
        assert (await backend.jobs.requeue_expired()).requeued == []
    await backend.jobs.complete(gen.id, "w", OUTPUT)
    beat = await backend.jobs.heartbeat(gen.id, "w", lease_seconds=30, progress=0.5)
    assert not beat.owned and not beat.cancel_requested
    final = await backend.generations.get(gen.id)
    assert final is not None and final.status is Status.COMPLETED and final.progress == 1.0


async def test_a_cancelled_job_whose_lease_runs_out_ends_cancelled_and_refunded(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a", credits=8)
    gen = await backend.generations.create(new_job(key.id))
    await backend.jobs.claim_next("dead", lease_seconds=0.05)
    await backend.generations.request_cancel(gen.id, key.id)
    await backend.pass_time(0.1)
    reaped = await backend.jobs.requeue_expired()
    assert (reaped.requeued, reaped.failed) == ([], [gen.id])
    final = await backend.generations.get(gen.id)
    assert final is not None and final.status is Status.CANCELLED
    assert final.error is not None and final.error.name == "Cancelled"
    assert (await backend.keys.get(key.id)).credits == 8


async def test_a_forced_failure_ends_an_active_job_whoever_holds_it(backend: Backend) -> None:
    key, _ = await backend.keys.create("a", credits=16)
    queued = await backend.generations.create(new_job(key.id))
    running = await backend.generations.create(new_job(key.id))
    await backend.jobs.claim_next("w", lease_seconds=30)
    await backend.jobs.claim_next("w", lease_seconds=30)
    await backend.jobs.release(queued.id, "w")
    for gen in (queued, running):
        assert await backend.jobs.fail(gen.id, None, "Stuck", "ended by hand") is Ending.FAILED
        final = await backend.generations.get(gen.id)
        assert final is not None and final.status is Status.FAILED
        assert final.error is not None and final.error.message == "ended by hand"
    assert (await backend.keys.get(key.id)).credits == 16


async def test_a_job_is_claimed_with_its_input_images(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    with_image = await backend.generations.create(new_job(key.id))
    without = await backend.generations.create(new_job(key.id, image=None))
    assert not without.has_first_image
    for gen, images in ((with_image, {"first": IMAGE}), (without, {})):
        claimed = await backend.jobs.claim_next("w", lease_seconds=30)
        assert claimed is not None and claimed.generation.id == gen.id
        # A claim may carry the images, or leave them to load_inputs (None).
        inputs = claimed.inputs
        if inputs is None:
            inputs = await backend.jobs.load_inputs(gen.id)
        assert inputs == images


async def test_a_stored_job_wakes_a_waiting_worker(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    waiting = asyncio.create_task(backend.jobs.wakeup.wait(3600))
    await asyncio.sleep(0)  # the slot is waiting now
    await backend.generations.create(new_job(key.id))
    await asyncio.wait_for(waiting, 10)


async def test_a_providers_webhook_reaches_the_running_jobs_heartbeat_and_no_ended_job(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a")
    gen = await backend.generations.create(new_job(key.id))
    assert await backend.jobs.poke(gen.id)  # queued (a worker died): counted, harmless
    await backend.jobs.claim_next("w", lease_seconds=30)
    assert await backend.jobs.poke(gen.id)
    beat = await backend.jobs.heartbeat(gen.id, "w", lease_seconds=30, progress=0.1)
    assert beat.owned and beat.pokes == 2
    # Reading it does not reset it: the worker wakes on a rise, so two API processes can count.
    assert (await backend.jobs.heartbeat(gen.id, "w", lease_seconds=30, progress=0.1)).pokes == 2
    await backend.jobs.complete(gen.id, "w", OUTPUT)
    assert not await backend.jobs.poke(gen.id)
    assert not await backend.jobs.poke("no-such-job")

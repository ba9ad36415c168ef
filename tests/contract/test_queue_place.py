"""Where a queued job stands, on every backend: its position in claim order (priority, then
turns, then age) and the measured run time of its model that its ETA is computed from."""

from __future__ import annotations

from tests.contract.conftest import OUTPUT, Backend, new_job


async def test_a_queued_job_knows_its_position_in_claim_order(backend: Backend) -> None:
    a, _ = await backend.keys.create("a")
    b, _ = await backend.keys.create("b")
    vip, _ = await backend.keys.create("vip", priority=5)
    a1 = await backend.generations.create(new_job(a.id))
    a2 = await backend.generations.create(new_job(a.id))
    b1 = await backend.generations.create(new_job(b.id))  # b's turn comes before a's second
    urgent = await backend.generations.create(new_job(vip.id, priority=5))
    places = {g.id: await backend.generations.queue_place(g.id) for g in (a1, a2, b1, urgent)}
    positions = {g: p.position for g, p in places.items() if p is not None}
    assert positions == {urgent.id: 1, a1.id: 2, b1.id: 3, a2.id: 4}
    claimed = await backend.jobs.claim_next("w", lease_seconds=60)
    assert claimed is not None and claimed.generation.id == urgent.id
    assert await backend.generations.queue_place(urgent.id) is None  # running: not queued
    place = await backend.generations.queue_place(a2.id)
    assert place is not None and (place.position, place.running) == (3, 1)


async def test_the_estimate_is_measured_from_the_models_completed_runs(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    done = [await backend.generations.create(new_job(key.id)) for _ in range(2)]
    other_model = await backend.generations.create(new_job(key.id, model="gen3a_turbo"))
    waiting = await backend.generations.create(new_job(key.id))
    place = await backend.generations.queue_place(waiting.id)
    assert place is not None and place.mean_run_seconds is None  # nothing measured yet
    for gen, seconds in zip(done, (10, 20), strict=True):
        assert (await backend.jobs.claim_next("w", lease_seconds=60)).generation.id == gen.id
        await backend.pass_time(seconds)
        await backend.jobs.complete(gen.id, "w", OUTPUT)
    claimed = await backend.jobs.claim_next("w", lease_seconds=60)
    assert claimed is not None and claimed.generation.id == other_model.id
    await backend.pass_time(500)
    await backend.jobs.complete(other_model.id, "w", OUTPUT)  # another model's: not counted
    place = await backend.generations.queue_place(waiting.id)
    assert place is not None and place.position == 1 and place.running == 0
    assert place.mean_run_seconds is not None and abs(place.mean_run_seconds - 15) < 0.01

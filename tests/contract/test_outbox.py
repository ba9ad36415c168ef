"""The webhook outbox, on every backend: a final event exists exactly when the state change that
causes it does, and each event is claimed with a lease, then delivered, retried or given up."""

from __future__ import annotations

from typing import Any

from tests.contract.conftest import HOOK, OUTPUT, Backend, new_job
from vidgen.core.events import FINAL_EVENTS


async def claim_types(backend: Backend, lease_seconds: float = 30) -> list[str]:
    return [e.type for e in await backend.webhooks.claim_due(limit=10, lease_seconds=lease_seconds)]


async def test_each_ending_queues_its_final_event_with_the_state_change(backend: Backend) -> None:
    key, _ = await backend.keys.create("a", credits=100)
    endings: dict[str, Any] = {}
    for name in ("complete", "fail", "cancel", "reaped"):
        gen = await backend.generations.create(
            new_job(key.id, webhook_events=FINAL_EVENTS, max_attempts=1)
        )
        claimed = await backend.jobs.claim_next("w", lease_seconds=0.05 if name == "reaped" else 30)
        assert claimed is not None and claimed.generation.id == gen.id
        endings[name] = gen.id
        if name == "complete":
            await backend.jobs.complete(gen.id, "w", OUTPUT)
        elif name == "fail":
            await backend.jobs.fail(gen.id, "w", "Boom", "it broke")
        elif name == "cancel":
            await backend.generations.request_cancel(gen.id, key.id)
            await backend.jobs.finish_cancelled(gen.id, "w")
    queued = await backend.generations.create(new_job(key.id, webhook_events=FINAL_EVENTS))
    await backend.generations.request_cancel(queued.id, key.id)
    await backend.pass_time(0.1)
    assert (await backend.jobs.requeue_expired()).failed == [endings["reaped"]]

    events = await backend.webhooks.claim_due(limit=10, lease_seconds=30)
    assert {(e.job_id, e.type) for e in events} == {
        (endings["complete"], "generation.completed"),
        (endings["fail"], "generation.failed"),
        (endings["cancel"], "generation.cancelled"),
        (endings["reaped"], "generation.failed"),
        (queued.id, "generation.cancelled"),
    }
    assert all(e.final and e.url == HOOK and e.key_id == key.id and e.attempts == 0 for e in events)


async def test_a_job_without_a_webhook_for_an_event_queues_none(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    silent = await backend.generations.create(new_job(key.id))
    failures_only = await backend.generations.create(new_job(key.id, webhook_events=("failed",)))
    for gen in (silent, failures_only):
        await backend.jobs.claim_next("w", lease_seconds=30)
        await backend.jobs.complete(gen.id, "w", OUTPUT)
    facts = (await backend.generations.get(failures_only.id)).facts  # type: ignore[union-attr]
    assert await backend.webhooks.enqueue(failures_only.id, key.id, facts, "progress", {}) is None
    assert await claim_types(backend) == []


async def test_a_claimed_event_is_leased_then_delivered_once(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    gen = await backend.generations.create(new_job(key.id, webhook_events=("started",)))
    facts = (await backend.generations.get(gen.id)).facts  # type: ignore[union-attr]
    event_id = await backend.webhooks.enqueue(gen.id, key.id, facts, "started", {"n": 1})
    (event,) = await backend.webhooks.claim_due(limit=10, lease_seconds=0.5)
    assert (event.id, event.type, event.final, event.data) == (
        event_id,
        "generation.started",
        False,
        {"n": 1},
    )
    assert await claim_types(backend) == []  # leased to the first claimer
    await backend.pass_time(0.6)
    (again,) = await backend.webhooks.claim_due(limit=10, lease_seconds=30)  # the lease ran out
    await backend.webhooks.delivered(again.id, 204)
    await backend.pass_time(0.1)
    assert await claim_types(backend) == []
    await backend.webhooks.give_up(again.id, status=500, error="late")  # settled: no effect
    assert await claim_types(backend) == []


async def test_progress_events_expire_long_before_final_ones(backend: Backend) -> None:
    key, _ = await backend.keys.create("a")
    gen = await backend.generations.create(
        new_job(key.id, webhook_events=("progress", "completed"))
    )
    await backend.jobs.claim_next("w", lease_seconds=30)
    await backend.webhooks.enqueue(gen.id, key.id, gen.facts, "progress", {"progress": 0.5})
    await backend.jobs.complete(gen.id, "w", OUTPUT)
    events = await backend.webhooks.claim_due(limit=10, lease_seconds=30)
    lifetimes = {e.type: e.expires_at - e.created_at for e in events}
    assert lifetimes.keys() == {"generation.progress", "generation.completed"}
    assert lifetimes["generation.progress"] < lifetimes["generation.completed"]


async def test_a_refused_delivery_is_retried_after_its_delay_and_can_be_given_up(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a")
    gen = await backend.generations.create(new_job(key.id, webhook_events=FINAL_EVENTS))
    await backend.jobs.claim_next("w", lease_seconds=30)
    await backend.jobs.fail(gen.id, "w", "Boom", "it broke")
    (event,) = await backend.webhooks.claim_due(limit=10, lease_seconds=30)
    await backend.webhooks.retry_later(event.id, delay_seconds=0.5, status=500, error="nope")
    assert await claim_types(backend) == []  # not before its delay
    await backend.pass_time(0.6)
    (retried,) = await backend.webhooks.claim_due(limit=10, lease_seconds=30)
    assert retried.id == event.id and retried.attempts == 1
    await backend.webhooks.give_up(retried.id, status=None, error="expired")
    await backend.pass_time(0.1)
    assert await claim_types(backend) == []


async def test_claims_take_the_events_due_first_up_to_the_limit(backend: Backend) -> None:
    key, _ = await backend.keys.create("a", credits=100)
    ids = []
    for _ in range(3):
        gen = await backend.generations.create(new_job(key.id, webhook_events=FINAL_EVENTS))
        await backend.jobs.claim_next("w", lease_seconds=30)
        await backend.jobs.fail(gen.id, "w", "Boom", "it broke")
        ids.append(gen.id)
        await backend.pass_time(0.001)
    first = await backend.webhooks.claim_due(limit=2, lease_seconds=30)
    rest = await backend.webhooks.claim_due(limit=2, lease_seconds=30)
    # Which ones, not in what order: PostgreSQL returns the claimed rows in any order.
    assert {e.job_id for e in first} == set(ids[:2]) and [e.job_id for e in rest] == ids[2:]

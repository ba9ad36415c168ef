"""``service.live`` on the in-memory store: a stream and a held create ride out a database
outage, and a generation deleted while a create is held is answered as it was last seen."""

from __future__ import annotations

import asyncio

from tests.contract.conftest import OUTPUT, new_job
from vidgen.service.live import Live
from vidgen.store.memory import MemoryStore


async def test_the_stream_rides_out_a_database_outage_and_still_ends_with_the_final_event() -> None:
    store = MemoryStore()
    key, _ = await store.keys.create("a")
    gen = await store.generations.create(new_job(key.id))
    events = Live(store.generations, poll_interval=0).follow(key, gen)
    first = await anext(events)
    assert (first.type, first.data["status"]) == ("status", "queued")
    await store.jobs.claim_next("w", lease_seconds=60)
    await store.jobs.complete(gen.id, "w", OUTPUT)
    store.available = False
    following = asyncio.ensure_future(anext(events))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not following.done()  # the outage is waited out, not turned into an end
    store.available = True
    final = await following
    assert (final.type, final.data["status"]) == ("completed", "completed")
    assert [e async for e in events] == []  # and the stream ends there


async def test_a_held_create_whose_generation_is_deleted_is_answered_as_last_seen() -> None:
    store = MemoryStore()
    key, _ = await store.keys.create("a")
    gen = await store.generations.create(new_job(key.id))
    waiting = asyncio.ensure_future(Live(store.generations, poll_interval=0.01).wait(key, gen, 30))
    await asyncio.sleep(0.05)
    await store.generations.delete(gen.id, key.id)
    answer = await waiting
    assert answer.id == gen.id and answer.status.value == "queued"

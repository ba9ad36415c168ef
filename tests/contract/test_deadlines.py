"""Cancel-After deadlines on every backend: a job not ended by its deadline ends cancelled,
refunded, with the error DeadlineExceeded, whether it was queued or running; one that ended in
time, or has no deadline, is left alone. Time is the stores' clock, moved by the test."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from tests.contract.conftest import OUTPUT, Backend, new_job
from vidgen.core.jobs import Ending, NewJob
from vidgen.core.models import Status


def with_deadline(job: NewJob, seconds: float) -> NewJob:
    return dataclasses.replace(job, cancel_after=timedelta(seconds=seconds))


async def test_a_queued_job_past_its_deadline_ends_cancelled_and_refunded(backend: Backend) -> None:
    key, _ = await backend.keys.create("a", credits=16)
    late = await backend.generations.create(with_deadline(new_job(key.id), 30))
    free = await backend.generations.create(new_job(key.id))
    await backend.pass_time(29)
    assert await backend.jobs.end_overdue() == []
    await backend.pass_time(2)
    assert await backend.jobs.end_overdue() == [late.id]
    assert await backend.jobs.end_overdue() == []  # ended once, refunded once
    final = await backend.generations.get(late.id)
    assert final is not None and final.status is Status.CANCELLED
    assert final.error is not None and final.error.name == "DeadlineExceeded"
    assert await backend.ledger(late.id) == [("charge", -8), ("refund", 8)]
    assert (await backend.keys.get(key.id)).credits == 8  # the other job's charge only
    untouched = await backend.generations.get(free.id)
    assert untouched is not None and untouched.status is Status.QUEUED


async def test_a_running_job_past_its_deadline_ends_and_its_worker_loses_it(
    backend: Backend,
) -> None:
    key, _ = await backend.keys.create("a", credits=8)
    gen = await backend.generations.create(with_deadline(new_job(key.id), 10))
    assert await backend.jobs.claim_next("w", lease_seconds=60) is not None
    await backend.pass_time(11)
    assert await backend.jobs.end_overdue() == [gen.id]
    beat = await backend.jobs.heartbeat(gen.id, "w", lease_seconds=60, progress=0.5)
    assert not beat.owned
    assert await backend.jobs.complete(gen.id, "w", OUTPUT) is Ending.LOST
    final = await backend.generations.get(gen.id)
    assert final is not None and final.status is Status.CANCELLED
    assert final.error is not None and final.error.name == "DeadlineExceeded"
    assert (await backend.keys.get(key.id)).credits == 8


async def test_a_job_that_completed_before_its_deadline_stays_completed(backend: Backend) -> None:
    key, _ = await backend.keys.create("a", credits=8)
    gen = await backend.generations.create(with_deadline(new_job(key.id), 10))
    await backend.jobs.claim_next("w", lease_seconds=60)
    assert await backend.jobs.complete(gen.id, "w", OUTPUT) is Ending.COMPLETED
    await backend.pass_time(20)
    assert await backend.jobs.end_overdue() == []
    final = await backend.generations.get(gen.id)
    assert final is not None and final.status is Status.COMPLETED
    assert (await backend.keys.get(key.id)).credits == 0

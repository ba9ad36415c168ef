"""``Worker`` on the in-memory store, with small engines defined here (one that makes a tiny real
MP4 with the noop engine's encoder, one that raises, one held until the test lets it go) and real
local storage: how each attempt ends, what it costs the key, and what is left in storage.

Leases expire by the store's clock, which stands still until a test moves it; the settings'
lease is a fraction of a second only so that heartbeats (every third of a lease) come often and
the tests that wait for one take milliseconds."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from vidgen.core.engine import Engine, EngineContext, EngineJob, EngineResult
from vidgen.core.facts import JobFacts, WebhookSubscription
from vidgen.core.jobs import ClaimedJob, NewJob
from vidgen.core.keys import ApiKey
from vidgen.core.models import Generation, Status, VideoInfo
from vidgen.core.storage import thumbnail_key, video_key
from vidgen.engines.noop import solid_clip
from vidgen.errors import EngineError, RetryableEngineError
from vidgen.media.video import probe_video
from vidgen.service.uploads import UPLOAD_TTL_SECONDS, Uploads
from vidgen.settings import Settings
from vidgen.storage.local import LocalStorage
from vidgen.store.memory import ManualClock, MemoryStore
from vidgen.worker import persist
from vidgen.worker.policy import RetryPolicy
from vidgen.worker.runner import Worker, reap_expired_leases

FRAMES = 6
#: The retry policy's longest backoff: moving the clock this far makes a retry claimable.
BACKOFF = 1.0


@functools.cache
def tiny_clip() -> tuple[bytes, bytes, VideoInfo]:
    return solid_clip(64, 36, 24, FRAMES, 90)


class TinyEngine(Engine):
    """A real, tiny MP4 at once. Records the jobs it ran, in order."""

    name = "tiny"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.ran: list[str] = []

    async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
        self.ran.append(job.id)
        video, thumbnail, info = tiny_clip()
        path = ctx.scratch_dir / "out.mp4"
        path.write_bytes(video)
        (ctx.scratch_dir / "thumb.jpg").write_bytes(thumbnail)
        ctx.report_progress(1.0)
        return EngineResult(
            path=path,
            width=info.width,
            height=info.height,
            fps=info.fps,
            frame_count=info.frame_count,
            thumbnail=ctx.scratch_dir / "thumb.jpg",
            info=info,
        )


class HeldEngine(TinyEngine):
    """Holds every job until ``release`` is set, checking for a cancel meanwhile."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.release = asyncio.Event()
        self.running: set[str] = set()
        self.handed_back: list[str] = []

    async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
        self.running.add(job.id)
        try:
            while not self.release.is_set():
                if ctx.cancelled and ctx.handing_back:
                    self.handed_back.append(job.id)
                ctx.raise_if_cancelled()
                await asyncio.sleep(0.001)
        finally:
            self.running.discard(job.id)
        return await super().generate(job, ctx)


class FailingEngine(TinyEngine):
    """Raises ``errors[attempt - 1]`` (the last one for later attempts), or succeeds once
    they are used up (``None``)."""

    def __init__(self, settings: Settings, *errors: Exception | None) -> None:
        super().__init__(settings)
        self.errors = errors

    async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
        error = self.errors[min(job.attempt, len(self.errors)) - 1]
        if error is not None:
            raise error
        return await super().generate(job, ctx)


class GatedStorage(LocalStorage):
    """Holds the worker after its files are stored, until ``release`` is set."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.stored = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    async def put_files(
        self, files: Sequence[tuple[str, Path, str]], *, consume: bool = False
    ) -> list[int]:
        sizes = await super().put_files(files, consume=consume)
        self.stored.set()
        await self.release.wait()
        return sizes


@dataclass
class World:
    settings: Settings
    store: MemoryStore
    clock: ManualClock
    storage: GatedStorage
    key: ApiKey
    workers: list[Worker] = field(default_factory=list)

    def worker(self, engine: Engine, **options: Any) -> Worker:
        options.setdefault("policy", RetryPolicy(base_delay=BACKOFF, max_delay=BACKOFF))
        worker = Worker(
            store=self.store.jobs,
            storage=self.storage,
            engines={"tiny": engine},
            settings=self.settings,
            webhooks=self.store.webhooks,
            **options,
        )
        self.workers.append(worker)
        return worker

    async def submit(
        self, key: ApiKey | None = None, *, max_attempts: int = 3, events: tuple[str, ...] = ()
    ) -> Generation:
        hook = WebhookSubscription(url="https://hooks.example/", events=events) if events else None
        job = NewJob(
            id=str(uuid.uuid4()),
            key_id=(key or self.key).id,
            model="runway/gen4_turbo",
            engine="tiny",
            dialect="aimlapi",
            prompt="p",
            aspect_ratio="16:9",
            width=1280,
            height=720,
            duration=1,
            fps=24,
            frames=FRAMES,
            seed=1,
            credits=8,
            max_attempts=max_attempts,
            first_image=None,
            last_image=None,
            priority=(key or self.key).priority,
            facts=JobFacts(webhook=hook),
        )
        return await self.store.generations.create(job)

    async def claim(self, worker: Worker) -> ClaimedJob:
        claimed = await self.store.jobs.claim_next(
            worker.name, lease_seconds=self.settings.lease_seconds
        )
        assert claimed is not None
        return claimed

    async def read(self, job_id: str) -> Generation:
        gen = await self.store.generations.get(job_id, include_deleted=True)
        assert gen is not None
        return gen

    async def balance(self) -> int | None:
        key = await self.store.keys.get(self.key.id)
        assert key is not None
        return key.credits

    def ledger(self, job_id: str) -> list[tuple[str, int]]:
        return sorted((e.reason, e.delta) for e in self.store.ledger(job_id))

    async def outputs(self, job_id: str) -> list[bool]:
        return [
            await self.storage.stat(video_key(job_id)) is not None,
            await self.storage.stat(thumbnail_key(job_id)) is not None,
        ]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = make_settings(tmp_path / "data").model_copy(
        update={"lease_seconds": 0.06, "poll_interval": 0.01}
    )
    clock = ManualClock()
    store = MemoryStore(clock=clock)
    key, _ = await store.keys.create("k", credits=80)
    yield World(settings, store, clock, GatedStorage(tmp_path / "files"), key)


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Wait for ``condition``; the timeout only stops a broken test from hanging."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        await asyncio.sleep(0.001)


async def test_a_job_completes_with_its_video_stored_and_is_charged_once(world: World) -> None:
    worker = world.worker(TinyEngine(world.settings))
    gen = await world.submit()
    assert await worker.execute(await world.claim(worker)) == "completed"
    done = await world.read(gen.id)
    assert done.status is Status.COMPLETED and done.progress == 1.0 and done.video is not None
    assert (done.video.width, done.video.height, done.video.frame_count) == (64, 36, FRAMES)
    path = world.storage.local_path(done.video.key)
    assert probe_video(path).frame_count == FRAMES
    assert await world.outputs(gen.id) == [True, True]
    assert world.ledger(gen.id) == [("charge", -8)]


async def test_a_job_faster_than_a_heartbeat_announces_started_before_completed(
    world: World,
) -> None:
    worker = world.worker(TinyEngine(world.settings))
    gen = await world.submit(events=("started", "completed"))
    await worker.execute(await world.claim(worker))
    events = await world.store.webhooks.claim_due(limit=10, lease_seconds=30)
    assert [(e.job_id, e.type) for e in events] == [
        (gen.id, "generation.started"),
        (gen.id, "generation.completed"),
    ]


async def test_an_engine_error_that_is_not_retryable_fails_the_job_refunded(
    world: World,
) -> None:
    failure = EngineError("The prompt was refused upstream.", name="ContentRejected")
    worker = world.worker(FailingEngine(world.settings, failure))
    gen = await world.submit(max_attempts=3)
    assert await worker.execute(await world.claim(worker)) == "failed"
    failed = await world.read(gen.id)
    assert failed.status is Status.FAILED and failed.error is not None
    assert (failed.error.name, failed.error.message) == (
        "ContentRejected",
        "The prompt was refused upstream.",
    )
    assert world.ledger(gen.id) == [("charge", -8), ("refund", 8)]
    assert await world.outputs(gen.id) == [False, False]


async def test_a_retryable_error_runs_the_job_again_after_its_backoff(world: World) -> None:
    engine = FailingEngine(world.settings, RetryableEngineError("upstream 503"), None)
    worker = world.worker(engine)
    gen = await world.submit()
    assert await worker.execute(await world.claim(worker)) == "retried"
    waiting = await world.read(gen.id)
    assert waiting.status is Status.QUEUED and waiting.error is None
    assert await world.store.jobs.claim_next(worker.name, lease_seconds=1) is None
    world.clock.advance(BACKOFF)
    second = await world.claim(worker)
    assert second.attempt == 2
    assert await worker.execute(second) == "completed"
    assert world.ledger(gen.id) == [("charge", -8)]


async def test_a_job_out_of_attempts_fails_refunded(world: World) -> None:
    worker = world.worker(FailingEngine(world.settings, RetryableEngineError("upstream 503")))
    gen = await world.submit(max_attempts=2)
    assert await worker.execute(await world.claim(worker)) == "retried"
    world.clock.advance(BACKOFF)
    assert await worker.execute(await world.claim(worker)) == "failed"
    failed = await world.read(gen.id)
    assert failed.status is Status.FAILED and failed.error is not None
    assert failed.error.message == "upstream 503"
    assert await world.balance() == 80


async def test_an_unexpected_exception_is_retried_and_never_shown_to_the_client(
    world: World,
) -> None:
    boom = RuntimeError("password=hunter2 in a stack frame")
    worker = world.worker(FailingEngine(world.settings, boom))
    gen = await world.submit(max_attempts=2)
    assert await worker.execute(await world.claim(worker)) == "retried"
    world.clock.advance(BACKOFF)
    assert await worker.execute(await world.claim(worker)) == "failed"
    failed = await world.read(gen.id)
    assert failed.error is not None and failed.error.name == "InternalError"
    assert "hunter2" not in failed.error.message


async def test_an_engine_that_produces_no_file_fails_the_job(world: World) -> None:
    class Empty(TinyEngine):
        async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
            return EngineResult(
                path=ctx.scratch_dir / "none.mp4", width=2, height=2, fps=24, frame_count=1
            )

    gen = await world.submit()
    worker = world.worker(Empty(world.settings))
    assert await worker.execute(await world.claim(worker)) == "failed"
    failed = await world.read(gen.id)
    assert failed.error is not None and failed.error.name == "BadOutput"


async def test_engine_state_saved_by_one_attempt_reaches_the_next(world: World) -> None:
    seen: list[dict[str, Any]] = []

    class Resuming(TinyEngine):
        async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
            seen.append(dict(job.state))
            if job.attempt == 1:
                await ctx.save_state(task="upstream-1")
                raise RetryableEngineError("lost the connection")
            return await super().generate(job, ctx)

    worker = world.worker(Resuming(world.settings))
    await world.submit()
    assert await worker.execute(await world.claim(worker)) == "retried"
    world.clock.advance(BACKOFF)
    assert await worker.execute(await world.claim(worker)) == "completed"
    assert seen == [{}, {"task": "upstream-1"}]


async def test_a_cancel_reaches_the_running_engine_and_ends_the_job_refunded(
    world: World,
) -> None:
    engine = HeldEngine(world.settings)
    worker = world.worker(engine)
    gen = await world.submit(events=("cancelled",))
    running = asyncio.create_task(worker.execute(await world.claim(worker)))
    await until(lambda: gen.id in engine.running)
    told = await world.store.generations.request_cancel(gen.id, world.key.id)
    assert told is not None and told.status is Status.GENERATING
    assert await asyncio.wait_for(running, 10) == "cancelled"
    assert (await world.read(gen.id)).status is Status.CANCELLED
    assert world.ledger(gen.id) == [("charge", -8), ("refund", 8)]
    assert await world.outputs(gen.id) == [False, False]
    events = await world.store.webhooks.claim_due(limit=10, lease_seconds=30)
    assert [e.type for e in events] == ["generation.cancelled"]


@pytest.mark.parametrize("act", ["cancel", "delete"])
async def test_a_cancel_or_delete_accepted_after_the_engine_finished_wins_over_the_completion(
    world: World, act: str
) -> None:
    # The engine is done and the video is stored; the worker has not recorded the completion
    # yet when the client's cancel (or delete) is accepted. What the client was told happens:
    # cancelled, refunded, and the stored files removed.
    world.storage.release.clear()
    worker = world.worker(TinyEngine(world.settings))
    gen = await world.submit()
    outcome = asyncio.create_task(worker.execute(await world.claim(worker)))
    await asyncio.wait_for(world.storage.stored.wait(), 10)
    assert await world.outputs(gen.id) == [True, True]
    repo = world.store.generations
    told = await (repo.request_cancel if act == "cancel" else repo.delete)(gen.id, world.key.id)
    assert told is not None and told.status is Status.GENERATING
    world.storage.release.set()
    assert await asyncio.wait_for(outcome, 10) == "cancelled"
    final = await world.read(gen.id)
    assert final.status is Status.CANCELLED and final.video is None
    assert world.ledger(gen.id) == [("charge", -8), ("refund", 8)]
    assert await world.outputs(gen.id) == [False, False]


async def test_without_a_cancel_the_same_held_upload_completes(world: World) -> None:
    world.storage.release.clear()
    worker = world.worker(TinyEngine(world.settings))
    gen = await world.submit()
    outcome = asyncio.create_task(worker.execute(await world.claim(worker)))
    await asyncio.wait_for(world.storage.stored.wait(), 10)
    world.storage.release.set()
    assert await asyncio.wait_for(outcome, 10) == "completed"
    assert await world.outputs(gen.id) == [True, True]


async def test_a_worker_whose_lease_expired_and_was_taken_over_writes_nothing(
    world: World,
) -> None:
    engine = HeldEngine(world.settings)
    first, second = world.worker(engine, name="first"), world.worker(engine, name="second")
    gen = await world.submit()
    stalled = asyncio.create_task(first.execute(await world.claim(first)))
    await until(lambda: gen.id in engine.running)
    # The first worker's heartbeats stop reaching the store for longer than its lease.
    world.clock.advance(1)
    assert (await world.store.jobs.requeue_expired()).requeued == [gen.id]
    takeover = await world.claim(second)
    assert takeover.attempt == 2
    # Its next heartbeat hears that the lease is gone; it stops without a write.
    assert await asyncio.wait_for(stalled, 10) == "lost"
    assert engine.handed_back == [gen.id]
    assert (await world.read(gen.id)).status is Status.GENERATING
    engine.release.set()
    assert await second.execute(takeover) == "completed"
    assert world.ledger(gen.id) == [("charge", -8)]


async def test_a_job_the_reaper_ends_has_the_files_its_dead_worker_stored_removed(
    world: World, tmp_path: Path
) -> None:
    gen = await world.submit(max_attempts=1)
    await world.store.jobs.claim_next("dead", lease_seconds=30)
    for key in (video_key(gen.id), thumbnail_key(gen.id)):
        source = tmp_path / "partial"
        source.write_bytes(b"x")
        await world.storage.put_file(key, source, "application/octet-stream")
    world.clock.advance(31)
    stop = asyncio.Event()
    reaper = asyncio.create_task(
        reap_expired_leases(world.store.jobs, world.storage, world.settings.lease_seconds, stop)
    )
    try:
        await until(lambda: not world.storage.local_path(video_key(gen.id)).exists())
    finally:
        stop.set()
        await reaper
    failed = await world.read(gen.id)
    assert failed.status is Status.FAILED and failed.error is not None
    assert failed.error.name == "WorkerLost"
    assert await world.outputs(gen.id) == [False, False]
    assert await world.balance() == 80


async def test_a_database_outage_while_a_job_ends_delays_it_but_never_fails_it(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(persist, "FIRST_DELAY_SECONDS", 0.001)
    monkeypatch.setattr(persist, "MAX_DELAY_SECONDS", 0.002)
    caplog.set_level(logging.WARNING, logger="vidgen.worker.persist")
    engine = HeldEngine(world.settings)
    worker = world.worker(engine)
    gen = await world.submit()
    outcome = asyncio.create_task(worker.execute(await world.claim(worker)))
    await until(lambda: gen.id in engine.running)
    world.store.available = False
    engine.release.set()
    await until(lambda: "mark the job completed failed" in caplog.text)
    assert not outcome.done()
    world.store.available = True
    assert await asyncio.wait_for(outcome, 10) == "completed"
    assert world.ledger(gen.id) == [("charge", -8)]


async def run_until(worker: Worker, condition: Callable[[], bool]) -> None:
    running = asyncio.create_task(worker.run())
    try:
        await until(condition)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)


async def test_keys_take_turns_and_a_higher_priority_goes_first(world: World) -> None:
    engine = TinyEngine(world.settings)
    worker = world.worker(engine, concurrency=1)
    other, _ = await world.store.keys.create("other")
    vip, _ = await world.store.keys.create("vip", priority=5)
    backlog = [(await world.submit()).id for _ in range(3)]
    theirs = [(await world.submit(other)).id for _ in range(2)]
    urgent = (await world.submit(vip)).id
    await run_until(worker, lambda: len(engine.ran) == 6)
    assert engine.ran == [
        urgent,
        backlog[0],
        theirs[0],
        backlog[1],
        theirs[1],
        backlog[2],
    ]


async def test_a_key_never_runs_more_jobs_than_its_limit_while_others_run(world: World) -> None:
    engine = HeldEngine(world.settings)
    worker = world.worker(engine, concurrency=3)
    limited, _ = await world.store.keys.create("limited", max_concurrency=1)
    mine = {(await world.submit(limited)).id for _ in range(3)}
    other = (await world.submit()).id
    running = asyncio.create_task(worker.run())
    try:
        await until(lambda: len(engine.running) == 2)
        # Give the idle slot many chances to claim one more of the limited key's jobs.
        for _ in range(20):
            await asyncio.sleep(world.settings.poll_interval)
            assert len(engine.running & mine) == 1 and other in engine.running
        assert await world.store.generations.running_count(limited.id) == 1
        engine.release.set()
        await until(lambda: len(engine.ran) == 4)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)


async def test_a_stopping_worker_hands_a_long_job_back_without_using_an_attempt(
    world: World,
) -> None:
    engine = HeldEngine(world.settings)
    worker = world.worker(engine, concurrency=1)
    gen = await world.submit()
    running = asyncio.create_task(worker.run())
    await until(lambda: gen.id in engine.running)
    await worker.shutdown(grace_seconds=0.01)
    await asyncio.wait_for(running, 10)
    assert engine.handed_back  # the engine was told that the job will run again
    assert (await world.read(gen.id)).status is Status.QUEUED
    again = await world.store.jobs.claim_next("next", lease_seconds=30)
    assert again is not None and again.attempt == 1
    assert world.ledger(gen.id) == [("charge", -8)]


async def test_a_stopping_worker_lets_a_job_finish_within_the_grace(world: World) -> None:
    engine = HeldEngine(world.settings)
    worker = world.worker(engine, concurrency=1)
    gen = await world.submit()
    running = asyncio.create_task(worker.run())
    await until(lambda: gen.id in engine.running)
    stopping = asyncio.create_task(worker.shutdown(grace_seconds=30))
    await asyncio.sleep(0.01)
    assert not stopping.done()  # waiting for the job in hand
    engine.release.set()
    await asyncio.wait_for(stopping, 10)
    await asyncio.wait_for(running, 10)
    assert (await world.read(gen.id)).status is Status.COMPLETED
    assert not engine.handed_back


async def test_a_worker_sweeps_expired_uploads_out_of_the_storage(world: World) -> None:
    uploads = Uploads(world.storage, b"secret", 100)
    started = uploads.start(world.key.id)

    async def body() -> AsyncIterator[bytes]:
        yield b"abc"

    await uploads.store(started.upload_id, world.key.id, started.fields["signature"], body())
    stored = next(world.storage.root.rglob(started.upload_id))
    # The sweep as of two days on, when the upload has long expired.
    later = time.time() + 2 * UPLOAD_TTL_SECONDS
    worker = world.worker(TinyEngine(world.settings), sweep_uploads=lambda: uploads.sweep(later))
    await run_until(worker, lambda: not stored.exists())


async def test_a_failing_upload_sweep_is_logged_and_the_worker_runs_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise OSError("the bucket is gone")

    worker = world.worker(TinyEngine(world.settings), sweep_uploads=broken)
    gen = await world.submit()
    video = world.storage.local_path(video_key(gen.id))
    with caplog.at_level(logging.WARNING, "vidgen.worker.runner"):
        await run_until(
            worker,
            lambda: "sweeping expired uploads failed" in caplog.messages and video.exists(),
        )
    # A stopping worker finishes the job in hand.
    assert (await world.read(gen.id)).status is Status.COMPLETED

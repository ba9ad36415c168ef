"""A cancel or a delete that lands after the engine finished, while the worker stores the video:
what the client was told is what happens (the cancel wins: cancelled, refunded, and the stored
files removed), on SQLite and PostgreSQL, with a real worker, engine and local storage.

The race is made deterministic by holding the worker inside its upload (after the files are in
storage, before the completion is recorded) until the test has sent its cancel or delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, data_uri, make_image, make_settings
from vidgen.core.keys import ApiKey
from vidgen.core.models import GenerationRequest, ImageRef, Status
from vidgen.core.storage import thumbnail_key, video_key
from vidgen.wiring import Runtime
from vidgen.worker.runner import Worker


class Gate:
    """Holds the worker after its video is stored, until released."""

    def __init__(self) -> None:
        self.stored = asyncio.Event()
        self.release = asyncio.Event()


@pytest.fixture(params=["sqlite", "postgresql"])
async def runtime(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
    overrides: dict[str, object] = {"routes": {"runway/gen4_turbo": "noop"}}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    settings = make_settings(tmp_path / "data", **overrides)
    started = await Runtime.start(settings)
    yield started
    await started.aclose()


def gated(runtime: Runtime, gate: Gate) -> None:
    storage = runtime.storage
    put_files = storage.put_files

    async def put_then_wait(
        files: Sequence[tuple[str, Path, str]], *, consume: bool = False
    ) -> list[int]:
        sizes = await put_files(files, consume=consume)
        gate.stored.set()
        await gate.release.wait()
        return sizes

    storage.put_files = put_then_wait  # type: ignore[method-assign]


async def submit_one(runtime: Runtime) -> tuple[ApiKey, str]:
    key = await runtime.keys.authenticate(TEST_KEY)
    assert key is not None
    image = ImageRef(url=data_uri(make_image(64, 36)))
    request = GenerationRequest(model="runway/gen4_turbo", prompt="p", first_image=image)
    return key, (await runtime.service.generations.submit(key, request)).generation.id


async def start_worker(runtime: Runtime, job_id: str) -> asyncio.Task[str]:
    worker = Worker(
        store=runtime.jobs,
        storage=runtime.storage,
        engines=runtime.engines,
        settings=runtime.settings,
    )
    claimed = await runtime.jobs.claim_next(worker.name, lease_seconds=30)
    assert claimed is not None and claimed.generation.id == job_id
    return asyncio.create_task(worker.execute(claimed))


@pytest.mark.parametrize("act", ["cancel", "delete"])
async def test_a_cancel_or_delete_accepted_before_the_completion_leaves_nothing_behind(
    runtime: Runtime, act: str
) -> None:
    gate = Gate()
    gated(runtime, gate)
    key, job_id = await submit_one(runtime)
    outcome = await start_worker(runtime, job_id)
    await asyncio.wait_for(gate.stored.wait(), 30)
    assert await runtime.storage.stat(video_key(job_id)) is not None
    act_on = (
        runtime.service.generations.cancel
        if act == "cancel"
        else runtime.service.generations.delete
    )
    told = await act_on(key, job_id)
    assert told.status is Status.GENERATING  # accepted: the job will not complete
    gate.release.set()
    assert await asyncio.wait_for(outcome, 30) == "cancelled"
    final = await runtime.generations.get(job_id, include_deleted=True)
    assert final is not None and final.status is Status.CANCELLED and final.video is None
    assert (await runtime.keys.get(key.id)) is not None
    assert await runtime.storage.stat(video_key(job_id)) is None
    assert await runtime.storage.stat(thumbnail_key(job_id)) is None
    if act == "delete":
        assert await runtime.generations.get(job_id, key_id=key.id) is None


async def test_without_a_cancel_the_same_gated_job_completes(runtime: Runtime) -> None:
    # The control: the gate itself changes nothing.
    gate = Gate()
    gated(runtime, gate)
    key, job_id = await submit_one(runtime)
    gate.release.set()
    assert await asyncio.wait_for(await start_worker(runtime, job_id), 30) == "completed"
    final = await runtime.service.generations.get(key, job_id)
    assert final.status is Status.COMPLETED and final.video is not None
    assert await runtime.storage.stat(video_key(job_id)) is not None

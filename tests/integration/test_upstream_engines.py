"""The proxy engines on their own: against the fake Runway (over real HTTP) and a mock gateway,
with a hand-driven context, to pin down what the end-to-end tests cannot stage exactly: a lost
lease the moment a task is created, a worker handing a job back, a resumed attempt. And the
official ``runwayml`` SDK against the fake, so the fake is known to accept what the SDK sends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import runwayml

from tests.conftest import ImageServer, make_image, make_settings
from tests.fakes.runway_server import API_VERSION, FAKE_KEY, FakeRunway
from vidgen.core.engine import EngineContext, EngineJob
from vidgen.engines.aimlapi import AimlapiEngine
from vidgen.engines.runway import RunwayEngine
from vidgen.engines.upstream import TASK_ID_STATE
from vidgen.errors import EngineError, JobCancelled
from vidgen.media.data_uri import to_data_uri
from vidgen.media.fetch import FetchRefused, SafeFetcher
from vidgen.media.images import inspect_image
from vidgen.settings import Settings


class HandContext(EngineContext):
    """A context the test drives: it records what the engine reports and can lose its lease
    on ``save_state`` or be stopped the way the worker stops it."""

    def __init__(self, scratch_dir: Path, *, lose_lease_on_save: bool = False) -> None:
        self.scratch_dir = scratch_dir
        self.lose_lease_on_save = lose_lease_on_save
        self.saved: dict[str, Any] = {}
        self.progress: list[float] = []
        self.waiting: list[bool] = []
        self._cancelled = False
        self._handing_back = False

    def report_progress(self, fraction: float) -> None:
        self.progress.append(fraction)

    def report_waiting(self, waiting: bool) -> None:
        self.waiting.append(waiting)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def handing_back(self) -> bool:
        return self._handing_back

    def stop(self, *, handing_back: bool = False) -> None:
        self._handing_back = handing_back
        self._cancelled = True

    async def save_state(self, **state: Any) -> None:
        if self.lose_lease_on_save:
            self.stop(handing_back=True)
            raise JobCancelled("The lease on this job was lost.")
        self.saved.update(state)


def runway_settings(tmp_path: Path, fake: FakeRunway, **overrides: Any) -> Settings:
    return make_settings(
        tmp_path / "data",
        runwayml_api_secret=FAKE_KEY,
        runway_base_url=fake.base_url,
        upstream_poll_interval=0.02,
        upstream_backoff_seconds=0.02,
        **overrides,
    )


def a_job(state: dict[str, Any] | None = None) -> EngineJob:
    return EngineJob(
        id="job-1",
        model="runway/gen4_turbo",
        prompt="pan left",
        aspect_ratio="16:9",
        width=1280,
        height=720,
        fps=24,
        duration=5,
        frame_count=120,
        seed=5,
        first_image=inspect_image(make_image(320, 180), max_pixels=10**8),
        last_image=None,
        state=state or {},
    )


async def test_a_job_walks_waiting_running_succeeded_and_returns_runways_video(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    engine = RunwayEngine(runway_settings(tmp_path, fake_runway))
    ctx = HandContext(tmp_path)
    try:
        result = await engine.generate(a_job(), ctx)
    finally:
        await engine.aclose()
    assert result.path.read_bytes() == fake_runway.video_bytes("1280:720")
    assert (result.width, result.height, result.frame_count) == (160, 90, 24)
    assert ctx.saved == {TASK_ID_STATE: next(iter(fake_runway.tasks))}
    assert ctx.waiting[:2] == [True, True] and ctx.waiting[-1] is False  # PENDING, THROTTLED
    assert ctx.progress == sorted(ctx.progress) and ctx.progress[-1] == 1.0


async def test_an_attempt_that_finds_a_task_id_resumes_it_and_creates_nothing(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    client = runwayml.AsyncRunwayML(api_key=FAKE_KEY, base_url=fake_runway.base_url)
    uri = to_data_uri(a_job().first_image, max_chars=5_000_000)
    created = await client.image_to_video.create(
        model="gen4_turbo", prompt_image=uri, ratio="1280:720"
    )
    await client.close()
    engine = RunwayEngine(runway_settings(tmp_path, fake_runway))
    try:
        result = await engine.generate(a_job({TASK_ID_STATE: created.id}), HandContext(tmp_path))
    finally:
        await engine.aclose()
    assert result.path.stat().st_size > 0
    assert fake_runway.creations == 1  # the test's own, none by the engine


async def test_a_task_whose_id_cannot_be_saved_is_deleted_at_once(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    engine = RunwayEngine(runway_settings(tmp_path, fake_runway))
    with pytest.raises(JobCancelled):
        await engine.generate(a_job(), HandContext(tmp_path, lose_lease_on_save=True))
    await engine.aclose()
    [task] = fake_runway.tasks.values()
    assert task.status == "CANCELLED"
    assert [r.path for r in fake_runway.seen("DELETE", "/v1/tasks/")] == [f"/v1/tasks/{task.id}"]


@pytest.mark.parametrize(("handing_back", "deleted"), [(False, True), (True, False)])
async def test_a_clients_cancel_deletes_the_task_but_a_worker_letting_go_does_not(
    tmp_path: Path, fake_runway: FakeRunway, handing_back: bool, deleted: bool
) -> None:
    fake_runway.hold_at = "RUNNING"
    engine = RunwayEngine(runway_settings(tmp_path, fake_runway))
    ctx = HandContext(tmp_path)
    running = asyncio.create_task(engine.generate(a_job(), ctx))
    while not any(t.status == "RUNNING" for t in fake_runway.tasks.values()):
        await asyncio.sleep(0.02)
    ctx.stop(handing_back=handing_back)
    with pytest.raises(JobCancelled):
        await running
    await engine.aclose()
    [task] = fake_runway.tasks.values()
    assert bool(fake_runway.seen("DELETE", "/v1/tasks/")) is deleted
    assert task.status == ("CANCELLED" if deleted else "RUNNING")


async def test_retries_stop_at_the_jobs_time_limit_as_a_retryable_error(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    fake_runway.inject(503, 1000, path="/v1/image_to_video")
    # Backoff from 0.02 s doubles each time: about eight tries fit in 3 s. (0.5 s was too
    # tight beside a busy test in another process: the first call alone took most of it.)
    engine = RunwayEngine(runway_settings(tmp_path, fake_runway, job_timeout_seconds=3))
    with pytest.raises(EngineError) as caught:
        await engine.generate(a_job(), HandContext(tmp_path))
    await engine.aclose()
    assert caught.value.retryable and caught.value.name == "UpstreamUnavailable"
    assert "503" in caught.value.message
    assert 3 <= len(fake_runway.seen("POST", "/v1/image_to_video")) < 1000
    assert fake_runway.creations == 0


# -- the fake keeps Runway's contract, as the official SDK sees it -------------------------------


async def test_the_official_sdk_drives_the_fake_through_a_whole_task(
    fake_runway: FakeRunway,
) -> None:
    client = runwayml.AsyncRunwayML(api_key=FAKE_KEY, base_url=fake_runway.base_url)
    uri = to_data_uri(a_job().first_image, max_chars=5_000_000)
    created = await client.image_to_video.create(
        model="gen4_turbo", prompt_image=uri, ratio="1104:832", duration=5, seed=3, prompt_text="x"
    )
    statuses = []
    for _ in range(8):
        task = await client.tasks.retrieve(created.id)
        statuses.append(task.status)
        if task.status == "SUCCEEDED":
            break
    assert statuses == ["PENDING", "THROTTLED", "RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"]
    assert httpx.get(task.output[0]).content == fake_runway.video_bytes("1104:832")
    await client.tasks.delete(created.id)  # a finished task is deleted
    with pytest.raises(runwayml.NotFoundError):
        await client.tasks.retrieve(created.id)
    sent = fake_runway.seen("POST", "/v1/image_to_video")[0]
    assert sent.headers["x-runway-version"] == API_VERSION
    await client.close()


async def test_the_fake_refuses_what_runway_refuses(fake_runway: FakeRunway) -> None:
    client = runwayml.AsyncRunwayML(api_key=FAKE_KEY, base_url=fake_runway.base_url, max_retries=0)
    uri = to_data_uri(a_job().first_image, max_chars=5_000_000)
    with pytest.raises(runwayml.BadRequestError) as wrong_ratio:
        await client.image_to_video.create(model="gen4_turbo", prompt_image=uri, ratio="1280:768")
    assert wrong_ratio.value.body["issues"][0]["path"] == ["ratio"]
    last = [{"uri": uri, "position": "first"}, {"uri": uri, "position": "last"}]
    with pytest.raises(runwayml.BadRequestError, match="position"):
        await client.image_to_video.create(
            model="gen4_turbo",
            prompt_image=last,
            ratio="1280:720",
        )
    with pytest.raises(runwayml.BadRequestError, match="domain"):
        await client.image_to_video.create(
            model="gen4_turbo", prompt_image="https://10.0.0.1/a.png", ratio="1280:720"
        )
    wrong_key = runwayml.AsyncRunwayML(api_key="key_nope", base_url=fake_runway.base_url)
    with pytest.raises(runwayml.AuthenticationError):
        await wrong_key.tasks.retrieve("anything")
    no_version = httpx.post(
        f"{fake_runway.base_url}/v1/image_to_video",
        headers={"Authorization": f"Bearer {FAKE_KEY}"},
        json={"model": "gen4_turbo", "promptImage": uri, "ratio": "1280:720"},
    )
    assert no_version.status_code == 400 and "X-Runway-Version" in no_version.text
    assert fake_runway.creations == 0
    await client.close()
    await wrong_key.close()


# -- the aimlapi engine's wire format --------------------------------------------------------------


async def test_the_aimlapi_engine_sends_the_job_id_as_idempotency_key_and_retries_a_429(
    tmp_path: Path,
) -> None:
    seen: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST" and len(seen) == 1:
            return httpx.Response(429, json={"message": "slow down"}, headers={"Retry-After": "0"})
        if request.method == "POST":
            return httpx.Response(200, json={"id": "up-1", "status": "queued"})
        return httpx.Response(401, json={"message": "Invalid key"})

    engine = AimlapiEngine(
        make_settings(
            tmp_path,
            upstream_url="https://gateway.example",
            upstream_key="vg_front",
            upstream_poll_interval=0.01,
            upstream_backoff_seconds=0.01,
        )
    )
    engine._client = httpx.AsyncClient(
        base_url="https://gateway.example",
        headers={"Authorization": "Bearer vg_front"},
        transport=httpx.MockTransport(gateway),
    )
    with pytest.raises(EngineError) as caught:
        await engine.generate(a_job(), HandContext(tmp_path))
    await engine.aclose()
    assert caught.value.name == "UpstreamUnauthorized"
    assert "VIDGEN_UPSTREAM_KEY" in caught.value.message
    posts = [r for r in seen if r.method == "POST"]
    assert len(posts) == 2
    assert {r.headers["idempotency-key"] for r in posts} == {"job-1"}
    assert posts[0].headers["authorization"] == "Bearer vg_front"
    body = json.loads(posts[0].content)
    assert body["model"] == "runway/gen4_turbo" and body["image_url"].startswith("data:image/png")
    assert seen[-1].url.params["generation_id"] == "up-1"


async def test_outputs_from_the_configured_gateway_are_trusted_but_other_private_hosts_are_not(
    tmp_path: Path, image_server: ImageServer
) -> None:
    video = image_server.add("out.mp4", b"not really a video", "video/mp4")
    engine = AimlapiEngine(
        make_settings(
            tmp_path,
            upstream_url=image_server.base_url,  # http://127.0.0.1:<port>
            upstream_key="k",
            fetch_allow_http=False,
            fetch_allow_private=False,
        )
    )
    fetcher = await engine.output_fetcher()
    try:
        assert await fetcher.stream_to_file(video, tmp_path / "a", max_bytes=1000) == 18
        with pytest.raises(FetchRefused, match="private"):
            await fetcher.stream_to_file("http://10.1.2.3/x.mp4", tmp_path / "b", max_bytes=1000)
        with pytest.raises(FetchRefused):
            await fetcher.stream_to_file("http://169.254.169.254/", tmp_path / "c", max_bytes=1)
    finally:
        await engine.aclose()
    strict = SafeFetcher.from_settings(make_settings(tmp_path, fetch_allow_http=False))
    with pytest.raises(FetchRefused):  # the same link through the ordinary fetcher
        await strict.stream_to_file(video, tmp_path / "d", max_bytes=1000)
    await strict.aclose()

"""The gemini engine against the Gemini API stand-in (``tests/fakes/gemini_server.py``), over real
HTTP, with a hand-driven context."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.fakes.gemini_server import FAKE_GEMINI_KEY, SAFETY_REASON, FakeGemini, quota_error
from tests.integration.test_upstream_engines import HandContext, a_job
from vidgen.core.engine import EngineJob
from vidgen.engines.gemini import GeminiEngine
from vidgen.engines.upstream import TASK_ID_STATE
from vidgen.errors import EngineError, JobCancelled

CREATE = "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"


def engine_for(tmp_path: Path, fake: FakeGemini, **overrides: Any) -> GeminiEngine:
    return GeminiEngine(
        make_settings(
            tmp_path / "data",
            gemini_api_key=FAKE_GEMINI_KEY,
            gemini_base_url=fake.base_url,
            upstream_poll_interval=0.02,
            upstream_backoff_seconds=0.02,
            **overrides,
        )
    )


def veo_job(*, image: bool = True, prompt: str = "waves at dusk", **state: Any) -> EngineJob:
    job = dataclasses.replace(a_job(state), model="gemini/veo-3.1", prompt=prompt, duration=8)
    return job if image else dataclasses.replace(job, first_image=None)


async def run(engine: GeminiEngine, job: EngineJob, ctx: HandContext) -> Any:
    try:
        return await engine.generate(job, ctx)
    finally:
        await engine.aclose()


async def test_an_image_job_runs_an_operation_and_downloads_the_video_with_the_key(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    ctx = HandContext(tmp_path)
    job = veo_job()
    result = await run(engine_for(tmp_path, fake_gemini), job, ctx)
    assert result.path.read_bytes() == fake_gemini.video_bytes()
    sent = fake_gemini.only_job()
    assert ctx.saved == {TASK_ID_STATE: f"models/veo-3.1-generate-preview/operations/{sent.id}"}
    [instance] = sent.body["instances"]
    assert instance["prompt"] == "waves at dusk"
    assert job.first_image is not None
    assert base64.b64decode(instance["image"]["bytesBase64Encoded"]) == job.first_image.data
    assert instance["image"]["mimeType"] == "image/png"
    assert sent.body["parameters"] == {
        "aspectRatio": "16:9",
        "durationSeconds": 8,
        "resolution": "720p",
        "seed": 5,
    }
    [create] = fake_gemini.seen("POST", CREATE)
    assert create.headers["x-goog-api-key"] == FAKE_GEMINI_KEY
    [download] = fake_gemini.seen("GET", "/outputs/")
    assert download.headers["x-goog-api-key"] == FAKE_GEMINI_KEY  # the file wants the key


async def test_the_key_is_never_sent_to_a_video_link_on_another_origin(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    fake_gemini.foreign_outputs = True
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_gemini), veo_job(), HandContext(tmp_path))
    assert caught.value.name == "OutputUnavailable"
    downloads = fake_gemini.seen("GET", "/outputs/")
    assert downloads  # tried, through the SSRF-guarded fetcher, without the key
    assert all("x-goog-api-key" not in r.headers for r in downloads)


async def test_the_video_link_refuses_a_download_without_the_key(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    import httpx

    await run(engine_for(tmp_path, fake_gemini), veo_job(), HandContext(tmp_path))
    answer = await asyncio.to_thread(
        httpx.get, fake_gemini.output_url(fake_gemini.only_job()), timeout=10
    )
    assert answer.status_code == 403


async def test_a_prompt_alone_makes_an_instance_with_no_image(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    job = dataclasses.replace(
        veo_job(image=False), model="gemini/veo-3.1-fast", aspect_ratio="9:16"
    )
    await run(engine_for(tmp_path, fake_gemini), job, HandContext(tmp_path))
    sent = fake_gemini.only_job()
    assert sent.model == "veo-3.1-fast-generate-preview"
    assert sent.body["instances"] == [{"prompt": "waves at dusk"}]
    assert sent.body["parameters"]["aspectRatio"] == "9:16"


async def test_an_attempt_that_finds_an_operation_resumes_it_and_starts_nothing(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    existing = fake_gemini.create("veo-3.1-generate-preview", {}, "x")
    name = f"models/veo-3.1-generate-preview/operations/{existing.id}"
    result = await run(
        engine_for(tmp_path, fake_gemini), veo_job(**{TASK_ID_STATE: name}), HandContext(tmp_path)
    )
    assert result.path.stat().st_size > 0
    assert fake_gemini.creations == 1
    assert fake_gemini.seen("POST", "/") == []


async def test_a_cancel_ends_the_job_but_cannot_stop_the_operation_at_google(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    fake_gemini.hold = True
    engine = engine_for(tmp_path, fake_gemini)
    ctx = HandContext(tmp_path)
    running = asyncio.create_task(engine.generate(veo_job(), ctx))
    while not any(j.step >= 1 for j in fake_gemini.jobs.values()):
        await asyncio.sleep(0.02)
    ctx.stop()
    with pytest.raises(JobCancelled):
        await running
    await engine.aclose()
    assert fake_gemini.only_job().outcome == "running"
    assert {r.method for r in fake_gemini.requests} == {"POST", "GET"}  # nothing else to call


async def test_bursts_of_429_and_503_are_retried_and_one_operation_is_started(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    fake_gemini.inject(429, 3, path=CREATE, retry_after="0")
    fake_gemini.inject(503, 2, path="/v1beta/models/veo-3.1-generate-preview/operations/")
    result = await run(engine_for(tmp_path, fake_gemini), veo_job(), HandContext(tmp_path))
    assert result.path.stat().st_size > 0
    assert fake_gemini.creations == 1
    assert len(fake_gemini.seen("POST", CREATE)) == 4


async def test_a_spent_daily_quota_is_quota_exceeded_at_once_but_a_minute_limit_is_waited_out(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    fake_gemini.inject(429, 2, path=CREATE, body=quota_error("Minute"))
    await run(engine_for(tmp_path, fake_gemini), veo_job(), HandContext(tmp_path))
    assert len(fake_gemini.seen("POST", CREATE)) == 3

    fake_gemini.reset()
    fake_gemini.inject(429, 1, path=CREATE, body=quota_error("Day"))
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_gemini), veo_job(), HandContext(tmp_path))
    assert (caught.value.name, caught.value.retryable) == ("QuotaExceeded", False)
    assert "exceeded your current quota" in caught.value.message
    assert len(fake_gemini.seen("POST", CREATE)) == 1
    assert fake_gemini.creations == 0


@pytest.mark.parametrize(
    ("prompt", "name", "words"),
    [
        ("[unsafe] a person", "SafetyRefused", SAFETY_REASON),
        ("[fail] anything", "UpstreamFailed", "Internal error encountered."),
    ],
)
async def test_a_failed_operation_ends_with_its_named_error_and_is_never_retried(
    tmp_path: Path, fake_gemini: FakeGemini, prompt: str, name: str, words: str
) -> None:
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_gemini), veo_job(prompt=prompt), HandContext(tmp_path))
    assert (caught.value.name, caught.value.retryable) == (name, False)
    assert words in caught.value.message
    assert fake_gemini.creations == 1


async def test_an_operation_cancelled_at_google_ends_the_job_cancelled(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    with pytest.raises(JobCancelled):
        await run(
            engine_for(tmp_path, fake_gemini), veo_job(prompt="[cancelled]"), HandContext(tmp_path)
        )


async def test_a_wrong_key_names_the_variable_and_is_not_retried(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    fake_gemini.key = "AIza-someone-else"
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_gemini), veo_job(), HandContext(tmp_path))
    assert caught.value.name == "UpstreamUnauthorized"
    assert "GEMINI_API_KEY" in caught.value.message
    assert len(fake_gemini.seen("POST", CREATE)) == 1


async def test_a_duration_veo_does_not_take_is_refused_by_the_stand_in_as_google_would(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    job = dataclasses.replace(veo_job(), duration=5)
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_gemini), job, HandContext(tmp_path))
    assert caught.value.name == "UpstreamRejected"
    assert "durationSeconds" in caught.value.message


async def test_an_output_link_that_expired_before_it_was_copied_fails_clearly(
    tmp_path: Path, fake_gemini: FakeGemini
) -> None:
    fake_gemini.output_ttl = -60
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_gemini), veo_job(), HandContext(tmp_path))
    assert caught.value.name == "OutputUnavailable" and "403" in caught.value.message
    assert fake_gemini.creations == 1

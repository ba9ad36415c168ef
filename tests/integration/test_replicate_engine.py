"""The replicate engine against the Replicate stand-in (``tests/fakes/replicate_server.py``), over
real HTTP, through the official ``replicate`` client, with a hand-driven context."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.fakes.replicate_server import FAKE_TOKEN, SAFETY_ERROR, FakeReplicate
from tests.integration.test_upstream_engines import HandContext, a_job
from vidgen.core.engine import EngineJob
from vidgen.engines.replicate import ReplicateEngine
from vidgen.engines.upstream import TASK_ID_STATE
from vidgen.errors import EngineError, JobCancelled


def engine_for(tmp_path: Path, fake: FakeReplicate, **overrides: Any) -> ReplicateEngine:
    return ReplicateEngine(
        make_settings(
            tmp_path / "data",
            replicate_api_token=FAKE_TOKEN,
            replicate_base_url=fake.base_url,
            upstream_poll_interval=0.02,
            upstream_backoff_seconds=0.02,
            **overrides,
        )
    )


def wan_job(*, image: bool = True, prompt: str = "a heron takes off", **state: Any) -> EngineJob:
    job = dataclasses.replace(a_job(state), model="replicate/wan-2.5", prompt=prompt)
    return job if image else dataclasses.replace(job, first_image=None)


async def run(engine: ReplicateEngine, job: EngineJob, ctx: HandContext) -> Any:
    try:
        return await engine.generate(job, ctx)
    finally:
        await engine.aclose()


async def test_an_image_job_walks_starting_processing_succeeded_and_copies_the_video(
    tmp_path: Path, fake_replicate: FakeReplicate
) -> None:
    ctx = HandContext(tmp_path)
    result = await run(engine_for(tmp_path, fake_replicate), wan_job(), ctx)
    assert result.path.read_bytes() == fake_replicate.video_bytes()
    job = fake_replicate.only_job()
    assert ctx.saved == {TASK_ID_STATE: job.id}
    assert job.model == "wan-video/wan-2.5-i2v"
    assert job.body["image"].startswith("data:image/png;base64,")
    assert {k: v for k, v in job.body.items() if k != "image"} == {
        "prompt": "a heron takes off",
        "duration": 5,
        "resolution": "720p",
        "seed": 5,
    }
    assert ctx.waiting[0] is True and ctx.waiting[-1] is False  # starting, then processing
    # Replicate's progress comes from the logs' progress bar: 25 %, 50 %, 75 %.
    assert [round(p / 0.95, 2) for p in ctx.progress[:3]] == [0.25, 0.5, 0.75]
    assert ctx.progress[-1] == 1.0
    [post] = fake_replicate.seen("POST", "/v1/models/")
    assert post.headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    assert "prefer" not in post.headers  # the id must come back at once, to be saved
    # A prediction left behind is cancelled by Replicate once the job's attempts are over.
    assert post.headers["cancel-after"] == "2700s"  # 900 s × 3 attempts


async def test_a_prompt_alone_goes_to_the_text_to_video_model_with_its_frame_size(
    tmp_path: Path, fake_replicate: FakeReplicate
) -> None:
    job = dataclasses.replace(wan_job(image=False), aspect_ratio="9:16")
    await run(engine_for(tmp_path, fake_replicate), job, HandContext(tmp_path))
    sent = fake_replicate.only_job()
    assert sent.model == "wan-video/wan-2.5-t2v"
    assert sent.body == {
        "prompt": "a heron takes off",
        "duration": 5,
        "size": "720*1280",
        "seed": 5,
    }


async def test_kling_takes_the_image_as_start_image_or_else_the_ratio(
    tmp_path: Path, fake_replicate: FakeReplicate
) -> None:
    job = dataclasses.replace(a_job(), model="replicate/kling-v2.5-turbo-pro")
    await run(engine_for(tmp_path, fake_replicate), job, HandContext(tmp_path))
    await run(
        engine_for(tmp_path, fake_replicate),
        dataclasses.replace(job, first_image=None),
        HandContext(tmp_path),
    )
    with_image, prompt_only = fake_replicate.jobs.values()
    assert with_image.model == prompt_only.model == "kwaivgi/kling-v2.5-turbo-pro"
    assert with_image.body["start_image"].startswith("data:image/")
    assert "aspect_ratio" not in with_image.body
    assert prompt_only.body == {"prompt": "pan left", "duration": 5, "aspect_ratio": "16:9"}


async def test_an_attempt_that_finds_a_prediction_id_resumes_it_and_creates_nothing(
    tmp_path: Path, fake_replicate: FakeReplicate
) -> None:
    existing = fake_replicate.create("wan-video/wan-2.5-i2v", {"prompt": "x"}, "x")
    result = await run(
        engine_for(tmp_path, fake_replicate),
        wan_job(**{TASK_ID_STATE: existing.id}),
        HandContext(tmp_path),
    )
    assert result.path.stat().st_size > 0
    assert fake_replicate.creations == 1  # the test's own
    assert fake_replicate.seen("POST", "/v1/models/") == []


@pytest.mark.parametrize(("handing_back", "cancelled"), [(False, True), (True, False)])
async def test_a_clients_cancel_cancels_the_prediction_but_a_worker_letting_go_does_not(
    tmp_path: Path, fake_replicate: FakeReplicate, handing_back: bool, cancelled: bool
) -> None:
    fake_replicate.hold = True
    engine = engine_for(tmp_path, fake_replicate)
    ctx = HandContext(tmp_path)
    running = asyncio.create_task(engine.generate(wan_job(), ctx))
    while not any(j.step >= 1 for j in fake_replicate.jobs.values()):
        await asyncio.sleep(0.02)
    ctx.stop(handing_back=handing_back)
    with pytest.raises(JobCancelled):
        await running
    await engine.aclose()
    job = fake_replicate.only_job()
    assert bool(fake_replicate.seen("POST", "/v1/predictions/")) is cancelled
    assert job.outcome == ("cancelled" if cancelled else "running")


async def test_bursts_of_429_and_503_are_retried_by_vidgen_alone_and_one_prediction_is_made(
    tmp_path: Path, fake_replicate: FakeReplicate
) -> None:
    fake_replicate.inject(429, 3, path="/v1/models/", retry_after="0")
    fake_replicate.inject(503, 2, path="/v1/predictions/")
    fake_replicate.inject(429, 2, path="/v1/predictions/", retry_after="0")
    ctx = HandContext(tmp_path)
    result = await run(engine_for(tmp_path, fake_replicate), wan_job(), ctx)
    assert result.path.stat().st_size > 0
    assert fake_replicate.creations == 1
    assert len(fake_replicate.seen("POST", "/v1/models/")) == 4
    # 4 failed polls, then the walk: starting, 3× processing, succeeded.
    assert len(fake_replicate.seen("GET", "/v1/predictions/")) == 4 + 5


@pytest.mark.parametrize(
    ("prompt", "name", "words"),
    [
        ("[unsafe] a person", "SafetyRefused", SAFETY_ERROR),
        ("[fail] anything", "UpstreamFailed", "unknown reason"),
    ],
)
async def test_a_failed_prediction_ends_with_its_named_error_and_is_never_retried(
    tmp_path: Path, fake_replicate: FakeReplicate, prompt: str, name: str, words: str
) -> None:
    with pytest.raises(EngineError) as caught:
        await run(
            engine_for(tmp_path, fake_replicate), wan_job(prompt=prompt), HandContext(tmp_path)
        )
    assert (caught.value.name, caught.value.retryable) == (name, False)
    assert words in caught.value.message
    assert fake_replicate.creations == 1


async def test_a_prediction_cancelled_at_replicate_ends_the_job_cancelled(
    tmp_path: Path, fake_replicate: FakeReplicate
) -> None:
    with pytest.raises(JobCancelled):
        await run(
            engine_for(tmp_path, fake_replicate),
            wan_job(prompt="[cancelled]"),
            HandContext(tmp_path),
        )


@pytest.mark.parametrize(
    ("status", "body", "name", "words"),
    [
        (
            422,
            {"title": "Input validation failed", "detail": "- input.image: bad", "status": 422},
            "UpstreamRejected",
            "input.image: bad",
        ),
        (
            402,
            {
                "title": "Insufficient credit",
                "detail": "You have insufficient credit",
                "status": 402,
            },
            "QuotaExceeded",
            "insufficient credit",
        ),
        (401, None, "UpstreamUnauthorized", "REPLICATE_API_TOKEN"),
        (422, {"detail": SAFETY_ERROR, "status": 422}, "SafetyRefused", "E005"),
    ],
)
async def test_refusals_at_create_are_named_and_never_retried(
    tmp_path: Path,
    fake_replicate: FakeReplicate,
    status: int,
    body: Any,
    name: str,
    words: str,
) -> None:
    if status == 401:
        fake_replicate.key = "r8_someone_else"
    else:
        fake_replicate.inject(status, path="/v1/models/", body=body)
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_replicate), wan_job(), HandContext(tmp_path))
    assert (caught.value.name, caught.value.retryable) == (name, False)
    assert words in caught.value.message
    assert len(fake_replicate.seen("POST", "/v1/models/")) == 1


async def test_a_ratio_the_model_has_no_size_for_fails_before_anything_is_sent(
    tmp_path: Path, fake_replicate: FakeReplicate
) -> None:
    job = dataclasses.replace(wan_job(image=False), aspect_ratio="1:1")  # wan-2.5 has no 1:1
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_replicate), job, HandContext(tmp_path))
    assert caught.value.name == "NotSupported"
    assert fake_replicate.requests == []


async def test_an_output_link_that_expired_before_it_was_copied_fails_clearly(
    tmp_path: Path, fake_replicate: FakeReplicate
) -> None:
    fake_replicate.output_ttl = -60
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_replicate), wan_job(), HandContext(tmp_path))
    assert caught.value.name == "OutputUnavailable" and "403" in caught.value.message
    assert fake_replicate.creations == 1

"""The fal engine against the fal stand-in (``tests/fakes/fal_server.py``), over real HTTP, with a
hand-driven context."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.conftest import make_settings
from tests.fakes.fal_server import FAKE_FAL_KEY, SAFETY_MESSAGE, FakeFal
from tests.integration.test_upstream_engines import HandContext, a_job
from vidgen.configuration import check_configuration
from vidgen.core.engine import EngineJob
from vidgen.engines import fal_hooks
from vidgen.engines.fal import FalEngine
from vidgen.engines.upstream import TASK_ID_STATE
from vidgen.errors import EngineError, JobCancelled

KLING_I2V = "fal-ai/kling-video/v2.5-turbo/pro/image-to-video"


def engine_for(tmp_path: Path, fake: FakeFal, **overrides: Any) -> FalEngine:
    return FalEngine(
        make_settings(
            tmp_path / "data",
            fal_key=FAKE_FAL_KEY,
            fal_queue_url=fake.base_url,
            upstream_poll_interval=0.02,
            upstream_backoff_seconds=0.02,
            **overrides,
        )
    )


def kling_job(*, image: bool = True, prompt: str = "a kite rises", **state: Any) -> EngineJob:
    job = dataclasses.replace(a_job(state), model="fal/kling-v2.5-turbo-pro", prompt=prompt)
    return job if image else dataclasses.replace(job, first_image=None)


async def run(engine: FalEngine, job: EngineJob, ctx: HandContext) -> Any:
    try:
        return await engine.generate(job, ctx)
    finally:
        await engine.aclose()


async def test_an_image_job_walks_the_queue_and_copies_the_video(
    tmp_path: Path, fake_fal: FakeFal, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = HandContext(tmp_path)
    with caplog.at_level(logging.INFO, logger="vidgen.engines.fal"):
        result = await run(engine_for(tmp_path, fake_fal), kling_job(), ctx)
    assert result.path.read_bytes() == fake_fal.video_bytes()
    job = fake_fal.only_job()
    assert ctx.saved == {TASK_ID_STATE: f"fal-ai/kling-video/requests/{job.id}"}
    assert job.model == KLING_I2V
    assert job.body["image_url"].startswith("data:image/png;base64,")
    assert {k: v for k, v in job.body.items() if k != "image_url"} == {
        "prompt": "a kite rises",
        "duration": "5",
    }
    assert ctx.waiting[0] is True and ctx.waiting[-1] is False  # IN_QUEUE, then IN_PROGRESS
    [submit] = fake_fal.seen("POST", "/fal-ai/")
    assert submit.headers["authorization"] == f"Key {FAKE_FAL_KEY}"
    # The runner's logs are passed on once each, with the request.
    passed_on = [r.getMessage() for r in caplog.records if r.name == "vidgen.engines.fal"]
    assert passed_on == [f"fal: step {k} of 3" for k in (1, 2, 3)]


async def test_a_prompt_alone_goes_to_the_text_to_video_endpoint(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    job = dataclasses.replace(kling_job(image=False), aspect_ratio="1:1", duration=10)
    await run(engine_for(tmp_path, fake_fal), job, HandContext(tmp_path))
    sent = fake_fal.only_job()
    assert sent.model == "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"
    assert sent.body == {"prompt": "a kite rises", "duration": "10", "aspect_ratio": "1:1"}


async def test_veo_takes_seconds_with_an_s_and_audio(tmp_path: Path, fake_fal: FakeFal) -> None:
    job = dataclasses.replace(a_job(), model="fal/veo3.1", duration=8)
    await run(engine_for(tmp_path, fake_fal), job, HandContext(tmp_path))
    await run(
        engine_for(tmp_path, fake_fal),
        dataclasses.replace(job, first_image=None),
        HandContext(tmp_path),
    )
    with_image, prompt_only = fake_fal.jobs.values()
    assert with_image.model == "fal-ai/veo3.1/image-to-video"
    assert with_image.body["duration"] == "8s" and with_image.body["generate_audio"] is True
    assert prompt_only.model == "fal-ai/veo3.1"
    assert prompt_only.body == {
        "prompt": "pan left",
        "duration": "8s",
        "aspect_ratio": "16:9",
        "generate_audio": True,
        "seed": 5,
    }


async def test_an_attempt_that_finds_a_request_id_resumes_it_and_submits_nothing(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    existing = fake_fal.create(KLING_I2V, {"prompt": "x"}, "x")
    saved = f"fal-ai/kling-video/requests/{existing.id}"
    result = await run(
        engine_for(tmp_path, fake_fal), kling_job(**{TASK_ID_STATE: saved}), HandContext(tmp_path)
    )
    assert result.path.stat().st_size > 0
    assert fake_fal.creations == 1
    assert fake_fal.seen("POST", "/") == []


@pytest.mark.parametrize(("handing_back", "cancelled"), [(False, True), (True, False)])
async def test_a_clients_cancel_cancels_the_request_but_a_worker_letting_go_does_not(
    tmp_path: Path, fake_fal: FakeFal, handing_back: bool, cancelled: bool
) -> None:
    fake_fal.hold = True
    engine = engine_for(tmp_path, fake_fal)
    ctx = HandContext(tmp_path)
    running = asyncio.create_task(engine.generate(kling_job(), ctx))
    while not any(j.step >= 1 for j in fake_fal.jobs.values()):
        await asyncio.sleep(0.02)
    ctx.stop(handing_back=handing_back)
    with pytest.raises(JobCancelled):
        await running
    await engine.aclose()
    job = fake_fal.only_job()
    assert bool(fake_fal.seen("PUT", "/fal-ai/kling-video/requests/")) is cancelled
    assert job.outcome == ("cancelled" if cancelled else "running")


async def test_bursts_of_429_and_503_are_retried_and_one_request_is_made(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    fake_fal.inject(429, 3, path="/fal-ai/kling-video/v2.5", retry_after="0")
    fake_fal.inject(503, 2, path="/fal-ai/kling-video/requests/")
    fake_fal.inject(429, 2, path="/fal-ai/kling-video/requests/", retry_after="0")
    result = await run(engine_for(tmp_path, fake_fal), kling_job(), HandContext(tmp_path))
    assert result.path.stat().st_size > 0
    assert fake_fal.creations == 1
    assert len(fake_fal.seen("POST", "/fal-ai/")) == 4


@pytest.mark.parametrize(
    ("prompt", "name", "words"),
    [
        ("[unsafe] a person", "SafetyRefused", SAFETY_MESSAGE),
        ("[fail] anything", "UpstreamFailed", "Internal error"),
    ],
)
async def test_a_failed_request_ends_with_its_named_error_and_is_never_retried(
    tmp_path: Path, fake_fal: FakeFal, prompt: str, name: str, words: str
) -> None:
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_fal), kling_job(prompt=prompt), HandContext(tmp_path))
    assert (caught.value.name, caught.value.retryable) == (name, False)
    assert words in caught.value.message
    assert fake_fal.creations == 1


async def test_a_request_cancelled_at_fal_ends_the_job_cancelled(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    with pytest.raises(JobCancelled):
        await run(
            engine_for(tmp_path, fake_fal), kling_job(prompt="[cancelled]"), HandContext(tmp_path)
        )


@pytest.mark.parametrize(
    ("status", "body", "name", "words"),
    [
        (
            422,
            {"detail": [{"loc": ["body", "duration"], "msg": "bad", "type": "value_error"}]},
            "UpstreamRejected",
            "duration: bad",
        ),
        (
            422,
            {
                "detail": [
                    {"loc": ["body", "prompt"], "msg": "no", "type": "content_policy_violation"}
                ]
            },
            "SafetyRefused",
            "prompt: no",
        ),
        (403, {"detail": "User is locked. Reason: Exhausted balance."}, "QuotaExceeded", "balance"),
        (401, None, "UpstreamUnauthorized", "FAL_KEY"),
    ],
)
async def test_refusals_at_submit_are_named_and_never_retried(
    tmp_path: Path, fake_fal: FakeFal, status: int, body: Any, name: str, words: str
) -> None:
    if status == 401:
        fake_fal.key = "someone-else"
    else:
        fake_fal.inject(status, path="/fal-ai/", body=body)
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_fal), kling_job(), HandContext(tmp_path))
    assert (caught.value.name, caught.value.retryable) == (name, False)
    assert words in caught.value.message
    assert len(fake_fal.seen("POST", "/fal-ai/")) == 1


async def test_the_stand_in_refuses_a_body_fal_would_refuse(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    job = dataclasses.replace(kling_job(), duration=7)  # Kling takes "5" or "10"
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_fal), job, HandContext(tmp_path))
    assert caught.value.name == "UpstreamRejected"
    assert "duration: Invalid value '7'" in caught.value.message


async def test_an_output_link_that_expired_before_it_was_copied_fails_clearly(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    fake_fal.output_ttl = -60
    with pytest.raises(EngineError) as caught:
        await run(engine_for(tmp_path, fake_fal), kling_job(), HandContext(tmp_path))
    assert caught.value.name == "OutputUnavailable" and "403" in caught.value.message
    assert fake_fal.creations == 1


# -- webhook signatures (fal's ED25519, keys from the stand-in's JWKS) -------------------------

HOOK_BODY = b'{"request_id": "req-1", "status": "OK", "payload": {}}'


def hook_engine(tmp_path: Path, fake: FakeFal) -> FalEngine:
    return engine_for(tmp_path, fake, fal_webhook_jwks_url=fake.jwks_url)


def as_received(headers: dict[str, str]) -> dict[str, str]:
    """Headers as the API hands them on: Starlette's names are lower case."""
    return {name.lower(): value for name, value in headers.items()}


async def test_a_webhook_fal_signed_is_genuine_and_the_keys_are_read_once(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    engine = hook_engine(tmp_path, fake_fal)
    for _ in range(2):
        headers = as_received(fake_fal.hook_headers("req-1", HOOK_BODY))
        assert await engine.verify_hook(HOOK_BODY, headers)
    assert fake_fal.jwks_reads == 1


@pytest.mark.parametrize(
    "forgery", ["tampered body", "stale timestamp", "future timestamp", "unknown key", "unsigned"]
)
async def test_a_webhook_fal_did_not_sign_as_sent_is_refused(
    tmp_path: Path, fake_fal: FakeFal, forgery: str
) -> None:
    body = HOOK_BODY
    when = {"stale timestamp": time.time() - 301, "future timestamp": time.time() + 301}
    key = Ed25519PrivateKey.generate() if forgery == "unknown key" else None
    headers = as_received(
        fake_fal.hook_headers("req-1", body, key=key, timestamp=when.get(forgery))
    )
    if forgery == "tampered body":
        body = body.replace(b'"OK"', b'"ERROR"')
    if forgery == "unsigned":
        del headers["x-fal-webhook-signature"]
    assert not await hook_engine(tmp_path, fake_fal).verify_hook(body, headers)


async def test_a_key_fal_rotates_in_is_read_again_and_an_unknown_one_only_once_a_minute(
    tmp_path: Path, fake_fal: FakeFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = hook_engine(tmp_path, fake_fal)
    assert await engine.verify_hook(HOOK_BODY, as_received(fake_fal.hook_headers("r", HOOK_BODY)))
    stranger = as_received(fake_fal.hook_headers("r", HOOK_BODY, key=Ed25519PrivateKey.generate()))
    assert not await engine.verify_hook(HOOK_BODY, stranger)
    assert fake_fal.jwks_reads == 1  # read a moment ago: not again for a stranger's key
    monkeypatch.setattr(fal_hooks, "_REFRESH_GAP", 0.0)
    fake_fal.signing_key = Ed25519PrivateKey.generate()  # fal rotates its key
    rotated = as_received(fake_fal.hook_headers("r", HOOK_BODY))
    assert await engine.verify_hook(HOOK_BODY, rotated)
    assert fake_fal.jwks_reads == 2


async def test_a_webhook_is_refused_while_fals_keys_cannot_be_read_which_is_tried_once_a_minute(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    fake_fal.jwks_down = True
    engine = hook_engine(tmp_path, fake_fal)
    for _ in range(2):
        headers = as_received(fake_fal.hook_headers("req-1", HOOK_BODY))
        assert not await engine.verify_hook(HOOK_BODY, headers)
    assert fake_fal.jwks_reads == 1


MASTER = "fal-ai/kling-video/v2.1/master"
NEW_MODEL = f"""
[[model]]
id = "fal/kling-v2.1-master"
title = "Kling 2.1 Master on fal"
kinds = ["text_to_video", "image_to_video"]
sizes = {{ "16:9" = [1920, 1080], "9:16" = [1080, 1920], "1:1" = [1080, 1080] }}
default_ratio = "16:9"
durations = [5, 10]
default_duration = 5
requires_image = false
accepts_last_image = false
price = {{ per_second = "28" }}
engines = ["fal", "preview"]
[model.hosts.fal]
image_to_video = "{MASTER}/image-to-video"
text_to_video = "{MASTER}/text-to-video"
duration_format = "{{}}"
"""


async def test_a_model_fal_adds_is_one_catalog_entry_with_no_code(
    tmp_path: Path, fake_fal: FakeFal
) -> None:
    models = tmp_path / "models.toml"
    models.write_text(NEW_MODEL, encoding="utf-8")
    settings = make_settings(
        tmp_path / "data",
        fal_key=FAKE_FAL_KEY,
        fal_queue_url=fake_fal.base_url,
        catalog_files=[str(models)],
        upstream_poll_interval=0.02,
    )
    catalog, engines = check_configuration(settings)
    assert catalog.engine_for("fal/kling-v2.1-master") == "fal"
    engine = engines["fal"]
    try:
        for image in (True, False):
            job = dataclasses.replace(kling_job(image=image), model="fal/kling-v2.1-master")
            result = await engine.generate(job, HandContext(tmp_path))
            assert result.path.read_bytes() == fake_fal.video_bytes()
    finally:
        await engine.aclose()
    submitted = [r.path for r in fake_fal.seen("POST", "/fal-ai/")]
    assert submitted == [f"/{MASTER}/image-to-video", f"/{MASTER}/text-to-video"]
    assert [job.body["duration"] for job in fake_fal.jobs.values()] == ["5", "5"]

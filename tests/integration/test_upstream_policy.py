"""One upstream policy for every proxy engine (``vidgen.engines.policy``): the runway and
aimlapi engines, driven over real HTTP, name the same provider answers the same way."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.fakes.runway_server import FakeRunway
from tests.integration.test_upstream_engines import HandContext, a_job, runway_settings
from vidgen.engines.aimlapi import AimlapiEngine
from vidgen.engines.policy import (
    Provider,
    TransientUpstreamError,
    http_error,
)
from vidgen.engines.runway import RunwayEngine
from vidgen.errors import EngineError

ACME = Provider("Acme", credential="ACME_KEY", thing="prediction")


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_rate_limits_and_gateway_errors_are_retried_with_the_providers_retry_after(
    status: int,
) -> None:
    error = http_error(ACME, status, "busy", "creating", retry_after=7.0)
    assert isinstance(error, TransientUpstreamError)
    assert error.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "safety", "quota", "name", "retryable"),
    [
        (400, False, False, "UpstreamRejected", False),
        (422, False, False, "UpstreamRejected", False),
        (422, True, False, "SafetyRefused", False),
        (400, True, False, "SafetyRefused", False),
        (402, False, False, "QuotaExceeded", False),
        (429, False, True, "QuotaExceeded", False),  # a 429 that says the balance is spent
        (401, False, False, "UpstreamUnauthorized", False),
        (403, False, False, "UpstreamForbidden", False),
        (404, False, False, "UpstreamNotFound", False),
        (500, False, False, "UpstreamError", True),
    ],
)
def test_every_other_answer_is_final_for_the_call_and_named(
    status: int, safety: bool, quota: bool, name: str, retryable: bool
) -> None:
    error = http_error(ACME, status, "the words", "creating", safety=safety, quota=quota)
    assert isinstance(error, EngineError)
    assert (error.name, error.retryable) == (name, retryable)
    if status == 401:
        assert "ACME_KEY" in error.message
    elif status == 404:
        assert "no such prediction" in error.message
    else:
        assert "the words" in error.message


async def test_runway_out_of_credit_ends_the_job_as_quota_exceeded_without_a_retry(
    tmp_path: Path, fake_runway: FakeRunway
) -> None:
    fake_runway.inject(402, path="/v1/image_to_video", body={"error": "Not enough credits"})
    engine = RunwayEngine(runway_settings(tmp_path, fake_runway))
    with pytest.raises(EngineError) as caught:
        await engine.generate(a_job(), HandContext(tmp_path))
    await engine.aclose()
    assert caught.value.name == "QuotaExceeded" and not caught.value.retryable
    assert "Not enough credits" in caught.value.message
    assert len(fake_runway.seen("POST", "/v1/image_to_video")) == 1


async def test_a_gateway_out_of_credit_ends_the_job_as_quota_exceeded_without_a_retry(
    tmp_path: Path,
) -> None:
    posts: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        return httpx.Response(402, json={"message": "Insufficient balance"})

    engine = AimlapiEngine(
        make_settings(tmp_path, upstream_url="https://gateway.example", upstream_key="vg_front")
    )
    engine._client = httpx.AsyncClient(
        base_url="https://gateway.example", transport=httpx.MockTransport(gateway)
    )
    with pytest.raises(EngineError) as caught:
        await engine.generate(a_job(), HandContext(tmp_path))
    await engine.aclose()
    assert caught.value.name == "QuotaExceeded" and not caught.value.retryable
    assert "Insufficient balance" in caught.value.message
    assert len(posts) == 1

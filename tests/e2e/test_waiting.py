"""``Prefer: wait=N`` and ``Cancel-After`` on a create, in every dialect, against uvicorn on
loopback. A server started with ``--no-worker`` runs no job, so a "slow" generation is one that
stays queued, whatever the machine's speed: nothing here asserts how long anything took."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, data_uri, make_image, wait_for_status

pytestmark = pytest.mark.slow
GEN4 = "runway/gen4_turbo"


def creates() -> dict[str, tuple[str, dict[str, Any], dict[str, str]]]:
    """Each dialect's create: path, body, headers."""
    image = data_uri(make_image())
    return {
        "aimlapi": ("/v2/video/generations", {"model": GEN4, "image_url": image}, {}),
        "apiframe": (
            "/v2/videos/generate",
            {"model": "runway-gen4-turbo", "runwayParams": {"image": image}},
            {},
        ),
        "runway": (
            "/v1/image_to_video",
            {"model": "gen4_turbo", "promptImage": image, "ratio": "1280:720"},
            {"X-Runway-Version": "2024-11-06"},
        ),
        "openai": (
            "/v1/videos",
            {"model": "gen4_turbo", "prompt": "a lake", "input_reference": image},
            {},
        ),
    }


def create(
    client: httpx.Client, dialect: str, headers: dict[str, str], **extra: Any
) -> httpx.Response:
    path, body, own = creates()[dialect]
    return client.post(path, json={**body, **extra}, headers={**own, **headers}, timeout=90)


@pytest.fixture
def idle_server(live_server_factory: Any) -> Iterator[LiveServer]:
    """A server whose jobs wait in the queue: no worker runs them."""
    server: LiveServer = live_server_factory()
    server.start("--no-worker")
    yield server
    server.stop()


def finished(dialect: str, body: dict[str, Any]) -> bool:
    """Whether a create's answer shows an ended generation with its video."""
    if dialect == "aimlapi":
        return body["status"] == "completed" and "?_jwt=" in body["video"]["url"]
    if dialect == "apiframe":
        return body["status"] == "COMPLETED" and "?_jwt=" in body["result"]["videoUrl"]
    if dialect == "runway":
        return body["status"] == "SUCCEEDED" and "?_jwt=" in body["output"][0]
    return body["status"] == "completed" and body["progress"] == 100


@pytest.mark.parametrize("dialect", ["aimlapi", "apiframe", "runway", "openai"])
def test_prefer_wait_answers_a_fast_job_finished_with_its_video(
    live_server: LiveServer, dialect: str
) -> None:
    with live_server.client() as client:
        response = create(client, dialect, {"Prefer": "wait=60"})
    assert response.status_code in (200, 201, 202), response.text
    assert response.headers["Preference-Applied"] == "wait=60"
    assert finished(dialect, response.json()), response.json()


@pytest.mark.parametrize("dialect", ["aimlapi", "apiframe", "runway", "openai"])
def test_prefer_wait_answers_a_slow_job_as_it_stands_when_the_wait_is_over(
    idle_server: LiveServer, dialect: str
) -> None:
    with idle_server.client() as client:
        response = create(client, dialect, {"Prefer": "respond-async, wait=1"})
        assert response.status_code in (200, 201, 202), response.text
        assert response.headers["Preference-Applied"] == "wait=1"
        body = response.json()
        status = {"aimlapi": "queued", "apiframe": "QUEUED", "runway": "PENDING"}
        assert body["status"] == status.get(dialect, "queued"), body
        # The answer is the dialect's read of the generation, field for field.
        gen_id = body.get("jobId") or body["id"]
        reads = {
            "aimlapi": ("/v2/video/generations", {"generation_id": gen_id}),
            "apiframe": (f"/v2/jobs/{gen_id}", {}),
            "runway": (f"/v1/tasks/{gen_id}", {}),
            "openai": (f"/v1/videos/{gen_id}", {}),
        }
        path, params = reads[dialect]
        headers = creates()[dialect][2]
        read = client.get(path, params=params, headers=headers).json()
        assert set(read) == set(body)


def test_prefer_wait_0_answers_at_once_in_the_reads_shape_and_other_preferences_are_ignored(
    idle_server: LiveServer,
) -> None:
    with idle_server.client() as client:
        response = create(client, "aimlapi", {"Prefer": "wait=0"})
        assert response.headers["Preference-Applied"] == "wait=0"
        assert response.json()["meta"]["queue"]["position"] >= 1  # the read's shape, at once
        assert "Preference-Applied" not in create(client, "aimlapi", {"Prefer": "lenient"}).headers


@pytest.mark.parametrize(
    ("dialect", "header", "value"),
    [
        ("aimlapi", "Prefer", "wait=soon"),
        ("apiframe", "Prefer", "wait=-3"),
        ("runway", "Cancel-After", "tomorrow"),
        ("openai", "Cancel-After", "2s"),
        ("aimlapi", "Cancel-After", "25h"),
        ("apiframe", "Cancel-After", "1h30"),
    ],
)
def test_a_bad_prefer_wait_or_cancel_after_is_a_400_naming_the_header(
    idle_server: LiveServer, dialect: str, header: str, value: str
) -> None:
    with idle_server.client() as client:
        response = create(client, dialect, {header: value})
    assert response.status_code == 400, response.text
    assert header in response.text, response.text
    if dialect == "apiframe":
        assert header in response.json()["details"]


def test_a_queued_job_past_its_cancel_after_deadline_ends_cancelled_and_refunded(
    idle_server: LiveServer,
) -> None:
    with idle_server.client() as client:
        gen_id = create(client, "aimlapi", {"Cancel-After": "5s"}).json()["id"]
        kept = create(client, "aimlapi", {}).json()["id"]
        done = wait_for_status(client, gen_id, final=("error",), timeout=60)
        assert done["error"]["name"] == "DeadlineExceeded", done
        assert done["meta"]["usage"]["credits_used"] == 0  # refunded
        task = client.get(f"/v1/tasks/{gen_id}", headers={"X-Runway-Version": "2024-11-06"})
        assert task.json()["status"] == "CANCELLED"
        read = client.get("/v2/video/generations", params={"generation_id": kept}).json()
        assert read["status"] == "queued"  # no deadline: it waits as long as it takes

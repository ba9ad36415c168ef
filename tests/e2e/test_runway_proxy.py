"""The runway engine end to end: a real ``vidgen serve`` in front of the fake Runway API
(``tests/fakes/runway_server.py``), driven only through vidgen's public API."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
import runwayml
from PIL import Image

from tests.conftest import (
    TEST_KEY,
    ImageServer,
    LiveServer,
    data_uri,
    free_port,
    live_server_env,
    make_image,
    wait_for_status,
)
from tests.fakes.runway_server import FAKE_KEY, FakeRunway

pytestmark = pytest.mark.slow

GEN4 = "runway/gen4_turbo"
GEN3A_RUNWAY = "gen3a_turbo=runway"


def runway_sdk(server: LiveServer) -> runwayml.RunwayML:
    return runwayml.RunwayML(
        api_key=TEST_KEY, base_url=server.base_url, max_retries=0, _strict_response_validation=True
    )


def runway_env(fake: FakeRunway, **extra: str) -> dict[str, str]:
    return {
        "RUNWAYML_API_SECRET": FAKE_KEY,
        "VIDGEN_RUNWAY_BASE_URL": fake.base_url,
        # Runway asks for ≥ 5 s between polls; the fake does not mind.
        "VIDGEN_UPSTREAM_POLL_INTERVAL": "0.05",
        "VIDGEN_UPSTREAM_BACKOFF_SECONDS": "0.05",
        **extra,
    }


def new_server(root: Path, name: str, **env: str) -> LiveServer:
    port = free_port()
    return LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=root / name,
        env=live_server_env(root / name, **env),
        log_path=root / f"{name}.log",
        port=port,
    )


@pytest.fixture(scope="module")
def vidgen(
    fake_runway_server: FakeRunway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One vidgen for the module, with a Runway key: Runway's models route to `runway`."""
    server = new_server(
        tmp_path_factory.mktemp("runway"), "vidgen", **runway_env(fake_runway_server)
    )
    server.start()
    yield server
    server.stop()


def submit(server: LiveServer, **body: Any) -> str:
    body.setdefault("model", GEN4)
    body.setdefault("image_url", data_uri(make_image(640, 360)))
    with server.client() as client:
        created = client.post("/v2/video/generations", json=body)
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def poll(server: LiveServer, gen_id: str) -> dict[str, Any]:
    with server.client() as client:
        body: dict[str, Any] = client.get(
            "/v2/video/generations", params={"generation_id": gen_id}
        ).json()
    return body


def wait_until(predicate: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def running_task(fake: FakeRunway) -> str:
    """The id of the one task at the fake, once it is RUNNING (it stays so under hold_at)."""
    return str(
        wait_until(
            lambda: next((t.id for t in fake.tasks.values() if t.status == "RUNNING"), None),
            "a running task at Runway",
        )
    )


def finish(server: LiveServer, gen_id: str, timeout: float = 30) -> dict[str, Any]:
    with server.client() as client:
        return wait_for_status(client, gen_id, timeout=timeout)


def created_bodies(fake: FakeRunway) -> list[dict[str, Any]]:
    return [r.body for r in fake.seen("POST", "/v1/image_to_video")]


def decoded(uri: str) -> bytes:
    assert uri.startswith("data:image/")
    return base64.b64decode(uri.partition(",")[2])


# -- success --------------------------------------------------------------------------------


def test_a_runway_job_is_queued_then_generating_then_completed_with_runways_video_in_our_storage(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    image = make_image(800, 450, seed=2)
    fake_runway.hold_at = "THROTTLED"
    gen_id = submit(
        vidgen,
        image_url=data_uri(image),
        prompt="a slow dolly in",
        aspect_ratio="16:9",
        duration=10,
        seed=1234,
    )
    # Throttled at Runway (over the key's concurrency): shown as queued, not as generating.
    wait_until(lambda: fake_runway.seen("GET", "/v1/tasks/"), "a first poll")
    time.sleep(1.5)  # past a heartbeat, which is when the worker writes "waiting"
    assert poll(vidgen, gen_id)["status"] == "queued"
    fake_runway.hold_at = "RUNNING"
    running = wait_until(
        lambda: (
            (b := poll(vidgen, gen_id))["status"] == "generating"
            and b["meta"]["progress"] > 0
            and b
        ),
        "generating with progress",
    )
    assert 0 < running["meta"]["progress"] < 1
    fake_runway.hold_at = None
    done = finish(vidgen, gen_id)

    assert done["status"] == "completed", done
    assert done["meta"]["engine"] == "runway"
    assert done["meta"]["usage"]["credits_used"] == 15
    [sent] = created_bodies(fake_runway)
    assert {k: v for k, v in sent.items() if k != "promptImage"} == {
        "model": "gen4_turbo",
        "ratio": "1280:720",
        "duration": 10,
        "seed": 1234,
        "promptText": "a slow dolly in",
    }
    assert decoded(sent["promptImage"]) == image  # the captured bytes, unchanged
    request = fake_runway.seen("POST", "/v1/image_to_video")[0]
    assert request.headers["x-runway-version"] == "2024-11-06"
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    ours = httpx.get(done["video"]["url"], timeout=30)
    assert ours.status_code == 200
    assert ours.content == fake_runway.video_bytes("1280:720")
    assert fake_runway.creations == 1


def test_gen3a_routed_to_runway_is_refused_as_retired_unless_a_substitute_is_named(
    fake_runway: FakeRunway, tmp_path: Path
) -> None:
    # Runway retired gen3a_turbo on 2026-06-10: routed there, it is refused in Runway's shape
    # before Runway is asked, and with a substitute the same SDK call is served by gen4_turbo.
    image = data_uri(make_image(640, 384))
    refused = new_server(tmp_path, "retired", **runway_env(fake_runway, VIDGEN_ROUTES=GEN3A_RUNWAY))
    refused.start()
    try:
        with pytest.raises(runwayml.BadRequestError) as info:
            runway_sdk(refused).image_to_video.create(
                model="gen3a_turbo",  # type: ignore[arg-type]
                prompt_image=image,
                ratio="1280:768",  # type: ignore[arg-type]
                duration=5,
            )
    finally:
        refused.stop()
    issues = info.value.body["issues"]  # type: ignore[index]
    assert [i["path"] for i in issues] == [["model"]]
    assert "retired by its provider on 2026-06-10" in issues[0]["message"]
    assert fake_runway.creations == 0

    served = new_server(
        tmp_path,
        "substituted",
        **runway_env(
            fake_runway,
            VIDGEN_ROUTES=GEN3A_RUNWAY,
            VIDGEN_MODEL_SUBSTITUTES="gen3a_turbo=runway/gen4_turbo",
        ),
    )
    served.start()
    try:
        client = runway_sdk(served)
        task = client.image_to_video.create(
            model="gen3a_turbo",  # type: ignore[arg-type]
            prompt_image=image,
            ratio="1280:768",  # type: ignore[arg-type]
            duration=5,
        )
        done = client.tasks.retrieve(task.id).wait_for_task_output(timeout=60)
    finally:
        served.stop()
    assert done.status == "SUCCEEDED"
    [sent] = created_bodies(fake_runway)
    assert (sent["model"], sent["ratio"]) == ("gen4_turbo", "1280:720")


def test_a_photo_too_large_for_runways_inline_limit_is_reencoded_and_accepted(
    vidgen: LiveServer, fake_runway: FakeRunway, image_server: ImageServer
) -> None:
    noise = np.random.default_rng(7).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    assert len(buffer.getvalue()) * 4 // 3 > 5 * 1024 * 1024  # too large as a data URI
    url = image_server.add("big.png", buffer.getvalue())
    done = finish(vidgen, submit(vidgen, image_url=url, aspect_ratio="4:3"))
    assert done["status"] == "completed", done
    [sent] = created_bodies(fake_runway)
    assert sent["promptImage"].startswith("data:image/jpeg;base64,")
    assert len(sent["promptImage"]) < 5 * 1024 * 1024
    with Image.open(io.BytesIO(decoded(sent["promptImage"]))) as received:
        assert received.size[0] / received.size[1] == pytest.approx(4 / 3, rel=0.01)


def test_our_link_keeps_working_after_runways_link_expired(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    done = finish(vidgen, submit(vidgen))
    assert done["status"] == "completed", done
    [task_id] = list(fake_runway.tasks)
    runway_url = f"{fake_runway.base_url}/v1/tasks/{task_id}"
    output_url = httpx.get(runway_url, headers=_runway_headers()).json()["output"][0]
    assert httpx.get(output_url).status_code == 200
    fake_runway.expire_outputs()
    assert httpx.get(output_url).status_code == 403
    ours = httpx.get(done["video"]["url"], timeout=30)
    assert ours.status_code == 200
    assert ours.content == fake_runway.video_bytes("1280:720")


def _runway_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {FAKE_KEY}", "X-Runway-Version": "2024-11-06"}


# -- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "name", "words"),
    [
        ("[fail=SAFETY.INPUT.TEXT] a person", "SAFETY.INPUT.TEXT", "content moderation"),
        ("[fail=INTERNAL.BAD_OUTPUT.CODE01]", "INTERNAL.BAD_OUTPUT.CODE01", "unexpected error"),
        ("[fail] no code at all", "FAILED", "unexpected error"),
    ],
)
def test_a_task_that_fails_at_runway_ends_in_error_with_its_failure_code_and_is_refunded(
    vidgen: LiveServer, fake_runway: FakeRunway, prompt: str, name: str, words: str
) -> None:
    done = finish(vidgen, submit(vidgen, prompt=prompt))
    assert done["status"] == "error", done
    assert done["error"]["name"] == name
    assert words in done["error"]["message"]
    assert done["meta"]["usage"]["credits_used"] == 0
    assert fake_runway.creations == 1  # never retried: a retry would be a second paid task


def test_an_upstream_400_fails_the_job_with_runways_own_message(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    fake_runway.inject(
        400,
        path="/v1/image_to_video",
        body={
            "error": "Validation of body failed",
            "issues": [{"message": "Image is too small", "path": ["promptImage"]}],
        },
    )
    done = finish(vidgen, submit(vidgen))
    assert done["status"] == "error", done
    assert done["error"]["name"] == "UpstreamRejected"
    assert "promptImage: Image is too small" in done["error"]["message"]
    assert len(fake_runway.seen("POST", "/v1/image_to_video")) == 1  # a 400 is not retried


def test_a_wrong_runway_key_shows_in_the_job_error_and_the_log_never_as_a_500(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    fake_runway.api_key = "key_" + "f" * 128  # Runway no longer knows the key vidgen has
    gen_id = submit(vidgen)  # the client's create is accepted (200): the key is ours to fix
    done = finish(vidgen, gen_id)
    assert done["status"] == "error", done
    assert done["error"]["name"] == "UpstreamUnauthorized"
    assert "RUNWAYML_API_SECRET" in done["error"]["message"]
    assert FAKE_KEY not in json.dumps(done)
    assert len(fake_runway.seen("POST", "/v1/image_to_video")) == 1  # a 401 is not retried
    logged = [json.loads(line) for line in vidgen.output().splitlines() if line.startswith("{")]
    assert any(
        line.get("generation_id") == gen_id and line.get("error") == "UpstreamUnauthorized"
        for line in logged
    )
    assert FAKE_KEY not in vidgen.output()


def test_a_task_cancelled_at_runway_ends_cancelled(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    done = finish(vidgen, submit(vidgen, prompt="[canceled]"))
    assert done["status"] == "error" and done["error"]["name"] == "Cancelled", done
    assert done["meta"]["usage"]["credits_used"] == 0


def test_a_task_deleted_behind_our_back_ends_in_a_clear_error(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    fake_runway.hold_at = "RUNNING"
    gen_id = submit(vidgen)
    fake_runway.tasks[running_task(fake_runway)].deleted = True
    done = finish(vidgen, gen_id)
    assert done["status"] == "error" and done["error"]["name"] == "UpstreamNotFound", done


def test_an_output_link_that_expired_before_we_copied_it_fails_clearly(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    fake_runway.output_ttl = -60  # every link is born expired
    done = finish(vidgen, submit(vidgen))
    assert done["status"] == "error", done
    assert done["error"]["name"] == "OutputUnavailable"
    assert "403" in done["error"]["message"]
    assert fake_runway.creations == 1


# -- cancel, storms, slowness ----------------------------------------------------------------


def test_cancelling_a_running_job_deletes_its_runway_task_and_refunds(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    fake_runway.hold_at = "RUNNING"
    gen_id = submit(vidgen)
    task_id = running_task(fake_runway)
    wait_until(lambda: poll(vidgen, gen_id)["status"] == "generating", "generating")
    with vidgen.client() as client:
        client.delete("/v2/video/generations", params={"generation_id": gen_id})
    done = finish(vidgen, gen_id)
    assert done["status"] == "error" and done["error"]["name"] == "Cancelled", done
    assert done["meta"]["usage"]["credits_used"] == 0
    assert [r.path for r in fake_runway.seen("DELETE", "/v1/tasks/")] == [f"/v1/tasks/{task_id}"]
    assert fake_runway.tasks[task_id].status == "CANCELLED"


def test_a_storm_of_429_and_503_still_completes_with_one_task(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    # Consecutive failures back off exponentially: five in a row keeps this test quick.
    fake_runway.inject(429, 5, path="/v1/image_to_video", retry_after="0")
    fake_runway.inject(503, 3, path="/v1/tasks/")
    fake_runway.inject(502, path="/v1/tasks/")
    fake_runway.inject(504, path="/v1/tasks/")
    done = finish(vidgen, submit(vidgen), timeout=60)
    assert done["status"] == "completed", done
    assert fake_runway.creations == 1
    assert len(fake_runway.seen("POST", "/v1/image_to_video")) == 6
    assert len(fake_runway.seen("GET", "/v1/tasks/")) >= 5 + 6  # the failures, then the walk


def test_slow_answers_from_runway_still_complete(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    fake_runway.delay = 0.4
    done = finish(vidgen, submit(vidgen), timeout=60)
    assert done["status"] == "completed", done
    assert fake_runway.creations == 1


# -- submit-time refusals and routing ----------------------------------------------------------


def test_a_tail_image_on_gen4_turbo_is_refused_at_submit_with_a_400(
    vidgen: LiveServer, fake_runway: FakeRunway
) -> None:
    image = data_uri(make_image())
    with vidgen.client() as client:
        answer = client.post(
            "/v2/video/generations",
            # By its alias: the engine's refusal names the model as the client did.
            json={"model": "gen4_turbo", "image_url": image, "tail_image_url": image},
        )
    assert answer.status_code == 400, answer.text
    [problem] = answer.json()["errors"]
    assert problem["field"] == "tail_image_url"
    assert problem["message"].startswith("gen4_turbo on Runway has no last-frame position")
    assert fake_runway.requests == []


def test_models_and_banner_show_runway_routing_when_a_key_is_set(vidgen: LiveServer) -> None:
    with vidgen.client() as client:
        models = {m["id"]: m["engine"] for m in client.get("/v1/models").json()["data"]}
    # The model the runway engine serves; the catalog's others (gen3a_turbo too: Runway
    # retired it) stay on preview.
    assert models.pop(GEN4) == "runway"
    assert set(models.values()) == {"preview"}
    banner = vidgen.output()
    assert re.search(r"→ runway \(1 model\)[^\n]*\n\s+runway/gen4_turbo\n", banner)
    assert re.search(r"→ preview \(\d+ models\)[^\n]*\n\s+gen3a_turbo, ", banner)


# -- crashes and start-up ----------------------------------------------------------------------


def test_a_server_killed_mid_job_resumes_the_same_runway_task_and_pays_once(
    live_server_factory: Any, fake_runway: FakeRunway
) -> None:
    server: LiveServer = live_server_factory(**runway_env(fake_runway))
    server.start()
    fake_runway.hold_at = "RUNNING"
    gen_id = submit(server, duration=10)
    task_id = running_task(fake_runway)
    server.kill()  # SIGKILL: no shutdown code runs
    polls_before = len(fake_runway.seen("GET", f"/v1/tasks/{task_id}"))
    server.start()
    # The dead worker's lease (4 s here) expires, the job is claimed again and resumes polling.
    wait_until(
        lambda: len(fake_runway.seen("GET", f"/v1/tasks/{task_id}")) > polls_before,
        "a poll of the same task after the restart",
        timeout=30,
    )
    fake_runway.hold_at = None
    done = finish(server, gen_id, timeout=60)
    assert done["status"] == "completed", done
    assert fake_runway.creations == 1
    assert len(fake_runway.seen("POST", "/v1/image_to_video")) == 1
    assert httpx.get(done["video"]["url"]).content == fake_runway.video_bytes("1280:720")
    assert "resuming the upstream task" in server.output()


def test_start_up_stops_when_a_model_is_routed_to_runway_without_a_key(
    live_server_factory: Any,
) -> None:
    server: LiveServer = live_server_factory(VIDGEN_ROUTES="gen4_turbo=runway")
    with pytest.raises(RuntimeError, match="exited early"):
        server.start(timeout=30)
    assert server.process is not None and server.process.returncode == 2
    assert "RUNWAYML_API_SECRET" in server.output()
    assert "runway/gen4_turbo" in server.output()


def test_gen4_5_routed_to_runway_serves_the_sdks_text_to_video_through_runways_endpoint(
    fake_runway: FakeRunway, tmp_path: Path
) -> None:
    server = new_server(
        tmp_path, "gen45", **runway_env(fake_runway, VIDGEN_ROUTES="runway/gen4.5=runway")
    )
    server.start()
    try:
        client = runway_sdk(server)
        task = client.text_to_video.create(
            model="gen4.5", prompt_text="a lighthouse at dusk", ratio="720:1280", duration=4
        )
        done = client.tasks.retrieve(task.id).wait_for_task_output(timeout=60)
        assert done.status == "SUCCEEDED"
        video = httpx.get(done.output[0]).content
    finally:
        server.stop()
    # Runway's own video (the fake's: an eighth of 720×1280, 24 frames), copied into vidgen.
    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.width, stream.height, frames) == (90, 160, 24)
    [created] = fake_runway.seen("POST", "/v1/")
    assert created.path == "/v1/text_to_video"
    assert {k: v for k, v in created.body.items() if k != "seed"} == {
        "model": "gen4.5",
        "promptText": "a lighthouse at dusk",
        "ratio": "720:1280",
        "duration": 4,
    }

"""The host engines end to end (replicate, fal, gemini): a real ``vidgen serve`` with the host's
key, in front of the host's stand-in (``tests/fakes/*_server.py``), driven only through vidgen's
public API: the same image-to-video request through the aimlapi dialect and through the Runway
dialect (the official ``runwayml`` SDK, strict), and through the OpenAI (the ``openai`` SDK) and
apiframe dialects, a prompt alone, a cancel, a SIGKILL."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import openai
import pytest
import runwayml

from tests.conftest import (
    TEST_KEY,
    LiveServer,
    data_uri,
    free_port,
    live_server_env,
    make_image,
    wait_for_status,
)
from tests.fakes.fal_server import FAKE_FAL_KEY, FakeFal
from tests.fakes.gemini_server import FAKE_GEMINI_KEY, FakeGemini
from tests.fakes.host import FakeHost
from tests.fakes.replicate_server import FAKE_TOKEN, FakeReplicate

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Host:
    """One host, as these tests drive it."""

    engine: str
    make: Callable[[], FakeHost]
    env: Callable[[FakeHost], dict[str, str]]
    model: str  # a vidgen model it serves
    other_model: str  # its second one
    create_prefix: str  # the path of a create at the stand-in
    cancel: tuple[str, str] | None  # (method, path prefix) of its cancel; None: it has none
    variable: str  # the credential's variable
    ratio: str = "1280:720"  # the model's 16:9 frame size, as the Runway dialect names it
    duration: int = 5  # one the model takes


HOSTS = [
    Host(
        engine="replicate",
        make=FakeReplicate,
        env=lambda fake: {
            "REPLICATE_API_TOKEN": FAKE_TOKEN,
            "VIDGEN_REPLICATE_BASE_URL": fake.base_url,
        },
        model="replicate/wan-2.5",
        other_model="replicate/kling-v2.5-turbo-pro",
        create_prefix="/v1/models/",
        cancel=("POST", "/v1/predictions/"),
        variable="REPLICATE_API_TOKEN",
    ),
    Host(
        engine="fal",
        make=FakeFal,
        env=lambda fake: {"FAL_KEY": FAKE_FAL_KEY, "VIDGEN_FAL_QUEUE_URL": fake.base_url},
        model="fal/kling-v2.5-turbo-pro",
        other_model="fal/veo3.1",
        create_prefix="/fal-ai/",
        cancel=("PUT", "/fal-ai/"),
        variable="FAL_KEY",
        ratio="1920:1080",
    ),
    Host(
        engine="gemini",
        make=FakeGemini,
        env=lambda fake: {
            "GEMINI_API_KEY": FAKE_GEMINI_KEY,
            "VIDGEN_GEMINI_BASE_URL": fake.base_url,
        },
        model="gemini/veo-3.1",
        other_model="gemini/veo-3.1-fast",
        create_prefix="/v1beta/models/",
        cancel=None,  # the Gemini API has no cancel for Veo
        variable="GEMINI_API_KEY",
        duration=8,
    ),
]


def host_env(host: Host, fake: FakeHost) -> dict[str, str]:
    return {
        **host.env(fake),
        "VIDGEN_UPSTREAM_POLL_INTERVAL": "0.05",
        "VIDGEN_UPSTREAM_BACKOFF_SECONDS": "0.05",
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


@pytest.fixture(scope="module", params=HOSTS, ids=lambda host: host.engine)
def hosted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Host, FakeHost, LiveServer]]:
    """A stand-in and one vidgen with its key, for the module, per host."""
    host: Host = request.param
    fake = host.make().start()
    server = new_server(tmp_path_factory.mktemp(host.engine), "vidgen", **host_env(host, fake))
    server.start()
    yield host, fake, server
    server.stop()
    fake.stop()


@pytest.fixture
def setup(hosted: tuple[Host, FakeHost, LiveServer]) -> tuple[Host, FakeHost, LiveServer]:
    hosted[1].reset()
    return hosted


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def submit(server: LiveServer, **body: Any) -> str:
    with server.client() as client:
        created = client.post("/v2/video/generations", json=body)
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def finish(server: LiveServer, gen_id: str, timeout: float = 60) -> dict[str, Any]:
    with server.client() as client:
        return wait_for_status(client, gen_id, timeout=timeout)


def test_the_same_image_request_through_aimlapi_and_runway_dialects_is_served_by_the_host(
    setup: tuple[Host, FakeHost, LiveServer],
) -> None:
    host, fake, server = setup
    image = data_uri(make_image(640, 360, seed=3))
    gen_id = submit(
        server, model=host.model, image_url=image, prompt="a heron", aspect_ratio="16:9"
    )
    done = finish(server, gen_id)
    assert done["status"] == "completed", done
    assert done["meta"]["engine"] == host.engine
    assert httpx.get(done["video"]["url"], timeout=30).content == fake.video_bytes()

    runway = runwayml.RunwayML(
        api_key=TEST_KEY, base_url=server.base_url, max_retries=0, _strict_response_validation=True
    )
    model: Any = host.model  # a vidgen id: the SDK's types know only Runway's own names
    task = runway.image_to_video.create(
        model=model,
        prompt_image=image,
        ratio=host.ratio,
        duration=host.duration,
        prompt_text="a heron",
    )
    result = task.wait_for_task_output(timeout=60)
    assert result.status == "SUCCEEDED"
    assert result.output is not None
    assert httpx.get(result.output[0], timeout=30).content == fake.video_bytes()

    assert fake.creations == 2
    first, second = fake.jobs.values()
    assert first.model == second.model  # the same endpoint at the host, from either dialect
    creates = fake.seen("POST", host.create_prefix)
    assert len(creates) == 2
    # No VIDGEN_PUBLIC_URL here: no webhook is asked for, and the jobs above finished by polls.
    assert not any("webhook" in r.query or "webhook" in (r.body or {}) for r in creates)


def test_the_openai_dialect_reaches_the_host_too(
    setup: tuple[Host, FakeHost, LiveServer],
) -> None:
    host, fake, server = setup
    client = openai.OpenAI(api_key=TEST_KEY, base_url=f"{server.base_url}/v1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK marks its videos API deprecated
        video = client.videos.create_and_poll(
            prompt="a heron",
            model=host.model,
            seconds=cast(Any, str(host.duration)),
            size=cast(Any, host.ratio.replace(":", "x")),
            input_reference=("first.png", make_image(640, 360), "image/png"),
        )
        assert video.status == "completed", video
        content = client.videos.download_content(video.id).read()
    assert content == fake.video_bytes()
    assert fake.creations == 1 and fake.only_job().body


def test_the_apiframe_dialect_reaches_the_host_too(
    setup: tuple[Host, FakeHost, LiveServer],
) -> None:
    host, fake, server = setup
    with httpx.Client(
        base_url=server.base_url, headers={"X-API-Key": TEST_KEY}, timeout=30
    ) as client:
        accepted = client.post(
            "/v2/videos/generate",
            json={
                "model": host.model,
                "prompt": "a heron",
                "runwayParams": {"image": data_uri(make_image()), "duration": host.duration},
            },
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["jobId"]
        job = wait_until(
            lambda: (j := client.get(f"/v2/jobs/{job_id}").json())["status"] == "COMPLETED" and j,
            "the apiframe job",
            timeout=60,
        )
    assert job["model"] == host.model
    assert httpx.get(job["result"]["videoUrl"], timeout=30).content == fake.video_bytes()
    assert fake.creations == 1


def test_a_prompt_alone_makes_a_video_with_the_hosts_other_model(
    setup: tuple[Host, FakeHost, LiveServer],
) -> None:
    host, fake, server = setup
    done = finish(server, submit(server, model=host.other_model, prompt="a quiet harbour"))
    assert done["status"] == "completed", done
    assert fake.only_job().body != {}
    with server.client() as client:
        listed = {m["id"]: m["engine"] for m in client.get("/v1/models").json()["data"]}
    assert listed[host.model] == listed[host.other_model] == host.engine

    # The Runway dialect's text to video reaches the host's text-to-video endpoint too.
    runway = runwayml.RunwayML(
        api_key=TEST_KEY, base_url=server.base_url, max_retries=0, _strict_response_validation=True
    )
    model: Any = host.model
    task = runway.text_to_video.create(
        model=model, prompt_text="a quiet harbour", ratio=host.ratio, duration=host.duration
    )
    assert task.wait_for_task_output(timeout=60).status == "SUCCEEDED"
    assert fake.creations == 2
    assert "image" not in str(list(fake.jobs.values())[1].body)  # a prompt alone was sent


def test_cancelling_a_running_job_cancels_it_at_the_host_where_the_host_can(
    setup: tuple[Host, FakeHost, LiveServer],
) -> None:
    host, fake, server = setup
    fake.hold = True
    gen_id = submit(server, model=host.model, prompt="slow", image_url=data_uri(make_image()))
    wait_until(lambda: any(j.step >= 1 for j in fake.jobs.values()), "a running job")
    with server.client() as client:
        client.delete("/v2/video/generations", params={"generation_id": gen_id})
    done = finish(server, gen_id)
    assert done["status"] == "error" and done["error"]["name"] == "Cancelled", done
    assert done["meta"]["usage"]["credits_used"] == 0
    if host.cancel is None:
        assert fake.only_job().outcome == "running"  # nothing to tell the host
    else:
        method, prefix = host.cancel
        wait_until(lambda: fake.only_job().outcome == "cancelled", "the cancel at the host")
        assert fake.seen(method, prefix)


def test_a_safety_refusal_at_the_host_ends_the_job_as_safety_refused_and_refunded(
    setup: tuple[Host, FakeHost, LiveServer],
) -> None:
    host, fake, server = setup
    done = finish(server, submit(server, model=host.model, prompt="[unsafe] something"))
    assert done["status"] == "error", done
    assert done["error"]["name"] == "SafetyRefused"
    assert done["meta"]["usage"]["credits_used"] == 0
    assert fake.creations == 1


@pytest.mark.parametrize("host", HOSTS, ids=lambda host: host.engine)
def test_a_server_killed_mid_job_resumes_the_same_upstream_job_and_pays_once(
    host: Host, live_server_factory: Any
) -> None:
    fake = host.make().start()
    try:
        server: LiveServer = live_server_factory(**host_env(host, fake))
        server.start()
        fake.hold = True
        gen_id = submit(server, model=host.model, prompt="x", image_url=data_uri(make_image()))
        wait_until(lambda: any(j.step >= 1 for j in fake.jobs.values()), "a running job")
        job = fake.only_job()
        server.kill()  # SIGKILL: no shutdown code runs
        polls_before = job.polls
        server.start()
        # The dead worker's lease (4 s here) expires; the job is claimed again and resumes.
        wait_until(lambda: job.polls > polls_before, "a poll after the restart", timeout=30)
        fake.hold = False
        done = finish(server, gen_id)
        assert done["status"] == "completed", done
        assert fake.creations == 1
        assert len(fake.seen("POST", host.create_prefix)) == 1
        assert "resuming the upstream task" in server.output()
    finally:
        fake.stop()


@pytest.mark.parametrize("host", HOSTS, ids=lambda host: host.engine)
def test_start_up_stops_when_a_model_is_routed_to_the_host_without_its_key(
    host: Host, live_server_factory: Any
) -> None:
    server: LiveServer = live_server_factory(VIDGEN_ROUTES=f"{host.model}={host.engine}")
    with pytest.raises(RuntimeError, match="exited early"):
        server.start(timeout=30)
    assert server.process is not None and server.process.returncode == 2
    assert host.variable in server.output()
    assert host.model in server.output()

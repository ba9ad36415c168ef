"""Every dialect driven by a real client: the official ``runwayml`` and ``openai`` SDKs, and plain
httpx for apiframe, against a real ``vidgen serve`` on loopback."""

from __future__ import annotations

import io
import time
import warnings
from pathlib import Path

import av
import httpx
import openai
import pytest
import runwayml
from PIL import Image

from tests.conftest import TEST_KEY, LiveServer, data_uri, make_image
from tests.e2e.test_aimlapi import vidgen_cli

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def frames_and_size(data: bytes, tmp_path: Path, name: str) -> tuple[int, tuple[int, int]]:
    path = tmp_path / name
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, (stream.codec_context.width, stream.codec_context.height)


# -- Runway's API, through the official runwayml SDK ----------------------------------------


def test_the_runwayml_sdk_creates_waits_downloads_and_deletes(
    live_server: LiveServer, tmp_path: Path
) -> None:
    client = runwayml.RunwayML(api_key=TEST_KEY, base_url=live_server.base_url)
    task = client.image_to_video.create(
        model="gen4_turbo",
        prompt_image=data_uri(make_image(640, 360)),
        ratio="1104:832",
        duration=5,
        prompt_text="slow zoom in",
        seed=11,
    )
    done = task.wait_for_task_output(timeout=120)
    assert done.status == "SUCCEEDED"
    count, size = frames_and_size(httpx.get(done.output[0]).content, tmp_path, "rw.mp4")
    assert (count, size) == (120, (1104, 832))
    client.tasks.delete(task.id)
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.retrieve(task.id)


def test_runway_tasks_report_progress_and_first_and_last_frames(live_server: LiveServer) -> None:
    client = runwayml.RunwayML(api_key=TEST_KEY, base_url=live_server.base_url)
    task = client.image_to_video.create(
        model="gen3a_turbo",
        prompt_image=[
            {"uri": data_uri(make_image(seed=1)), "position": "first"},
            {"uri": data_uri(make_image(seed=2)), "position": "last"},
        ],
        ratio="768:1280",
        duration=10,
    )
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        current = client.tasks.retrieve(task.id)
        seen.add(current.status)
        if current.status == "RUNNING":
            assert 0 <= current.progress <= 1
        if current.status == "SUCCEEDED":
            break
        time.sleep(0.1)
    assert "SUCCEEDED" in seen and seen <= {"PENDING", "RUNNING", "SUCCEEDED"}


def test_runway_errors_name_the_field_and_a_version_is_required(live_server: LiveServer) -> None:
    client = runwayml.RunwayML(api_key=TEST_KEY, base_url=live_server.base_url, max_retries=0)
    with pytest.raises(runwayml.BadRequestError) as info:
        client.image_to_video.create(
            model="gen4_turbo", prompt_image=data_uri(make_image()), ratio="1280:768"
        )
    body = info.value.body
    assert isinstance(body, dict) and any(i["path"] == ["ratio"] for i in body["issues"])
    assert "1280:720" in str(body)
    with pytest.raises(runwayml.AuthenticationError):
        runwayml.RunwayML(
            api_key="vg_nope", base_url=live_server.base_url, max_retries=0
        ).tasks.retrieve("x")
    bare = httpx.get(
        f"{live_server.base_url}/v1/tasks/x", headers={"Authorization": f"Bearer {TEST_KEY}"}
    )
    assert bare.status_code == 400 and "X-Runway-Version" in bare.text


def test_a_key_over_its_concurrency_limit_sees_throttled(live_server: LiveServer) -> None:
    created = vidgen_cli(
        live_server, "keys", "create", "--name", "one-at-a-time", "--max-concurrency", "1"
    )
    key = created.stdout.strip().splitlines()[-1]
    client = runwayml.RunwayML(api_key=key, base_url=live_server.base_url)
    image = data_uri(make_image())
    first = client.image_to_video.create(
        model="gen4_turbo", prompt_image=image, ratio="1280:720", duration=10
    )
    second = client.image_to_video.create(
        model="gen4_turbo", prompt_image=image, ratio="1280:720", duration=10
    )
    statuses: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # The second task first: seen running, and the first still running after that, they
        # ran at once. (The other order can see the first end and the second start between
        # its two reads.)
        two, one = client.tasks.retrieve(second.id), client.tasks.retrieve(first.id)
        if one.status == "RUNNING":
            statuses.add(two.status)
        if two.status == "SUCCEEDED":
            break
        time.sleep(0.05)
    assert "THROTTLED" in statuses and "RUNNING" not in statuses
    assert client.tasks.retrieve(second.id).status == "SUCCEEDED"


# -- OpenAI-style /v1/videos, through the official openai SDK -------------------------------


def test_the_openai_sdk_creates_polls_downloads_lists_and_deletes(
    live_server: LiveServer, tmp_path: Path
) -> None:
    client = openai.OpenAI(api_key=TEST_KEY, base_url=f"{live_server.base_url}/v1")
    image = tmp_path / "first.png"
    image.write_bytes(make_image(800, 450))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        video = client.videos.create_and_poll(
            prompt="pan left across the hills",
            model="runway/gen4_turbo",
            seconds="5",
            size="1280x720",
            input_reference=image.open("rb"),
        )
        assert video.status == "completed" and video.progress == 100, video
        assert video.expires_at and video.expires_at > time.time() + 3600
        content = client.videos.download_content(video.id)
        count, size = frames_and_size(content.read(), tmp_path, "oa.mp4")
        assert (count, size) == (120, (1280, 720))
        thumb = client.videos.download_content(video.id, variant="thumbnail").read()
        assert Image.open(io.BytesIO(thumb)).format == "WEBP"
        # gen4_turbo is image to video, so this one too has a first frame.
        second = client.videos.create_and_poll(
            prompt="a snowy mountain at sunset",
            seconds="5",
            input_reference=("tall.png", make_image(450, 800), "image/png"),
        )
        assert second.status == "completed" and second.size == "720x1280"
        newest = client.videos.list(limit=1, order="desc")
        assert [v.id for v in newest.data] == [second.id]
        oldest = client.videos.list(limit=10, order="asc")
        assert [v.id for v in oldest.data][:2] == [video.id, second.id]
        deleted = client.videos.delete(video.id)
        assert deleted.deleted and deleted.id == video.id
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(video.id)


def test_openai_errors_name_the_parameter(live_server: LiveServer) -> None:
    client = openai.OpenAI(api_key=TEST_KEY, base_url=f"{live_server.base_url}/v1", max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = {"input_reference": ("cat.png", make_image(), "image/png")}
        for kwargs, param in (({"size": "1920x1080"}, "size"), ({"seconds": "12"}, "seconds")):
            with pytest.raises(openai.BadRequestError) as info:
                client.videos.create(prompt="a cat", **kwargs, **image)  # type: ignore[arg-type]
            assert info.value.body["param"] == param  # type: ignore[index]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(
                api_key="vg_nope", base_url=f"{live_server.base_url}/v1", max_retries=0
            ).videos.list()


# -- apiframe, with plain httpx --------------------------------------------------------------


def test_apiframe_generates_videos_and_lists_jobs(live_server: LiveServer, tmp_path: Path) -> None:
    headers = {"X-API-Key": TEST_KEY}
    with httpx.Client(base_url=live_server.base_url, headers=headers, timeout=30) as client:
        portrait = client.post(
            "/v2/videos/generate",
            json={
                "model": "runway-gen4-turbo",
                "prompt": "a futuristic city at sunset",
                "runwayParams": {
                    "image": data_uri(make_image(450, 800)),
                    "duration": 5,
                    "aspect_ratio": "9:16",
                },
            },
        )
        assert portrait.status_code == 202 and portrait.json()["status"] == "QUEUED", portrait.text
        image = client.post(
            "/v2/videos/generate",
            json={
                "model": "runway-gen4-turbo",
                "prompt": "gentle motion",
                "runwayParams": {"image": data_uri(make_image()), "duration": 10},
            },
        )
        assert image.status_code == 202
        jobs = {}
        for job_id in (portrait.json()["jobId"], image.json()["jobId"]):
            deadline = time.monotonic() + 60
            while (job := client.get(f"/v2/jobs/{job_id}").json())["status"] not in (
                "COMPLETED",
                "FAILED",
            ):
                assert time.monotonic() < deadline
                assert 0 <= job["progress"] <= 100
                time.sleep(0.2)
            jobs[job_id] = job
        portrait_job, image_job = jobs.values()
        assert (
            portrait_job["status"] == "COMPLETED"
            and portrait_job["creditCost"] == 8
            and not portrait_job["expired"]
        )
        assert image_job["creditCost"] == 15 and image_job["input"]["duration"] == 10
        count, size = frames_and_size(
            httpx.get(portrait_job["result"]["videoUrl"]).content, tmp_path, "af.mp4"
        )
        assert (count, size) == (120, (720, 1280))
        listed = client.get("/v2/jobs", params={"limit": 1}).json()
        assert listed["hasMore"] and [j["jobId"] for j in listed["jobs"]] == [image.json()["jobId"]]
        rest = client.get("/v2/jobs", params={"limit": 5, "cursor": listed["nextCursor"]}).json()
        assert [j["jobId"] for j in rest["jobs"]] == [portrait.json()["jobId"]]


def test_apiframe_refuses_unknown_fields_and_reports_credits_its_way(
    live_server: LiveServer,
) -> None:
    with httpx.Client(base_url=live_server.base_url, headers={"X-API-Key": TEST_KEY}) as client:
        bad = client.post(
            "/v2/videos/generate",
            json={"model": "runway-gen4-turbo", "prompt": "x", "runwayParams": {"fps": 60}},
        )
        assert bad.status_code == 400
        assert "runwayParams.fps" in bad.json()["details"], bad.text
        ratio = client.post(
            "/v2/videos/generate",
            json={
                "model": "runway-gen4-turbo",
                "prompt": "x",
                "runwayParams": {"aspect_ratio": "2:1"},
            },
        )
        assert "runwayParams.aspect_ratio" in ratio.json()["details"], ratio.text
    created = vidgen_cli(live_server, "keys", "create", "--name", "poor", "--credits", "10")
    poor = created.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=live_server.base_url, headers={"X-API-Key": poor}) as client:
        body = {
            "model": "runway-gen4-turbo",
            "prompt": "x",
            "runwayParams": {"image": data_uri(make_image()), "duration": 10},
        }
        short = client.post("/v2/videos/generate", json=body)
        assert short.status_code == 402
        assert short.json() == {
            "error": "Insufficient credits",
            "creditsRequired": 15,
            "creditsAvailable": 10,
        }


def test_the_openapi_document_has_every_dialect_under_its_own_tag(live_server: LiveServer) -> None:
    spec = httpx.get(f"{live_server.base_url}/openapi.json").json()
    tags = {
        path: {t for op in item.values() for t in op.get("tags", [])}
        for path, item in spec["paths"].items()
    }
    assert tags["/v2/video/generations"] == {"aimlapi"}
    assert tags["/v2/videos/generate"] == {"apiframe"} and tags["/v2/jobs/{job_id}"] == {"apiframe"}
    assert tags["/v1/image_to_video"] == {"runway"} and tags["/v1/tasks/{task_id}"] == {"runway"}
    assert tags["/v1/videos"] == {"openai"} and tags["/v1/videos/{video_id}/content"] == {"openai"}
    assert {t["name"] for t in spec["tags"]} >= {"aimlapi", "apiframe", "runway", "openai"}

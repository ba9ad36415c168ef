"""Runway's ephemeral uploads with the official ``runwayml`` SDK (strict) against vidgen on
preview: ``uploads.create_ephemeral`` posts the file where vidgen says, and the ``runway://`` URI
it returns names that file in a later request of the same key, and of no other key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import runwayml

from tests.conftest import LiveServer, make_image, make_video, shared_server

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

KEYS = [f"vg_runway_uploads_{n:02d}_" + "u" * 24 for n in range(2)]
VERSION = {"X-Runway-Version": "2024-11-06"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from shared_server(tmp_path_factory, "runway-uploads", KEYS)


def sdk(server: LiveServer, key: str) -> runwayml.RunwayML:
    return runwayml.RunwayML(
        api_key=key, base_url=server.base_url, max_retries=0, _strict_response_validation=True
    )


def test_an_uploaded_video_and_image_are_named_by_their_runway_uri_and_the_task_succeeds(
    server: LiveServer,
) -> None:
    client = sdk(server, KEYS[0])
    clip = client.uploads.create_ephemeral(file=("clip.mp4", make_video(64, 36, frames=48)))
    still = client.uploads.create_ephemeral(file=("still.png", make_image(640, 360)))
    assert clip.uri.startswith("runway://") and still.uri.startswith("runway://")
    task = client.video_to_video.create(
        model="aleph2",
        video_uri=clip.uri,
        prompt_text="in watercolour",
        keyframes=[{"uri": still.uri, "at": 0.5}],
    )
    done = client.tasks.retrieve(task.id).wait_for_task_output(timeout=180)
    assert done.status == "SUCCEEDED", done
    first = client.image_to_video.create(
        model="gen4_turbo", prompt_image=still.uri, ratio="1280:720", duration=2
    )
    assert client.tasks.retrieve(first.id).wait_for_task_output(timeout=180).status == "SUCCEEDED"


def test_another_keys_upload_is_refused_naming_the_field(server: LiveServer) -> None:
    clip = sdk(server, KEYS[0]).uploads.create_ephemeral(
        file=("clip.mp4", make_video(64, 36, frames=48))
    )
    with pytest.raises(runwayml.BadRequestError) as info:
        sdk(server, KEYS[1]).video_to_video.create(
            model="aleph2", video_uri=clip.uri, prompt_text="in watercolour"
        )
    issues = info.value.body["issues"]  # type: ignore[index]
    assert [i["path"] for i in issues] == [["videoUri"]], issues
    assert "not an upload of this API key" in issues[0]["message"]


def test_an_upload_posted_without_the_right_signature_is_refused(
    server: LiveServer, tmp_path: Path
) -> None:
    headers = {**VERSION, "Authorization": f"Bearer {KEYS[0]}"}
    started = httpx.post(
        f"{server.base_url}/v1/uploads", json={"filename": "a.png"}, headers=headers
    ).json()
    forged = {**started["fields"], "signature": "0" * 64}
    answer = httpx.post(
        started["uploadUrl"], data=forged, files={"file": ("a.png", make_image(64, 36))}
    )
    assert answer.status_code == 404
    assert "error" in answer.json()

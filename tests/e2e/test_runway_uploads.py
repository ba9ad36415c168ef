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
# Small caps, so that small files show their order: an input video may be larger than any
# other request body, and uploads are how such a video gets in.
MAX_BODY_BYTES = 8_000
MAX_VIDEO_BYTES = 65_536


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "VIDGEN_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "VIDGEN_MAX_VIDEO_BYTES": str(MAX_VIDEO_BYTES),
    }
    yield from shared_server(tmp_path_factory, "runway-uploads", KEYS, env=env)


def sdk(server: LiveServer, key: str) -> runwayml.RunwayML:
    return runwayml.RunwayML(
        api_key=key, base_url=server.base_url, max_retries=0, _strict_response_validation=True
    )


def test_an_uploaded_video_and_image_are_named_by_their_runway_uri_and_the_task_succeeds(
    server: LiveServer,
) -> None:
    client = sdk(server, KEYS[0])
    video = make_video(320, 180, frames=48)
    assert MAX_BODY_BYTES < len(video) < MAX_VIDEO_BYTES  # too large for a body, not for a video
    clip = client.uploads.create_ephemeral(file=("clip.mp4", video))
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


def test_a_file_post_is_checked_before_its_file_is_read_and_capped_at_the_input_video_cap(
    server: LiveServer,
) -> None:
    headers = {**VERSION, "Authorization": f"Bearer {KEYS[0]}"}
    started = httpx.post(
        f"{server.base_url}/v1/uploads", json={"filename": "big.mp4"}, headers=headers
    ).json()
    # The same form, over the cap, sent without a length (so nothing is refused by its
    # Content-Length): with forged fields it is refused at the file's first byte, before the
    # cap could be reached; with the right ones the cap refuses it.
    oversized = b"\0" * (2 * MAX_VIDEO_BYTES + 65_536)
    answers = {}
    for name, signature in (("forged", "0" * 64), ("right", started["fields"]["signature"])):
        form = httpx.Request(
            "POST",
            started["uploadUrl"],
            data={**started["fields"], "signature": signature},
            files={"file": ("big.mp4", oversized)},
        )
        body = form.read()
        answers[name] = httpx.post(
            started["uploadUrl"],
            content=iter([body[i : i + 16_384] for i in range(0, len(body), 16_384)]),
            headers={"Content-Type": form.headers["Content-Type"]},
        )
    assert answers["forged"].status_code == 404, answers["forged"].text
    assert answers["right"].status_code == 413, answers["right"].text
    assert "error" in answers["right"].json()

"""The aimlapi surface end to end: a real ``vidgen serve`` on loopback, real HTTP, real MP4s."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import (
    OTHER_KEY,
    ImageServer,
    LiveServer,
    data_uri,
    make_image,
    wait_for_status,
)

pytestmark = pytest.mark.slow

GEN4 = "runway/gen4_turbo"


def decode(path: Path) -> tuple[list[np.ndarray], av.video.stream.VideoStream]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, stream


def download(url: str, path: Path) -> Path:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    path.write_bytes(response.content)
    return path


def test_create_poll_download_gives_a_real_720p_mp4(
    live_server: LiveServer, image_server: ImageServer, tmp_path: Path
) -> None:
    url = image_server.add("mountain.png", make_image(800, 450))
    with live_server.client() as client:
        created = client.post(
            "/v2/video/generations",
            json={
                "model": GEN4,
                "prompt": "slow zoom in",
                "image_url": url,
                "aspect_ratio": "16:9",
            },
        )
        assert created.status_code == 200, created.text
        body = created.json()
        assert body["status"] == "queued" and set(body) == {"id", "status"}
        done = wait_for_status(client, body["id"])
    assert done["status"] == "completed", done
    assert done["duration"] == pytest.approx(5.0)
    assert done["meta"]["engine"] == "preview"
    assert done["meta"]["usage"] == {"credits_used": 8, "tokens_used": 8}
    assert "?_jwt=" in done["video"]["url"]
    thumbnail = httpx.get(done["meta"]["thumbnail_url"])
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (640, 360)
    frames, stream = decode(download(done["video"]["url"], tmp_path / "out.mp4"))
    assert len(frames) == 120
    assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
    assert stream.average_rate == 24
    assert stream.codec_context.name == "h264"


def test_gen3a_ten_seconds_from_a_data_uri_is_1280x768_with_240_frames(
    live_server: LiveServer, tmp_path: Path
) -> None:
    with live_server.client() as client:
        created = client.post(
            "/v2/generate/video/runway/generation",  # the legacy route behaves the same
            json={
                "model": "gen3a_turbo",
                "image_url": data_uri(make_image(640, 384)),
                "duration": 10,
                "ratio": "16:9",
                "seed": 42,
            },
        )
        assert created.status_code == 200, created.text
        gen_id = created.json()["id"]
        done = client.get("/v2/generate/video/runway/generation", params={"generation_id": gen_id})
        assert done.status_code == 200
        done_body = wait_for_status(client, gen_id)
    assert done_body["meta"]["seed"] == 42
    assert done_body["meta"]["usage"]["credits_used"] == 15
    frames, stream = decode(download(done_body["video"]["url"], tmp_path / "g3.mp4"))
    assert len(frames) == 240
    assert (stream.codec_context.width, stream.codec_context.height) == (1280, 768)


def test_without_a_ratio_a_portrait_image_gives_a_portrait_video(live_server: LiveServer) -> None:
    with live_server.client() as client:
        gen_id = client.post(
            "/v2/video/generations",
            json={"model": GEN4, "image_url": data_uri(make_image(300, 500))},
        ).json()["id"]
        done = wait_for_status(client, gen_id)
    assert done["meta"]["aspect_ratio"] == "9:16"


def test_a_missing_seed_is_chosen_and_recorded_and_the_same_seed_repeats_the_video(
    live_server: LiveServer, tmp_path: Path
) -> None:
    image = data_uri(make_image(400, 225, seed=3))
    with live_server.client() as client:
        random_seed = wait_for_status(
            client,
            client.post(
                "/v2/video/generations",
                json={"model": GEN4, "image_url": image, "prompt": "pan left"},
            ).json()["id"],
        )
        seed = random_seed["meta"]["seed"]
        assert 0 <= seed <= 4_294_967_295
        again = wait_for_status(
            client,
            client.post(
                "/v2/video/generations",
                json={"model": GEN4, "image_url": image, "prompt": "pan left", "seed": seed},
            ).json()["id"],
        )
    a, _ = decode(download(random_seed["video"]["url"], tmp_path / "a.mp4"))
    b, _ = decode(download(again["video"]["url"], tmp_path / "b.mp4"))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_the_download_link_supports_range_requests_and_refuses_tampering(
    live_server: LiveServer,
) -> None:
    with live_server.client() as client:
        gen_id = client.post(
            "/v2/video/generations", json={"model": GEN4, "image_url": data_uri(make_image())}
        ).json()["id"]
        url = wait_for_status(client, gen_id)["video"]["url"]
    whole = httpx.get(url)
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    base, _, token = url.partition("?_jwt=")
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for bad in (f"{base}?_jwt={tampered}", base, f"{base}?_jwt="):
        assert httpx.get(bad).status_code in (403, 404)
    other_file = base.replace(gen_id, "00000000-0000-0000-0000-000000000000")
    assert httpx.get(f"{other_file}?_jwt={token}").status_code in (403, 404)


def test_a_generation_is_invisible_to_other_keys(live_server: LiveServer) -> None:
    with live_server.client() as owner, live_server.client(OTHER_KEY) as other:
        gen_id = owner.post(
            "/v2/video/generations", json={"model": GEN4, "image_url": data_uri(make_image())}
        ).json()["id"]
        response = other.get("/v2/video/generations", params={"generation_id": gen_id})
        assert response.status_code == 404
        assert (
            owner.get("/v2/video/generations", params={"generation_id": gen_id}).status_code == 200
        )


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    assert {"message", "path", "requestId", "statusCode", "timestamp"} <= set(body)
    assert body["statusCode"] == status
    assert "Traceback" not in response.text
    return body


def test_bad_input_gets_a_clear_400_naming_the_field(
    live_server: LiveServer, image_server: ImageServer
) -> None:
    image = data_uri(make_image())
    missing = image_server.base_url + "/nope.png"
    not_image = image_server.add("text.png", b"hello, I am not a picture")
    cases = [
        ({"model": "runway/gen9", "image_url": image}, "model", "gen3a_turbo"),
        (
            {"model": "gen3a_turbo", "image_url": image, "aspect_ratio": "1:1"},
            "aspect_ratio",
            "16:9, 9:16",
        ),
        ({"model": GEN4, "image_url": image, "duration": 11}, "duration", "from 2 to 10"),
        ({"model": "gen3a_turbo", "image_url": image, "duration": 7}, "duration", "5 or 10"),
        ({"model": GEN4, "image_url": image, "seed": -1}, "seed", "4294967295"),
        ({"model": GEN4, "image_url": image, "prompt": "x" * 1001}, "prompt", "1000"),
        ({"model": GEN4}, "image_url", "required"),
        ({"model": GEN4, "image_url": missing}, "image_url", "404"),
        ({"model": GEN4, "image_url": not_image}, "image_url", "PNG, JPEG or WebP"),
        ({"model": GEN4, "image_url": "data:image/png;base64,@@@"}, "image_url", "base64"),
        ({"model": GEN4, "image_url": image, "colour": "red"}, "colour", "not a known field"),
        (
            {"model": GEN4, "image_url": image, "ratio": "16:9", "aspect_ratio": "9:16"},
            "",
            "send only one",
        ),
        (
            {"model": GEN4, "image_url": data_uri(make_image(1000, 300))},
            "aspect_ratio",
            "between 0.5 and 2",
        ),
        ({"model": GEN4, "image_url": "ftp://example.com/a.png"}, "image_url", "https"),
    ]
    with live_server.client() as client:
        for payload, field, words in cases:
            body = _error(client.post("/v2/video/generations", json=payload), 400)
            errors = body.get("errors")
            assert isinstance(errors, list) and errors, body
            assert any(field in e["field"] and words in e["message"] for e in errors) or (
                not field and words in str(body["message"])
            ), (payload, body)
        _error(
            client.post(
                "/v2/video/generations",
                content=b"{not json",
                headers={"Content-Type": "application/json"},
            ),
            400,
        )
        _error(client.get("/v2/video/generations", params={"generation_id": ""}), 400)
        _error(client.get("/v2/video/generations", params={"limit": 0}), 400)


def test_keys_are_required_and_checked(live_server: LiveServer) -> None:
    payload = {"model": GEN4, "image_url": data_uri(make_image())}
    with httpx.Client(base_url=live_server.base_url) as anonymous:
        assert "API key" in str(
            _error(anonymous.post("/v2/video/generations", json=payload), 401)["message"]
        )
        _error(anonymous.get("/v2/video/generations", params={"generation_id": "x"}), 401)
    with live_server.client("vg_not_a_real_key") as wrong:
        _error(wrong.post("/v2/video/generations", json=payload), 401)


def test_unknown_generation_is_404_and_oversized_body_is_413(live_server: LiveServer) -> None:
    with live_server.client() as client:
        _error(client.get("/v2/video/generations", params={"generation_id": "nope"}), 404)
        huge = {"model": GEN4, "image_url": "data:image/png;base64," + "A" * (17 * 1024 * 1024)}
        _error(client.post("/v2/video/generations", json=huge), 413)


def vidgen_cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidgen.cli.main", *args, "--data-dir", str(server.data_dir)],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_credits_are_charged_at_submit_and_an_empty_key_gets_403(live_server: LiveServer) -> None:
    created = vidgen_cli(live_server, "keys", "create", "--name", "small", "--credits", "10")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("vg_")
    payload = {"model": GEN4, "image_url": data_uri(make_image())}
    with live_server.client(secret) as client:
        first = client.post("/v2/video/generations", json=payload)
        assert first.status_code == 200
        body = _error(client.post("/v2/video/generations", json=payload), 403)
        assert "credits" in str(body["message"]).lower()
    listing = vidgen_cli(live_server, "keys", "list")
    assert "small" in listing.stdout and " 2 " in listing.stdout
    revoked = vidgen_cli(live_server, "keys", "revoke", "small")
    assert revoked.returncode == 0, revoked.stderr
    # Authentication answers are cached for up to 2 s (AUTH_CACHE_SECONDS); then the key is dead.
    deadline = time.monotonic() + 10
    with live_server.client(secret) as client:
        while True:
            answer = client.get(
                "/v2/video/generations", params={"generation_id": first.json()["id"]}
            )
            if answer.status_code != 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        _error(answer, 401)


def test_a_keys_priority_and_concurrency_are_set_from_the_cli_and_shown_to_the_key(
    live_server: LiveServer,
) -> None:
    created = vidgen_cli(
        live_server, "keys", "create", "--name", "vip", "--priority", "3", "--max-concurrency", "2"
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    with live_server.client(secret) as client:
        account = client.get("/v1/account").json()
    assert (account["priority"], account["max_concurrency"]) == (3, 2)

    changed = vidgen_cli(
        live_server, "keys", "set", "vip", "--priority", "-2", "--max-concurrency", "0"
    )
    assert changed.returncode == 0, changed.stderr
    assert "priority -2, concurrency any" in changed.stdout
    with live_server.client(secret) as client:
        account = client.get("/v1/account").json()
    assert (account["priority"], account["max_concurrency"]) == (-2, None)

    nothing = vidgen_cli(live_server, "keys", "set", "vip")
    assert nothing.returncode == 2 and "--priority" in nothing.stderr
    unknown = vidgen_cli(live_server, "keys", "set", "nobody", "--priority", "1")
    assert unknown.returncode == 1 and "no key matches" in unknown.stderr
    too_high = vidgen_cli(live_server, "keys", "create", "--name", "x", "--priority", "5000")
    assert too_high.returncode == 2 and "--priority" in too_high.stderr


def test_operations_endpoints(live_server: LiveServer) -> None:
    with live_server.client() as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready").json()
        assert ready == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}
        models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert models[GEN4]["engine"] == "preview"
        assert models[GEN4]["aspect_ratios"]["21:9"] == "1584x672"
        assert models["gen3a_turbo"]["credits"] == {"5": 8, "10": 15}
        # A model's own fields, enough for a form: type, range and default.
        intensity = models["runway/act_two"]["options"]["expression_intensity"]
        assert (intensity["type"], intensity["minimum"], intensity["maximum"]) == ("int", 1, 5)
        assert intensity["default"] == 3
        assert models[GEN4]["options"] == {}
        gen_id = client.post(
            "/v2/video/generations", json={"model": GEN4, "image_url": data_uri(make_image())}
        ).json()["id"]
        wait_for_status(client, gen_id)
        metrics = client.get("/metrics").text
        for name in (
            "vidgen_http_request_duration_seconds_bucket",
            "vidgen_queue_depth",
            "vidgen_job_outcomes_total",
            "vidgen_job_duration_seconds_bucket",
        ):
            assert name in metrics
        assert 'outcome="completed"' in metrics
        spec = client.get("/openapi.json").json()
        assert "/v2/video/generations" in spec["paths"]
        assert client.get("/docs").status_code == 200
    log_lines = [
        json.loads(line) for line in live_server.output().splitlines() if line.startswith("{")
    ]
    job_lines = [line for line in log_lines if line.get("generation_id") == gen_id]
    assert any(line["msg"] == "job completed" for line in job_lines)
    assert all(line.get("request_id") for line in job_lines)
    assert all("request_id" in line for line in log_lines)


def test_a_server_with_no_keys_creates_one_and_prints_a_curl_line(
    live_server_factory: object,
) -> None:
    server: LiveServer = live_server_factory(VIDGEN_API_KEYS="")  # type: ignore[operator]
    server.start()
    output = server.output()
    assert "curl" in output
    secret = next(word for word in output.split() if word.startswith("vg_"))
    with server.client(secret) as client:
        assert client.get("/v2/video/generations", params={"generation_id": "x"}).status_code == 404
    assert "runway/gen4_turbo" in output and "preview" in output


def test_queued_jobs_survive_a_sigkill(live_server_factory: object) -> None:
    # One slot and 10 s clips: several jobs are still queued (or running) at the kill.
    server: LiveServer = live_server_factory(VIDGEN_WORKER_CONCURRENCY="1")  # type: ignore[operator]
    server.start()
    with server.client() as client:
        ids = [
            client.post(
                "/v2/video/generations",
                json={"model": GEN4, "image_url": data_uri(make_image(seed=i)), "duration": 10},
            ).json()["id"]
            for i in range(4)
        ]
        at_kill = [
            wait_for_status(client, i, timeout=1, final=("queued", "generating", "completed"))[
                "status"
            ]
            for i in ids
        ]
    assert "completed" not in at_kill[-2:], at_kill  # the kill really lands mid-queue
    server.kill()
    server.start()
    with server.client() as client:
        finals = [wait_for_status(client, gen_id, timeout=120) for gen_id in ids]
    assert [f["status"] for f in finals] == ["completed"] * 4


def test_a_key_lists_its_own_generations_newest_first_page_by_page(live_server: LiveServer) -> None:
    with live_server.client() as client, live_server.client(OTHER_KEY) as other:
        mine = [
            client.post(
                "/v2/video/generations",
                json={"model": GEN4, "image_url": data_uri(make_image(seed=i))},
            ).json()["id"]
            for i in range(5)
        ]
        other.post(
            "/v2/video/generations", json={"model": GEN4, "image_url": data_uri(make_image())}
        )
        first = client.get("/v2/video/generations", params={"limit": 3}).json()
        assert [g["id"] for g in first["data"]] == mine[::-1][:3] and first["has_more"]
        second = client.get(
            "/v2/video/generations", params={"limit": 3, "after": first["next_cursor"]}
        ).json()
        assert [g["id"] for g in second["data"]] == mine[::-1][3:] and not second["has_more"]
        for gen_id in mine:
            wait_for_status(client, gen_id)
        done = client.get("/v2/video/generations", params={"status": "completed"}).json()
        assert {g["id"] for g in done["data"]} == set(mine)
        assert client.get("/v2/video/generations", params={"status": "queued"}).json()["data"] == []


def test_the_poll_fast_path_answers_exactly_as_the_route_does(live_server: LiveServer) -> None:
    """A bare ``?generation_id=`` poll is answered before FastAPI's routing (``fast_path``);
    adding ``limit`` (which a poll ignores) sends the same request through the route itself."""
    volatile = {"timestamp", "requestId"}
    with live_server.client() as client:
        created = client.post(
            "/v2/video/generations",
            json={"model": GEN4, "image_url": data_uri(make_image(320, 180)), "seed": 7},
        ).json()
        for final in (False, True):
            if final:
                wait_for_status(client, created["id"])
            for path in ("/v2/video/generations", "/v2/generate/video/runway/generation"):
                # A running job may move on between two polls (claimed, a heartbeat's
                # progress), so the fast answer is compared with routed answers taken just
                # before and just after it that agree with each other.
                for _ in range(50):
                    before = client.get(path, params={"generation_id": created["id"], "limit": 20})
                    fast = client.get(path, params={"generation_id": created["id"]})
                    after = client.get(path, params={"generation_id": created["id"], "limit": 20})
                    if before.content == after.content:
                        break
                assert fast.status_code == after.status_code == 200
                assert fast.headers["content-type"] == after.headers["content-type"]
                assert before.content == after.content
                assert fast.content == after.content
        # Errors too: the same status and body in the dialect's shape.
        for params, headers in (
            ({"generation_id": "no-such-id"}, {}),
            ({"generation_id": created["id"]}, {"Authorization": "Bearer vg_wrong"}),
            ({"generation_id": created["id"]}, {"Authorization": f"Bearer {OTHER_KEY}"}),
        ):
            fast = client.get("/v2/video/generations", params=params, headers=headers)
            routed = client.get(
                "/v2/video/generations", params={**params, "limit": 20}, headers=headers
            )
            assert fast.status_code == routed.status_code
            assert fast.status_code in (401, 404)
            strip = lambda body: {k: v for k, v in body.items() if k not in volatile}  # noqa: E731
            assert strip(fast.json()) == strip(routed.json())
            assert fast.headers["x-request-id"] == fast.json()["requestId"]

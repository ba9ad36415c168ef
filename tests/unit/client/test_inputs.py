"""What goes out: images made into data URIs, the request body, the key and where it is sent,
and an SDK that loads without the server."""

from __future__ import annotations

import base64
import doctest
import inspect
import io
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import make_image, make_video
from tests.unit.client.conftest import BASE, KEY, FakeClock, ScriptedServer
from vidgen.client import (
    AsyncClient,
    AsyncGenerations,
    Client,
    Generations,
    ValidationError,
    config,
    image_to_url,
    images,
    video_to_url,
)


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    header, _, payload = uri.partition(",")
    assert header.startswith("data:") and header.endswith(";base64")
    return header[5:-7], base64.b64decode(payload)


def test_urls_and_data_uris_pass_through_untouched() -> None:
    for url in ("https://example.com/a.png", "http://10.0.0.1/a.jpg", "data:image/png;base64,AAAA"):
        assert image_to_url(url) == url


@pytest.mark.parametrize(
    ("fmt", "media_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_a_local_file_becomes_a_data_uri_of_its_bytes(
    tmp_path: Path, fmt: str, media_type: str
) -> None:
    data = make_image(64, 36, fmt=fmt)
    path = tmp_path / "frame.bin"  # told by its bytes, not its name
    path.write_bytes(data)
    for given in (path, str(path)):
        assert decode_data_uri(image_to_url(given)) == (media_type, data)


def test_bytes_and_pil_images_become_data_uris() -> None:
    data = make_image(64, 36, fmt="JPEG")
    assert decode_data_uri(image_to_url(data)) == ("image/jpeg", data)
    picture = Image.new("RGB", (32, 18), (10, 200, 30))
    media_type, encoded = decode_data_uri(image_to_url(picture))
    assert media_type == "image/png"
    assert Image.open(io.BytesIO(encoded)).getpixel((5, 5)) == (10, 200, 30)


def test_a_large_pil_photo_goes_as_jpeg_to_stay_under_data_uri_caps() -> None:
    noise = Image.frombytes("RGB", (1600, 1200), random.Random(0).randbytes(1600 * 1200 * 3))
    media_type, encoded = decode_data_uri(image_to_url(noise))
    assert media_type == "image/jpeg"
    assert len(encoded) < 4 * 1024 * 1024


def test_a_missing_file_or_unknown_bytes_is_a_validation_error_naming_the_field(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValidationError) as caught:
        image_to_url(str(tmp_path / "nope.png"), field="tail_image_url")
    assert caught.value.status_code is None
    assert "nope.png" in caught.value.fields["tail_image_url"]
    with pytest.raises(ValidationError, match="not a PNG, JPEG, WebP or GIF"):
        image_to_url(b"hello, not a picture")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    with pytest.raises(ValidationError, match=r"notes\.txt"):
        image_to_url(notes)
    with pytest.raises(TypeError):
        image_to_url(12345)  # type: ignore[arg-type]


def test_create_sends_both_frames_and_only_the_fields_given(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    first = tmp_path / "first.png"
    first.write_bytes(make_image(64, 36))
    server.script("POST", httpx.Response(200, json={"id": "g", "status": "queued"}))
    client.generations.create(
        image=first,
        tail_image="https://example.com/last.png",
        prompt="pan left",
        aspect_ratio="16:9",
        seed=0,
        extra_body={"webhook_url": "https://example.com/hook"},
    )
    body = server.body()
    assert decode_data_uri(body.pop("image_url")) == ("image/png", first.read_bytes())
    assert body == {
        "model": "runway/gen4_turbo",
        "prompt": "pan left",
        "tail_image_url": "https://example.com/last.png",
        "aspect_ratio": "16:9",
        "seed": 0,
        "webhook_url": "https://example.com/hook",
    }
    request = server.sent()[0]
    assert str(request.url) == f"{BASE}/v2/video/generations"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"


def test_a_bad_image_is_refused_before_anything_is_sent(
    client: Client, server: ScriptedServer
) -> None:
    with pytest.raises(ValidationError):
        client.generations.create(image="/no/such/file.png")
    assert server.requests == []


@pytest.mark.parametrize(("fmt", "media_type"), [("mp4", "video/mp4"), ("webm", "video/webm")])
def test_a_local_video_or_its_bytes_become_a_data_uri_of_its_container(
    tmp_path: Path, fmt: str, media_type: str
) -> None:
    data = make_video(frames=2, fmt=fmt)
    path = tmp_path / "clip.bin"  # told by its bytes, not its name
    path.write_bytes(data)
    for given in (path, str(path), data):
        assert decode_data_uri(video_to_url(given)) == (media_type, data)
    quicktime = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  "
    assert decode_data_uri(video_to_url(quicktime)) == ("video/quicktime", quicktime)
    for url in ("https://example.com/clip.mp4", "data:video/webm;base64,GkXfow=="):
        assert video_to_url(url) == url


def test_a_missing_video_or_an_image_given_as_one_is_refused_naming_the_field(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValidationError) as caught:
        video_to_url(tmp_path / "nope.mp4")
    assert "nope.mp4" in caught.value.fields["video_url"]
    still = tmp_path / "still.png"
    still.write_bytes(make_image())
    with pytest.raises(ValidationError, match=r"still\.png' is not an MP4, QuickTime or WebM"):
        video_to_url(still)
    with pytest.raises(ValidationError, match="not an MP4, QuickTime or WebM video"):
        video_to_url(make_image())


def test_create_sends_a_video_and_reference_images_in_aimlapis_fields(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(make_video(frames=2))
    reference = make_image(32, 32, fmt="JPEG")
    server.script("POST", httpx.Response(200, json={"id": "g", "status": "queued"}))
    client.generations.create(
        video=clip,
        references=["https://example.com/style.png", reference],
        prompt="in watercolour",
        model="bytedance/seedance2",
    )
    body = server.body()
    assert decode_data_uri(body.pop("video_url")) == ("video/mp4", clip.read_bytes())
    first, second = body.pop("references")
    assert first == {"type": "image", "url": "https://example.com/style.png"}
    assert second["type"] == "image"
    assert decode_data_uri(second["url"]) == ("image/jpeg", reference)
    assert body == {"model": "bytedance/seedance2", "prompt": "in watercolour"}


@pytest.mark.parametrize(
    ("inputs", "model"),
    [
        ({"prompt": "a lighthouse at dusk"}, "runway/gen4.5"),
        ({"image": "https://example.com/a.png"}, "runway/gen4_turbo"),
        ({"video": "https://example.com/a.mp4", "prompt": "snow"}, "runway/aleph2"),
        ({"image": "https://example.com/a.png", "model": "gen3a_turbo"}, "gen3a_turbo"),
        (
            {"character": "https://example.com/a.png", "performance": "https://example.com/b.mp4"},
            "runway/act_two",
        ),
        (
            {"video": "https://example.com/a.mp4", "resolution": "4k"},
            "magnific/video_upscaler_creative",
        ),
        (
            {"video": "https://example.com/a.mp4", "target_framerate": "60"},
            "runway/enhance_frame_rate",
        ),
    ],
)
async def test_a_create_that_names_no_model_gets_the_default_for_its_inputs(
    client: Client,
    async_client: AsyncClient,
    server: ScriptedServer,
    inputs: dict[str, str],
    model: str,
) -> None:
    server.script("POST", httpx.Response(200, json={"id": "g", "status": "queued"}))
    server.script("POST", httpx.Response(200, json={"id": "g", "status": "queued"}))
    client.generations.create(**inputs)  # type: ignore[arg-type]
    async with async_client:
        await async_client.generations.create(**inputs)  # type: ignore[arg-type]
    assert server.body(0)["model"] == server.body(1)["model"] == model


def test_create_sends_a_character_performance_in_aimlapis_fields(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    performance = tmp_path / "take.mp4"
    performance.write_bytes(make_video(frames=2))
    portrait = make_image(32, 32)
    server.script("POST", httpx.Response(200, json={"id": "g", "status": "queued"}))
    server.script("POST", httpx.Response(200, json={"id": "g", "status": "queued"}))
    server.script("POST", httpx.Response(200, json={"id": "g", "status": "queued"}))
    client.generations.create(
        character=portrait, performance=performance, body_control=True, expression_intensity=4
    )
    # A character that is a video is told by its bytes, or by its URL's extension.
    client.generations.create(character=performance, performance="https://example.com/take.mp4")
    client.generations.create(
        character="https://example.com/actor.webm", performance="https://example.com/take.mp4"
    )
    body = server.body(0)
    character = body.pop("character")
    assert character["type"] == "image"
    assert decode_data_uri(character["url"]) == ("image/png", portrait)
    reference = body.pop("reference")
    assert reference["type"] == "video"
    assert decode_data_uri(reference["url"]) == ("video/mp4", performance.read_bytes())
    assert body == {"model": "runway/act_two", "body_control": True, "expression_intensity": 4}
    as_video = server.body(1)["character"]
    assert as_video["type"] == "video"
    assert decode_data_uri(as_video["url"]) == ("video/mp4", performance.read_bytes())
    assert server.body(1)["reference"] == {"type": "video", "url": "https://example.com/take.mp4"}
    assert server.body(2)["character"] == {"type": "video", "url": "https://example.com/actor.webm"}


def test_create_sends_an_upscale_and_a_frame_rate_change_with_their_video(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", httpx.Response(200, json={"id": "g", "status": "queued"}))
    server.script("POST", httpx.Response(200, json={"id": "g", "status": "queued"}))
    client.generations.create(video="https://example.com/a.mp4", resolution="2k")
    client.generations.create(video="https://example.com/a.mp4", target_framerate="29_97")
    assert server.body(0) == {
        "model": "magnific/video_upscaler_creative",
        "video_url": "https://example.com/a.mp4",
        "resolution": "2k",
    }
    assert server.body(1) == {
        "model": "runway/enhance_frame_rate",
        "video_url": "https://example.com/a.mp4",
        "target_framerate": "29_97",
    }


def test_a_bad_character_or_performance_is_refused_before_anything_is_sent(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError) as caught:
        client.generations.create(character=b"junk", performance="https://example.com/b.mp4")
    assert set(caught.value.fields) == {"character.url"}  # as the server names it
    with pytest.raises(ValidationError) as caught:
        client.generations.create(character=tmp_path / "nobody.png")
    assert set(caught.value.fields) == {"character.url"}
    with pytest.raises(ValidationError) as caught:
        client.generations.create(character=make_image(), performance=make_image())
    assert set(caught.value.fields) == {"reference.url"}
    assert server.requests == []


def test_a_bad_video_or_reference_is_refused_before_anything_is_sent(
    client: Client, server: ScriptedServer
) -> None:
    with pytest.raises(ValidationError) as caught:
        client.generations.create(video="/no/such/clip.mp4")
    assert set(caught.value.fields) == {"video_url"}
    with pytest.raises(ValidationError) as caught:
        client.generations.create(prompt="p", references=["https://example.com/a.png", b"junk"])
    assert set(caught.value.fields) == {"references.1.url"}  # as the server names it
    with pytest.raises(TypeError, match="a list of images"):
        client.generations.create(prompt="p", references="style.png")
    assert server.requests == []


def sent_to(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], **kwargs: str) -> httpx.Request:
    for name in ("VIDGEN_BASE_URL", "VIDGEN_API_KEY", "AIMLAPI_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    server = ScriptedServer()
    server.script("GET", httpx.Response(200, json={"id": "g", "status": "queued"}))
    with Client(transport=httpx.MockTransport(server.handle), clock=FakeClock(), **kwargs) as sdk:  # type: ignore[arg-type]
        sdk.generations.get("g")
    return server.sent()[0]


def test_base_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    request = sent_to(
        monkeypatch, {"VIDGEN_BASE_URL": "https://video.example.com/", "VIDGEN_API_KEY": "vg_env"}
    )
    assert str(request.url).startswith("https://video.example.com/v2/video/generations?")
    assert request.headers["authorization"] == "Bearer vg_env"
    request = sent_to(
        monkeypatch, {"VIDGEN_API_KEY": "vg_env"}, api_key="vg_arg", base_url="http://h:1"
    )
    assert (request.url.host, request.headers["authorization"]) == ("h", "Bearer vg_arg")
    assert sent_to(monkeypatch, {}).url.host == "127.0.0.1"


def test_an_aimlapi_key_is_sent_only_to_aimlapi(monkeypatch: pytest.MonkeyPatch) -> None:
    to_aimlapi = sent_to(
        monkeypatch, {"AIMLAPI_KEY": "aiml_secret"}, base_url="https://api.aimlapi.com"
    )
    assert to_aimlapi.headers["authorization"] == "Bearer aiml_secret"
    elsewhere = sent_to(
        monkeypatch, {"AIMLAPI_KEY": "aiml_secret"}, base_url="https://video.example.com"
    )
    assert "authorization" not in elsewhere.headers
    lookalike = sent_to(
        monkeypatch, {"AIMLAPI_KEY": "aiml_secret"}, base_url="https://aimlapi.com.evil.example"
    )
    assert "authorization" not in lookalike.headers


def modules_loaded_by(module: str, packages: tuple[str, ...]) -> list[str]:
    """The modules of ``packages`` that importing ``module`` loads, in a fresh interpreter."""
    code = (
        f"import json, sys, {module}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{packages!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_the_sdk_imports_nothing_from_the_server() -> None:
    loaded = modules_loaded_by(
        "vidgen.client",
        ("vidgen", "fastapi", "sqlalchemy", "pydantic", "PIL", "av", "numpy", "typer"),
    )
    outside = [m for m in loaded if m != "vidgen" and not m.startswith("vidgen.client")]
    assert outside == [], outside
    assert "vidgen.client" in loaded


def test_the_docstring_examples_run() -> None:
    for module in (config, images):
        assert doctest.testmod(module).failed == 0


def test_the_command_line_loads_without_the_server_stack() -> None:
    """`vidgen status`, `list`, `generate`… start in well under a second because the CLI's
    module imports no server code: serve, worker and keys import it when they run."""
    loaded = modules_loaded_by("vidgen.cli.main", ("vidgen", "fastapi", "sqlalchemy", "torch"))
    server = [m for m in loaded if m.split(".")[0] in ("fastapi", "sqlalchemy", "torch")]
    server += [m for m in loaded if m.startswith(("vidgen.wiring", "vidgen.store", "vidgen.api"))]
    assert server == [], server


def test_help_shows_each_option_of_create_and_generate_by_name_on_both_clients() -> None:
    def keywords(method: Any) -> dict[str, inspect.Parameter]:
        return dict(inspect.signature(method).parameters)

    create = keywords(Generations.create)
    assert keywords(AsyncGenerations.create) == create
    generate = keywords(Generations.generate)
    assert keywords(AsyncGenerations.generate) == generate
    options = {name: p for name, p in create.items() if name not in ("self", "idempotency_key")}
    assert {"image", "prompt", "video", "extra_body"} <= set(options)
    assert all(p.kind is p.KEYWORD_ONLY and p.default is None for p in options.values())
    assert {n: p for n, p in generate.items() if n in options} == options
    assert list(generate)[-2:] == ["timeout", "on_progress"]

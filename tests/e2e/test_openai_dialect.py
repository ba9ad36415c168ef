"""The OpenAI dialect (``/v1/videos``) as the official ``openai`` SDK, in its strict mode, and
plain HTTP see it: sizes, durations, pages, thumbnails, and the routes vidgen does not offer."""

from __future__ import annotations

import io
import itertools
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import LiveServer, make_image, shared_server

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

KEYS = [f"vg_openai_dialect_{n:02d}_" + "k" * 24 for n in range(48)]
_unused_keys = iter(KEYS)
PNG = make_image(640, 360)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from shared_server(tmp_path_factory, "openai-dialect", KEYS)


@pytest.fixture
def key() -> str:
    """A key no other test of this module uses, so its list holds only this test's videos."""
    return next(_unused_keys)


def sdk(server: LiveServer, key: str, *, strict: bool = True) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=key,
        base_url=f"{server.base_url}/v1",
        max_retries=0,
        _strict_response_validation=strict,
    )


def http(server: LiveServer, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=30)


def wait(client: openai.OpenAI, video_id: str) -> openai.types.Video:
    deadline = time.monotonic() + 60
    while (video := client.videos.retrieve(video_id)).status not in ("completed", "failed"):
        assert time.monotonic() < deadline, video
        time.sleep(0.2)
    return video


def mp4_size(data: bytes, tmp_path: Path) -> tuple[int, int]:
    path = tmp_path / "video.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return context.width, context.height


@pytest.mark.parametrize("seconds", ["²", "٣", "5.0", "-5", ""])
def test_seconds_that_are_not_ascii_digits_are_a_400_naming_seconds(
    server: LiveServer, key: str, seconds: str
) -> None:
    # "²" and "٣" pass str.isdigit(); int() then refuses the first (a 500 before) and reads the
    # second as 3.
    fields = {"prompt": "a cat", "model": "runway/gen4_turbo", "seconds": seconds}
    with http(server, key) as client:
        as_json = client.post("/v1/videos", json={**fields, "input_reference": "x"})
        as_form = client.post(
            "/v1/videos", data=fields, files={"input_reference": ("a.png", PNG, "image/png")}
        )
    for answer in (as_json, as_form):
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["param"] == "seconds" and error["type"] == "invalid_request_error"
        assert "from 2 to 10" in error["message"]


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("prompt", "a café".encode("latin-1")),  # a client that sent Latin-1 as UTF-8
        ("model", b"runway/gen4_turbo\xe9"),
        ("seconds", b"5\xff"),
        ("size", "1280x720é".encode()[:-1]),  # cut in the middle of a character
    ],
)
def test_a_form_field_that_is_not_utf8_is_a_400_naming_it_as_in_a_json_body(
    server: LiveServer, key: str, field: str, sent: bytes
) -> None:
    # starlette read such bytes as Latin-1: a guess, right for some clients and garbage for
    # others (cp1252's quotes, Shift-JIS, a character cut in two), and the client never knew.
    # A client that does send Latin-1 can say so (the next test).
    fields: dict[str, str | bytes] = {
        "prompt": "a cat",
        "model": "runway/gen4_turbo",
        "seconds": "5",
        "size": "1280x720",
    }
    fields[field] = sent
    with http(server, key) as client:
        as_form = client.post(
            "/v1/videos", data=fields, files={"input_reference": ("a.png", PNG, "image/png")}
        )
        as_json = client.post(
            "/v1/videos",
            content=b'{"prompt": "a caf\xe9"}',
            headers={"Content-Type": "application/json"},
        )
    assert as_form.status_code == 400, as_form.text
    error = as_form.json()["error"]
    assert (error["param"], error["type"]) == (field, "invalid_request_error")
    assert "is not valid text: 'utf-8' codec can't decode byte" in error["message"]
    # JSON names the body, which is what it cannot read.
    assert as_json.status_code == 400 and as_json.json()["error"]["param"] == "body"


def test_a_form_that_names_its_charset_is_read_in_it(server: LiveServer, key: str) -> None:
    with http(server, key) as client:
        answer = client.post(
            "/v1/videos",
            data={"prompt": "a café".encode("latin-1"), "model": "runway/gen4_turbo"},
            files={"input_reference": ("a.png", PNG, "image/png")},
            headers={"Content-Type": "multipart/form-data; boundary=b0; charset=iso-8859-1"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["prompt"] == "a café"
        client.delete(f"/v1/videos/{answer.json()['id']}")


def test_a_missing_prompt_is_worded_as_the_other_dialects_word_a_missing_field(
    server: LiveServer, key: str
) -> None:
    with http(server, key) as client:
        as_json = client.post("/v1/videos", json={"model": "runway/gen4.5"})
        as_form = client.post(
            "/v1/videos",
            data={"model": "runway/gen4.5"},
            files={"input_reference": ("a.png", PNG, "image/png")},
        )
        runway = client.post(
            "/v1/text_to_video",
            json={"model": "gen4.5", "ratio": "1280:720"},
            headers={"X-Runway-Version": "2024-11-06"},
        )
    [issue] = runway.json()["issues"]
    assert issue["path"] == ["promptText"]
    for answer in (as_json, as_form):
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        # The message names the field too, as every dialect's does (and OpenAI's own
        # "Missing required parameter: 'prompt'."), for a client that shows only the message.
        assert (error["param"], error["message"]) == ("prompt", f"prompt: {issue['message']}")


@pytest.mark.parametrize("field", ["duration", "aspect_ratio", "first_image"])
def test_a_field_the_create_does_not_have_is_named_as_sent(
    server: LiveServer, key: str, field: str
) -> None:
    # vidgen's own names for seconds, size and input_reference: the client must not be told
    # that `seconds` is not a known field.
    with http(server, key) as client:
        as_json = client.post("/v1/videos", json={"prompt": "a cat", field: "5"})
        as_file = client.post(
            "/v1/videos", data={"prompt": "a cat"}, files={field: ("a.png", PNG, "image/png")}
        )
    for answer, kind in ((as_json, "field"), (as_file, "file field")):
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert (error["param"], error["message"]) == (field, f"{field}: is not a known {kind}")


def test_a_strict_openai_client_reads_videos_of_openais_sizes(server: LiveServer, key: str) -> None:
    client = sdk(server, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        landscape = client.videos.create(
            prompt="pan left",
            model="runway/gen4_turbo",
            size="1280x720",
            seconds="4",
            input_reference=("a.png", PNG, "image/png"),
        )
        unsized = client.videos.create(
            prompt="zoom in", input_reference=("a.png", PNG, "image/png")
        )
        assert (landscape.size, landscape.seconds) == ("1280x720", "4")
        # No size: OpenAI's default, 720x1280, which gen4_turbo renders (not one guessed from
        # the landscape image).
        assert (unsized.size, unsized.model) == ("720x1280", "runway/gen4_turbo")
        assert wait(client, unsized.id).status == "completed"
        assert client.videos.retrieve(landscape.id).size == "1280x720"
        listed = client.videos.list(limit=10)
        assert {v.id: v.size for v in listed.data} == {
            unsized.id: "720x1280",
            landscape.id: "1280x720",
        }


def test_a_model_size_openai_does_not_have_is_reported_as_rendered(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    client = sdk(server, key, strict=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        square = client.videos.create(
            prompt="orbit",
            model="runway/gen4_turbo",
            size="960x960",
            input_reference=("a.png", PNG, "image/png"),
        )
        done = wait(client, square.id)
        assert done.size == "960x960"
        assert mp4_size(client.videos.download_content(square.id).read(), tmp_path) == (960, 960)
        # A strict client refuses it (OpenAI's SDK types four sizes), which the README says.
        with pytest.raises(openai.APIResponseValidationError):
            sdk(server, key).videos.retrieve(square.id)


@pytest.mark.parametrize(
    ("model", "size", "offered"),
    [
        ("runway/gen4_turbo", "1024x1792", "1280x720, 720x1280, 1104x832"),
        ("runway/gen4_turbo", "1792x1024", "1280x720, 720x1280, 1104x832"),
        ("gen3a_turbo", "720x1280", "1280x768, 768x1280"),
    ],
)
def test_sizes_the_model_does_not_render_are_a_400_listing_its_sizes(
    server: LiveServer, key: str, model: str, size: str, offered: str
) -> None:
    client = sdk(server, key)
    with warnings.catch_warnings(), pytest.raises(openai.BadRequestError) as info:
        warnings.simplefilter("ignore")
        client.videos.create(
            prompt="x",
            model=model,
            size=size,  # type: ignore[arg-type]
            input_reference=("a.png", PNG, "image/png"),
        )
    error = info.value.body
    assert isinstance(error, dict) and error["param"] == "size"
    assert offered in str(error["message"])


def test_without_size_a_model_that_lacks_720x1280_uses_its_default_ratio(
    server: LiveServer, key: str
) -> None:
    portrait = make_image(360, 640)  # not what decides the size: OpenAI never guesses it
    with http(server, key) as client:
        made = client.post(
            "/v1/videos",
            data={"prompt": "x", "model": "gen3a_turbo"},
            files={"input_reference": ("a.png", portrait, "image/png")},
        )
    assert made.status_code == 200, made.text
    assert made.json()["size"] == "1280x768"


def test_limit_zero_is_an_empty_page_that_says_whether_videos_exist(
    server: LiveServer, key: str
) -> None:
    client = sdk(server, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        empty = client.videos.list(limit=0)
        assert (empty.data, empty.has_more) == ([], False)
        client.videos.create(prompt="x", input_reference=("a.png", PNG, "image/png"))
        page = client.videos.list(limit=0)
        assert (page.data, page.has_more) == ([], True)


def test_the_thumbnail_is_a_webp_and_the_aimlapi_one_stays_jpeg(
    server: LiveServer, key: str
) -> None:
    client = sdk(server, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        video = client.videos.create(prompt="x", input_reference=("a.png", PNG, "image/png"))
        wait(client, video.id)
        first = client.videos.download_content(video.id, variant="thumbnail")
        again = client.videos.download_content(video.id, variant="thumbnail")
    assert first.response.headers["content-type"] == "image/webp"
    webp = Image.open(io.BytesIO(first.read()))
    assert webp.format == "WEBP"
    assert again.read() == first.read()
    with http(server, key) as plain:
        poll = plain.get("/v2/video/generations", params={"generation_id": video.id}).json()
    jpeg = httpx.get(poll["meta"]["thumbnail_url"])
    assert jpeg.headers["content-type"] == "image/jpeg"
    jpeg_image = Image.open(io.BytesIO(jpeg.content))
    assert jpeg_image.format == "JPEG" and jpeg_image.size == webp.size


NOT_OFFERED = [
    ("POST", "/v1/videos/edits"),
    ("POST", "/v1/videos/extensions"),
    ("POST", "/v1/videos/characters"),
    ("GET", "/v1/videos/characters/char_123"),
    ("POST", "/v1/videos/video_123/remix"),
]


@pytest.mark.parametrize(("method", "path"), NOT_OFFERED)
def test_openai_routes_vidgen_lacks_answer_404_after_the_key_check(
    server: LiveServer, key: str, method: str, path: str
) -> None:
    with http(server, None) as anonymous, http(server, key) as client:
        refused = anonymous.request(method, path, json={"prompt": "x"})
        missing = client.request(method, path, json={"prompt": "x"})
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert "does not offer" in missing.json()["error"]["message"]


def test_the_sdks_edit_call_gets_a_not_found_error(server: LiveServer, key: str) -> None:
    with warnings.catch_warnings(), pytest.raises(openai.NotFoundError):
        warnings.simplefilter("ignore")
        sdk(server, key).videos.edit(prompt="x", video=("v.mp4", b"not a video", "video/mp4"))


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/videos/video_123", "DELETE, GET"),
        ("PATCH", "/v1/videos", "GET, POST"),
        ("PUT", "/v2/video/generations", "DELETE, GET, POST"),
        ("PUT", "/v1/tasks/t", "DELETE, GET"),
    ],
)
def test_a_wrong_method_is_a_405_that_lists_every_method_of_the_path(
    server: LiveServer, key: str, method: str, path: str, allowed: str
) -> None:
    with http(server, key) as client:
        answer = client.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allowed
    if path.startswith("/v1/videos"):
        assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_prompt_alone_is_refused_naming_input_reference_by_a_model_that_needs_an_image(
    server: LiveServer, key: str
) -> None:
    client = sdk(server, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in ("runway/gen4_turbo", "gen3a_turbo"):
            with pytest.raises(openai.BadRequestError) as info:
                client.videos.create(prompt="a snowy mountain", model=model)
            error = info.value.body
            assert isinstance(error, dict) and error["param"] == "input_reference", error
        # With no model named, the first text-to-video model of the catalog makes it.
        made = client.videos.create(prompt="a snowy mountain", seconds="4", size="1280x720")
    assert made.model == "runway/gen4.5"


def test_an_unknown_or_empty_after_is_a_400_naming_after(server: LiveServer, key: str) -> None:
    other = KEYS[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = sdk(server, other).videos.create(
            prompt="x", input_reference=("a.png", PNG, "image/png")
        )
        mine = sdk(server, key).videos.create(
            prompt="x", input_reference=("a.png", PNG, "image/png")
        )
        assert [v.id for v in sdk(server, key).videos.list(after=mine.id).data] == []
        for after in ("", "nope", theirs.id):
            with pytest.raises(openai.BadRequestError) as info:
                sdk(server, key).videos.list(after=after)
            assert info.value.body["param"] == "after", after  # type: ignore[index]


def test_list_pages_chain_with_the_sdks_auto_paging(server: LiveServer, key: str) -> None:
    client = sdk(server, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = [
            client.videos.create(prompt=f"p{n}", input_reference=("a.png", PNG, "image/png")).id
            for n in range(3)
        ]
        seen = [v.id for v in itertools.islice(client.videos.list(limit=1, order="asc"), 10)]
    assert seen == made

"""One rule per model, the same in every dialect, each answered in the dialect's own shape and
spelling: unknown models, the first image, durations and their prices, list cursors; and the
apiframe dialect's error details and model names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, data_uri, make_image, shared_server

pytestmark = pytest.mark.slow

KEYS = [f"vg_dialect_rules_{n:02d}_" + "d" * 24 for n in range(48)]
_unused_keys = iter(KEYS)
IMAGE = data_uri(make_image(640, 360))
GEN4 = "runway/gen4_turbo"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from shared_server(tmp_path_factory, "dialect-rules", KEYS)


@pytest.fixture
def key() -> str:
    return next(_unused_keys)


def client(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"},
        timeout=30,
    )


def fields_of(dialect: str, answer: httpx.Response) -> dict[str, str]:
    """The fields a 400 names, in the dialect's own shape: field → its messages."""
    assert answer.status_code == 400, answer.text
    body = answer.json()
    if dialect == "aimlapi":
        return {e["field"]: e["message"] for e in body["errors"]}
    if dialect == "apiframe":
        details: dict[str, list[str]] = body["details"]
        return {field: "; ".join(messages) for field, messages in details.items()}
    if dialect == "runway":
        return {".".join(i["path"]): i["message"] for i in body["issues"]}
    return {body["error"]["param"]: body["error"]["message"]}


def create(http: httpx.Client, dialect: str, **fields: Any) -> httpx.Response:
    """A create in ``dialect``'s spelling, from canonical names (model, image, prompt, duration)."""
    model, image = fields.get("model", GEN4), fields.get("image")
    prompt, duration = fields.get("prompt", "a slow zoom"), fields.get("duration")
    if dialect == "aimlapi":
        body = {"model": model, "prompt": prompt, "image_url": image, "duration": duration}
        return http.post("/v2/video/generations", json={k: v for k, v in body.items() if v})
    if dialect == "apiframe":
        params = {"image": image, "duration": duration}
        return http.post(
            "/v2/videos/generate",
            json={
                "model": fields.get("apiframe_model", "runway-gen4-turbo"),
                "prompt": prompt,
                "runwayParams": {k: v for k, v in params.items() if v},
            },
        )
    if dialect == "runway":
        body = {
            "model": fields.get("runway_model", "gen4_turbo"),
            "promptText": prompt,
            "promptImage": image,
            "ratio": "1280:720",
            "duration": duration,
        }
        return http.post("/v1/image_to_video", json={k: v for k, v in body.items() if v})
    form = {"model": model, "prompt": prompt, "seconds": str(duration) if duration else None}
    return http.post(
        "/v1/videos", json={**{k: v for k, v in form.items() if v}, "input_reference": image}
    )


DIALECTS = ["aimlapi", "apiframe", "runway", "openai"]
IMAGE_FIELD = {
    "aimlapi": "image_url",
    "apiframe": "runwayParams.image",
    "runway": "promptImage",
    "openai": "input_reference",
}
#: gen4_turbo as each dialect's client names it (``create`` sends these).
GEN4_NAMES = {
    "aimlapi": GEN4,
    "apiframe": "runway-gen4-turbo",
    "runway": "gen4_turbo",
    "openai": GEN4,
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_gen4_turbo_without_an_image_is_refused_naming_the_image_field_and_the_model(
    server: LiveServer, key: str, dialect: str
) -> None:
    with client(server, key) as http:
        found = fields_of(dialect, create(http, dialect, image=None))
    field = IMAGE_FIELD[dialect]
    assert set(found) == {field}, found
    # The model is named as the client named it, not by vidgen's catalog id. (OpenAI's message
    # leads with the field, as its `param` does.)
    assert found[field].removeprefix(f"{field}: ") == f"is required for {GEN4_NAMES[dialect]}"


# apiframe serves gen4_turbo alone, and OpenAI's schema requires a prompt of every request.
@pytest.mark.parametrize("dialect", ["aimlapi", "runway"])
def test_gen4_5_with_an_image_but_no_prompt_is_refused_naming_the_prompt_as_the_client_spells_it(
    server: LiveServer, key: str, dialect: str
) -> None:
    # Runway's SDK types promptText as required for gen4.5's image to video; so does vidgen.
    gen45 = {"model": "runway/gen4.5", "runway_model": "gen4.5"}
    with client(server, key) as http:
        found = fields_of(dialect, create(http, dialect, image=IMAGE, prompt="", **gen45))
    prompt = "promptText" if dialect == "runway" else "prompt"
    model = "gen4.5" if dialect == "runway" else "runway/gen4.5"
    assert found == {prompt: f"is required for {model}'s image to video"}, found


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_unknown_model_is_reported_as_an_unknown_model(
    server: LiveServer, key: str, dialect: str
) -> None:
    unknown = {"model": "runway/gen9", "apiframe_model": "runway-gen9", "runway_model": "gen9"}
    with client(server, key) as http:
        # No image either: what an unknown model would need is unknowable, so only the model
        # is named.
        found = fields_of(dialect, create(http, dialect, image=None, **unknown))
    assert set(found) == {"model"}, found
    assert "unknown model" in found["model"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_gen4_turbo_takes_7_seconds_in_every_dialect_at_12_credits(
    server: LiveServer, key: str, dialect: str
) -> None:
    with client(server, key) as http:
        made = create(http, dialect, image=IMAGE, duration=7)
        assert made.status_code in (200, 202), made.text
        body = made.json()
        generation_id = body.get("id") or body["jobId"]
        poll = http.get("/v2/video/generations", params={"generation_id": generation_id}).json()
        assert poll["meta"]["usage"]["credits_used"] == 12
        eleven = fields_of(dialect, create(http, dialect, image=IMAGE, duration=11))
    (message,) = eleven.values()
    assert "from 2 to 10" in message


@pytest.mark.parametrize(
    ("dialect", "path", "cursor"),
    [
        ("aimlapi", "/v2/video/generations", "after"),
        ("apiframe", "/v2/jobs", "cursor"),
        ("openai", "/v1/videos", "after"),
    ],
)
def test_an_empty_or_unknown_cursor_is_a_400_naming_it(
    server: LiveServer, key: str, dialect: str, path: str, cursor: str
) -> None:
    with client(server, KEYS[-1]) as other:
        theirs = create(other, "aimlapi", image=IMAGE).json()["id"]
    with client(server, key) as http:
        mine = create(http, "aimlapi", image=IMAGE).json()["id"]
        last = http.get(path, params={cursor: mine})
        assert last.status_code == 200, last.text
        for value in ("", "no-such-id", theirs):
            found = fields_of(dialect, http.get(path, params={cursor: value}))
            assert set(found) == {cursor}, (value, found)


def test_apiframe_details_map_each_field_to_its_messages(server: LiveServer, key: str) -> None:
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}) as http:
        long = http.post(
            "/v2/videos/generate",
            json={"model": "runway-gen4-turbo", "prompt": "x" * 1001},
        )
        several = http.post(
            "/v2/videos/generate",
            json={
                "model": "runway-gen4-turbo",
                "runwayParams": {"image": IMAGE, "aspect_ratio": "2:1", "duration": 11},
            },
        )
    assert long.status_code == 400
    (message,) = long.json()["details"]["prompt"]  # what apiframe's SDK reads: details.prompt
    assert "1000" in message
    assert several.status_code == 400
    details = several.json()["details"]
    assert set(details) == {"runwayParams.aspect_ratio", "runwayParams.duration"}
    assert all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for messages in details.values()
    )


def test_apiframe_refuses_an_unknown_webhook_event_naming_webhook_events(
    server: LiveServer, key: str
) -> None:
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}) as http:
        answer = http.post(
            "/v2/videos/generate",
            json={
                "model": "runway-gen4-turbo",
                "prompt": "a slow zoom",
                "runwayParams": {"image": IMAGE},
                "webhookUrl": f"{server.base_url}/hook",
                # apiframe's "processing" is vidgen's "started"; "sent" is nobody's event.
                "webhookEvents": ["processing", "COMPLETED", "sent"],
            },
        )
    assert answer.status_code == 400, answer.text
    (message,) = answer.json()["details"]["webhookEvents"]
    assert "unknown event(s) sent" in message


def test_apiframe_lists_jobs_of_every_dialect_by_apiframes_model_ids(
    server: LiveServer, key: str
) -> None:
    with client(server, key) as http:
        gen4 = create(http, "aimlapi", image=IMAGE).json()["id"]
        gen3a = http.post(
            "/v1/image_to_video",
            json={"model": "gen3a_turbo", "promptImage": IMAGE, "ratio": "1280:768"},
        ).json()["id"]
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}) as http:
        jobs = {job["jobId"]: job["model"] for job in http.get("/v2/jobs").json()["jobs"]}
        # apiframe has no id for gen3a_turbo: vidgen's own is shown.
        assert jobs == {gen4: "runway-gen4-turbo", gen3a: "gen3a_turbo"}
        assert http.get(f"/v2/jobs/{gen4}").json()["model"] == "runway-gen4-turbo"


def test_models_list_every_duration_with_its_price_and_need_an_image(server: LiveServer) -> None:
    models = {m["id"]: m for m in httpx.get(f"{server.base_url}/v1/models").json()["data"]}
    gen4, gen3a = models[GEN4], models["gen3a_turbo"]
    assert gen4["durations"] == list(range(2, 11))
    prices = {"2": 4, "3": 5, "4": 7, "5": 8, "6": 10, "7": 12, "8": 13, "9": 15, "10": 15}
    assert gen4["credits"] == prices
    assert (gen3a["durations"], gen3a["credits"]) == ([5, 10], {"5": 8, "10": 15})
    assert gen4["requires_image"] and gen3a["requires_image"]
    assert "text" not in gen4["description"]


CREATE_PATHS = {
    "aimlapi": "/v2/video/generations",
    "apiframe": "/v2/videos/generate",
    "runway": "/v1/image_to_video",
    "openai": "/v1/videos",
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_create_body_that_is_not_utf8_is_refused_naming_the_body(
    server: LiveServer, key: str, dialect: str
) -> None:
    body = b'{"model":"runway/gen4_turbo","prompt":"\xff"}'
    with client(server, key) as http:
        answer = http.post(
            CREATE_PATHS[dialect], content=body, headers={"Content-Type": "application/json"}
        )
    found = fields_of(dialect, answer)
    assert set(found) == {"body"}, found
    assert found["body"].removeprefix("body: ").startswith("is not valid JSON: 'utf-8' codec"), (
        found
    )


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Prefer", "wait=soon"),
        ("Cancel-After", "25h"),
        ("Last-Event-ID", "1" * 201),
        ("Idempotency-Key", ""),
        ("Idempotency-Key", "k" * 256),
    ],
)
def test_aimlapis_error_on_a_header_says_it_is_a_header_not_the_body(
    server: LiveServer, key: str, header: str, value: str
) -> None:
    with client(server, key) as http:
        if header == "Last-Event-ID":
            answer = http.get("/v1/generations/gen-1/events", headers={header: value})
        else:
            body = {"model": GEN4, "prompt": "a slow zoom", "image_url": IMAGE}
            answer = http.post("/v2/video/generations", json=body, headers={header: value})
    assert list(fields_of("aimlapi", answer)) == [header]
    assert answer.json()["message"].startswith(f"Header validation error! {header}: "), answer.text


#: A model named by another name than its catalog id, in each dialect, with a duration it does
#: not take: aimlapi's and OpenAI's clients may use a catalog alias (``gen4_turbo`` is
#: ``runway/gen4_turbo``, ``runway/gen3a_turbo`` is ``gen3a_turbo``); Runway's and apiframe's
#: have names of their own.
ALIASED = [
    ("aimlapi", "gen4_turbo", 11),
    ("aimlapi", "runway/gen3a_turbo", 7),
    ("openai", "gen4_turbo", 11),
    ("openai", "runway/gen3a_turbo", 7),
    ("runway", "gen4_turbo", 11),
    ("apiframe", "runway-gen4-turbo", 11),
]


@pytest.mark.parametrize(("dialect", "sent", "seconds"), ALIASED)
def test_a_duration_the_model_does_not_take_is_refused_naming_the_model_as_the_client_did(
    server: LiveServer, key: str, dialect: str, sent: str, seconds: int
) -> None:
    names = {"model": sent, "apiframe_model": sent, "runway_model": sent}
    with client(server, key) as http:
        found = fields_of(dialect, create(http, dialect, image=IMAGE, duration=seconds, **names))
    field = {"apiframe": "runwayParams.duration", "openai": "seconds"}.get(dialect, "duration")
    assert list(found) == [field], found
    message = found[field].removeprefix(f"{field}: ")
    assert message.startswith("must be "), message
    assert message.endswith(f" seconds for {sent} (got {seconds})"), message


# The model's id, and the placeholder the model's name fills in a reason's template.
@pytest.mark.parametrize("ratio", [GEN4, "{model}"])
def test_a_value_that_spells_the_models_id_is_quoted_back_as_the_client_sent_it(
    server: LiveServer, key: str, ratio: str
) -> None:
    # The reason quotes the client's aspect ratio and names the model: only the model is
    # apiframe's name (runway-gen4-turbo); the quoted value stays what was sent.
    body = {
        "model": "runway-gen4-turbo",
        "prompt": "a slow zoom",
        "runwayParams": {"image": IMAGE, "aspect_ratio": ratio},
    }
    with client(server, key) as http:
        found = fields_of("apiframe", http.post("/v2/videos/generate", json=body))
    assert list(found) == ["runwayParams.aspect_ratio"], found
    message = found["runwayParams.aspect_ratio"]
    assert message.startswith(f"{ratio!r} is not supported by runway-gen4-turbo; "), message


def test_openais_size_error_names_the_model_by_the_alias_the_client_sent(
    server: LiveServer, key: str
) -> None:
    body = {"model": "gen4_turbo", "prompt": "a slow zoom", "size": "999x999"}
    with client(server, key) as http:
        found = fields_of("openai", http.post("/v1/videos", json=body))
    assert found["size"].startswith("size: '999x999' is not offered by gen4_turbo; "), found

"""Reading answers: each error status as its exception, the fields a plain aimlapi service leaves
out, the older ``video`` list, list pages, and models."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.unit.client.conftest import (
    BASE,
    KEY,
    FakeClock,
    ScriptedServer,
    failure,
    poll,
)
from vidgen.client import (
    APIError,
    AuthenticationError,
    Client,
    Generation,
    InsufficientCredits,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RetryPolicy,
    ServerError,
    ValidationError,
    VidgenError,
)

NO_RETRY = RetryPolicy(max_retries=0)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (402, InsufficientCredits),
        (403, InsufficientCredits),
        (404, NotFound),
        (409, APIError),
        (413, PayloadTooLarge),
        (422, ValidationError),
        (429, RateLimited),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_each_error_status_raises_its_typed_error_with_the_servers_details(
    server: ScriptedServer, clock: FakeClock, status: int, error: type[APIError]
) -> None:
    server.script("POST", failure(status, f"refused with {status}"))
    client = Client(
        KEY,
        base_url=BASE,
        transport=httpx.MockTransport(server.handle),
        retry=NO_RETRY,
        clock=clock,
    )
    with pytest.raises(error) as caught:
        client.generations.create(image="https://example.com/a.png")
    assert type(caught.value) is error
    assert isinstance(caught.value, VidgenError)
    assert caught.value.status_code == status
    assert caught.value.message == f"refused with {status}"
    assert caught.value.request_id == "req-123"
    assert str(caught.value) == f"{status} refused with {status}"


def test_a_validation_error_names_every_field_at_fault(
    client: Client, server: ScriptedServer
) -> None:
    errors = [
        {"field": "aspect_ratio", "message": "use one of 16:9, 9:16"},
        {"field": "duration", "message": "must be one of 5, 10"},
    ]
    server.script("POST", failure(400, "Body validation error!", errors=errors))
    with pytest.raises(ValidationError) as caught:
        client.generations.create(image="https://example.com/a.png", duration=7)
    assert caught.value.fields == {
        "aspect_ratio": "use one of 16:9, 9:16",
        "duration": "must be one of 5, 10",
    }


def test_errors_in_other_shapes_still_carry_a_readable_message(
    client: Client, server: ScriptedServer
) -> None:
    server.script(
        "GET",
        httpx.Response(404, json={"error": {"message": "no such task", "code": "not_found"}}),
        httpx.Response(401, json={"detail": "bad token"}),
        httpx.Response(400, text="<html>Bad Request</html>"),
    )
    with pytest.raises(NotFound, match="no such task"):
        client.generations.get("x")
    with pytest.raises(AuthenticationError, match="bad token"):
        client.generations.get("x")
    with pytest.raises(ValidationError, match="Bad Request") as caught:
        client.generations.get("x")
    assert caught.value.errors == []


def test_a_401_without_a_key_says_how_to_give_one(
    server: ScriptedServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIDGEN_API_KEY", raising=False)
    server.script("GET", failure(401, "Missing API key."))
    client = Client(base_url=BASE, transport=httpx.MockTransport(server.handle), clock=clock)
    with pytest.raises(AuthenticationError, match="VIDGEN_API_KEY"):
        client.generations.get("x")
    assert "authorization" not in server.sent()[0].headers


def test_a_plain_aimlapi_answer_without_vidgens_extensions_reads_fine(
    client: Client, server: ScriptedServer
) -> None:
    # What AI/ML API itself sends: no engine, seed, progress, thumbnail or timestamps.
    server.script(
        "GET",
        httpx.Response(200, json={"id": "d0cd", "status": "generating"}),
        httpx.Response(
            200,
            json={
                "id": "d0cd",
                "status": "completed",
                "video": {"url": "https://cdn.example.com/wolf/d0cd.mp4?_jwt=x"},
                "meta": {"usage": {"credits_used": 120000}},
            },
        ),
    )
    seen: list[Generation] = []
    done = client.generations.wait("d0cd", on_progress=seen.append)
    assert seen[0].progress is None and seen[0].engine is None
    assert done.video is not None and done.video.url.endswith("d0cd.mp4?_jwt=x")
    assert done.usage is not None and done.usage.credits_used == 120000
    assert done.usage.tokens_used is None
    assert (done.seed, done.aspect_ratio, done.thumbnail_url, done.created_at) == (
        None,
        None,
        None,
        None,
    )


def test_the_older_answer_with_video_as_a_list_of_urls_reads_as_a_video() -> None:
    # The seed document's printed sample.
    body = {
        "id": "d0cddca1-e382-4625-84c9-0817a6441876",
        "status": "completed",
        "video": ["https://cdn.aimlapi.com/wolf/704dae4c.mp4?_jwt=eyJ"],
    }
    generation = Generation.parse(body)
    assert generation.succeeded
    assert generation.video is not None
    assert generation.video.url == "https://cdn.aimlapi.com/wolf/704dae4c.mp4?_jwt=eyJ"
    assert generation.raw == body


def test_vidgens_full_answer_fills_every_field() -> None:
    generation = Generation.parse(
        {
            "id": "g",
            "status": "completed",
            "video": {"url": "http://h/v.mp4", "duration": 10.0},
            "duration": 10.0,
            "error": None,
            "meta": {
                "usage": {"credits_used": 15, "tokens_used": 15},
                "engine": "preview",
                "model": "gen3a_turbo",
                "seed": 42,
                "aspect_ratio": "9:16",
                "progress": 1.0,
                "thumbnail_url": "http://h/t.jpg",
                "created_at": "2026-01-02T03:04:05.123Z",
                "completed_at": "2026-01-02T03:04:09Z",
            },
        }
    )
    assert (generation.engine, generation.model, generation.seed) == ("preview", "gen3a_turbo", 42)
    assert generation.video is not None and generation.video.duration == 10.0
    assert generation.created_at == datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
    assert generation.completed_at is not None and generation.thumbnail_url == "http://h/t.jpg"


def test_an_answer_without_an_id_is_an_api_error(client: Client, server: ScriptedServer) -> None:
    server.script(
        "GET", httpx.Response(200, json={"status": "queued"}), httpx.Response(200, text="ok")
    )
    with pytest.raises(APIError, match="no generation id"):
        client.generations.get("x")
    with pytest.raises(APIError, match="not JSON"):
        client.generations.get("x")


def test_list_pages_follow_the_cursor_and_pass_the_filters(
    client: Client, server: ScriptedServer
) -> None:
    def page(ids: list[str], cursor: str | None) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": [poll("completed", gen_id=i).json() for i in ids],
                "has_more": cursor is not None,
                "next_cursor": cursor,
            },
        )

    server.script("GET", page(["e", "d"], "d"))
    first = client.generations.list(limit=2, status="completed")
    assert [g.id for g in first] == ["e", "d"] and first.has_more and first.next_cursor == "d"
    params = server.sent()[0].url.params
    assert (params["limit"], params["status"], "after" in params) == ("2", "completed", False)
    server.requests.clear()
    server.script("GET", page(["e", "d"], "d"), page(["c", "b"], "b"), page(["a"], None))
    every = client.generations.iterate(status="completed", page_size=2)
    assert [g.id for g in every] == ["e", "d", "c", "b", "a"]
    assert [r.url.params.get("after") for r in server.sent()] == [None, "d", "b"]
    assert {r.url.params["status"] for r in server.sent()} == {"completed"}


def test_models_read_from_vidgen_and_from_a_bare_list(
    client: Client, server: ScriptedServer
) -> None:
    vidgen_model = {
        "id": "runway/gen4_turbo",
        "engine": "preview",
        "aliases": ["gen4_turbo"],
        "aspect_ratios": {"16:9": "1280x720", "9:16": "720x1280"},
        "default_aspect_ratio": "16:9",
        "durations": [5, 10],
        "default_duration": 5,
        "credits": {"5": 8, "10": 15},
        "fps": 24,
    }
    server.script(
        "GET",
        httpx.Response(200, json={"object": "list", "data": [vidgen_model]}),
        httpx.Response(200, json=[{"id": "runway/gen4_turbo", "type": "video"}, {"name": "no id"}]),
    )
    (model,) = client.models.list()
    assert model.credits == {5: 8, 10: 15}
    assert model.aspect_ratios["9:16"] == "720x1280" and model.durations == [5, 10]
    assert server.sent()[0].url.path == "/v1/models"
    (plain,) = client.models.list()
    assert (plain.id, plain.engine, plain.credits) == ("runway/gen4_turbo", None, {})


@pytest.mark.parametrize(
    ("sent", "read"), [(8, "8"), (8.0, "8"), (2.5, "2.5"), ("15", "15"), (None, "None")]
)
def test_whole_credits_read_as_whole_numbers(sent: object, read: str) -> None:
    generation = Generation.parse(
        {"id": "g", "status": "completed", "meta": {"usage": {"credits_used": sent}}}
    )
    assert generation.usage is not None
    assert str(generation.usage.credits_used) == read  # what print() shows

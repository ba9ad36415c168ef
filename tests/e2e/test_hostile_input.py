"""Input that no database can store or no URL can carry, on every dialect's routes, against a
real server on SQLite and on PostgreSQL: a NUL character (``\\u0000``; PostgreSQL cannot store it
in text at all), a lone UTF-16 surrogate (``\\ud800``; not a character, not encodable as UTF-8),
a NUL in an id, a cursor or a query value, and JSON nested too deep for a recursive parser.

Each one is the client's mistake: a 400 naming the field in the client's own spelling, or a
404 for an id, in the dialect's error shape. Both databases answer the same, and the server
keeps serving (a 5xx here would be a bug)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, data_uri, make_image

pytestmark = pytest.mark.slow

ADMIN = "vg_hostile_admin_" + "a" * 32

NUL = "a\u0000b"
SURROGATE = "x\ud800y"
IMAGE = data_uri(make_image(64, 36))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    from tests.conftest import free_port, live_server_env

    overrides: dict[str, str] = {"VIDGEN_ADMIN_KEYS": ADMIN}
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        template = request.getfixturevalue("pg_template")
        overrides["VIDGEN_DATABASE_URL"] = cluster.create_database(template=template)
    root = tmp_path_factory.mktemp(f"hostile-{request.param}")
    port = free_port()
    live = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=root / "data",
        env=live_server_env(root / "data", **overrides),
        log_path=root / "server.log",
        port=port,
    )
    live.start()
    yield live
    live.stop()
    assert "Traceback" not in live.output()


def raw_json(value: Any) -> bytes:
    """JSON as a client may send it: ``\\ud800`` escapes survive (``json.dumps`` keeps them as
    escapes with ensure_ascii, which is the default)."""
    return json.dumps(value).encode()


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(
        path,
        content=raw_json(body),
        headers={"Content-Type": "application/json", "X-Runway-Version": "2024-11-06"},
    )


def aimlapi(**fields: Any) -> dict[str, Any]:
    return {"model": "runway/gen4_turbo", "image_url": IMAGE, "prompt": "p", **fields}


def apiframe(params: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "model": "runway-gen4-turbo",
        "prompt": "p",
        "runwayParams": {"image": IMAGE, **(params or {})},
        **fields,
    }


def runway(**fields: Any) -> dict[str, Any]:
    return {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720", **fields}


def openai(**fields: Any) -> dict[str, Any]:
    return {"prompt": "p", "input_reference": IMAGE, **fields}


def error_text(response: httpx.Response) -> str:
    """Everything the dialect's error body says, as text, to look for the field's name."""
    return json.dumps(response.json())


BAD_TEXT = [
    # (route, body, the field's name as that client spells it)
    ("/v2/video/generations", aimlapi(prompt=NUL), "prompt"),
    ("/v2/video/generations", aimlapi(image_url=NUL), "image_url"),
    ("/v2/video/generations", aimlapi(image_url="https://example.com/" + SURROGATE), "image_url"),
    ("/v2/video/generations", aimlapi(webhook_url="https://h.example/" + SURROGATE), "webhook_url"),
    ("/v2/video/generations", aimlapi(prompt=SURROGATE), "prompt"),
    ("/v2/generate/video/runway/generation", aimlapi(prompt=NUL), "prompt"),
    ("/v2/videos/generate", apiframe(prompt=NUL), "prompt"),
    ("/v2/videos/generate", apiframe({"image": "https://e.example/" + SURROGATE}), "image"),
    ("/v2/videos/generate", apiframe(webhookUrl="https://h.example/" + SURROGATE), "webhookUrl"),
    ("/v1/image_to_video", runway(promptText=NUL), "promptText"),
    ("/v1/image_to_video", runway(promptImage="https://e.example/" + SURROGATE), "promptImage"),
    (
        "/v1/image_to_video",
        runway(promptImage=[{"uri": NUL, "position": "first"}]),
        "promptImage",
    ),
    ("/v1/videos", openai(prompt=NUL), "prompt"),
    ("/v1/videos", openai(input_reference="https://e.example/" + SURROGATE), "input_reference"),
    # An unknown field's name is named as sent, its surrogate escaped (the answer is UTF-8).
    ("/v1/videos", openai(**{SURROGATE: "v"}), "x\\\\ud800y"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_TEXT)
def test_text_that_cannot_be_stored_is_refused_naming_the_field(
    server: LiveServer, path: str, body: dict[str, Any], field: str
) -> None:
    with server.client() as client:
        response = post(client, path, body)
        assert response.status_code == 400, response.text
        assert field in error_text(response)
        # The same keep-alive connection still serves.
        assert client.get("/v1/account").status_code == 200


def test_a_nul_in_a_multipart_field_is_refused_naming_it(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post(
            "/v1/videos",
            data={"prompt": NUL},
            files={"input_reference": ("a.png", make_image(64, 36), "image/png")},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "prompt"


ID_ROUTES = [
    ("GET", "/v2/video/generations?generation_id={id}"),
    ("DELETE", "/v2/video/generations?generation_id={id}"),
    ("GET", "/v2/generate/video/runway/generation?generation_id={id}"),
    ("GET", "/v2/jobs/{id}"),
    ("POST", "/v2/jobs/{id}/cancel"),
    ("GET", "/v1/tasks/{id}"),
    ("DELETE", "/v1/tasks/{id}"),
    ("GET", "/v1/videos/{id}"),
    ("DELETE", "/v1/videos/{id}"),
    ("GET", "/v1/videos/{id}/content"),
]


@pytest.mark.parametrize(("method", "template"), ID_ROUTES)
@pytest.mark.parametrize("bad_id", ["%00", "abc%00def", "%ED%A0%80"])
def test_an_id_that_cannot_exist_is_not_found(
    server: LiveServer, method: str, template: str, bad_id: str
) -> None:
    with server.client() as client:
        response = client.request(
            method, template.format(id=bad_id), headers={"X-Runway-Version": "2024-11-06"}
        )
        assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v2/video/generations?after=%00", "after"),
        ("/v2/jobs?cursor=%00", "cursor"),
        ("/v1/videos?after=%00", "after"),
    ],
)
def test_a_cursor_that_cannot_exist_is_refused_naming_it(
    server: LiveServer, path: str, field: str
) -> None:
    with server.client() as client:
        response = client.get(path)
        assert response.status_code == 400, response.text
        assert field in error_text(response)


@pytest.mark.parametrize(
    "path",
    ["/v2/video/generations?status=%00", "/v1/videos?order=%00", "/v2/jobs?status=%00"],
)
def test_a_nul_in_a_query_value_is_refused(server: LiveServer, path: str) -> None:
    with server.client() as client:
        assert client.get(path).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/v1/videos",
        "/v2/video/generations",
        "/v2/videos/generate",
        "/v1/image_to_video",
    ],
)
def test_json_nested_too_deep_is_refused(server: LiveServer, path: str) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    with server.client() as client:
        response = client.post(
            path,
            content=deep,
            headers={"Content-Type": "application/json", "X-Runway-Version": "2024-11-06"},
        )
        assert response.status_code == 400, response.text
        assert client.get("/v1/account").status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/admin/keys", {"name": NUL}, "name"),
        ("/v1/admin/keys", {"name": SURROGATE}, "name"),
    ],
)
def test_an_admin_key_whose_text_cannot_be_stored_is_refused_naming_the_field(
    server: LiveServer, path: str, body: dict[str, Any], field: str
) -> None:
    with server.client(ADMIN) as client:
        response = post(client, path, body)
        assert response.status_code == 400, response.text
        assert field in error_text(response)


def test_a_credit_reason_that_cannot_be_stored_is_refused_naming_it(server: LiveServer) -> None:
    with server.client(ADMIN) as client:
        made = client.post("/v1/admin/keys", json={"name": "limited", "credits": 5})
        assert made.status_code == 201, made.text
        response = post(
            client, f"/v1/admin/keys/{made.json()['id']}/credits", {"amount": 1, "reason": NUL}
        )
        assert response.status_code == 400, response.text
        assert "reason" in error_text(response)
        assert client.get(f"/v1/admin/keys/{made.json()['id']}").json()["credits"] == 5


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "POST"])
@pytest.mark.parametrize("bad_id", ["%00", "abc%00def"])
def test_an_admin_key_id_that_cannot_exist_is_not_found(
    server: LiveServer, method: str, bad_id: str
) -> None:
    path = f"/v1/admin/keys/{bad_id}" + ("/credits" if method == "POST" else "")
    body = {"amount": 1, "reason": "r"} if method == "POST" else {} if method == "PATCH" else None
    with server.client(ADMIN) as client:
        response = client.request(method, path, json=body)
        assert response.status_code == 404, response.text


def test_a_usage_key_id_that_cannot_be_stored_is_refused_naming_it(server: LiveServer) -> None:
    with server.client(ADMIN) as client:
        response = client.get("/v1/usage?key_id=a%00b")
        assert response.status_code == 400, response.text
        assert "key_id" in error_text(response)

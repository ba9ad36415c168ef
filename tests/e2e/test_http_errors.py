"""Errors as a client on a real connection sees them: a real ``vidgen serve`` (uvicorn) on
loopback, and httpx clients that keep one connection alive across requests.

An error answer must leave the connection usable and the log free of tracebacks, on every route
(those outside the four dialects too); a body over the cap is a 413 in the route's own error
shape however it is sent, with a Content-Length or chunked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_KEY, LiveServer, free_port, live_server_env

pytestmark = pytest.mark.slow

MAX_BODY = 64 * 1024
METRICS_TOKEN = "metrics-token-for-tests"
RUNWAY_HEADERS = {"X-Runway-Version": "2024-11-06"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("http-errors")
    port = free_port()
    env = live_server_env(
        root / "data", VIDGEN_MAX_BODY_BYTES=str(MAX_BODY), VIDGEN_METRICS_TOKEN=METRICS_TOKEN
    )
    live = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=root / "data",
        env=env,
        log_path=root / "server.log",
        port=port,
    )
    live.start("--no-worker")
    yield live
    live.stop()


def local_port(response: httpx.Response) -> int:
    """The client-side port of the connection that carried ``response``."""
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/account", {}),
        ("/v1/account", {"Authorization": "Bearer vg_not_a_real_key"}),
        ("/metrics", {}),
        ("/metrics", {"Authorization": f"Bearer {TEST_KEY}"}),  # an API key is not the token
        ("/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}x"}),
    ],
)
def test_an_error_outside_the_dialects_keeps_the_connection_and_logs_no_traceback(
    server: LiveServer, path: str, headers: dict[str, str]
) -> None:
    logged_before = len(server.output())
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        refused = client.get(path, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["statusCode"] == 401  # the default (aimlapi) error shape
        port = local_port(refused)
        for _ in range(3):
            good = client.get("/v1/account", headers={"Authorization": f"Bearer {TEST_KEY}"})
            assert good.status_code == 200
            assert local_port(good) == port  # the same keep-alive connection
    logged = server.output()[logged_before:]
    assert "Traceback" not in logged
    assert "Exception in ASGI application" not in logged


def test_metrics_are_served_to_the_metrics_token_only(server: LiveServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert client.get("/metrics").status_code == 401
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert answer.status_code == 200
        assert "vidgen_queue_depth" in answer.text
        assert "vidgen_http_request_duration_seconds" in answer.text


def test_every_api_route_renders_its_own_errors(tmp_path: Path) -> None:
    """Each route catches and renders what it raises: one that leaves it to FastAPI's catch-all
    handler gets an answer, but the exception goes on up to the server, which logs it with a
    traceback and drops the connection (the test above, for the routes that exist today)."""
    from vidgen.api.app import create_app
    from vidgen.api.dialect import ErrorRenderingRoute
    from vidgen.settings import Settings

    app = create_app(Settings(data_dir=tmp_path))
    plain = [
        route.path
        for route in app.routes
        if hasattr(route, "endpoint")
        and hasattr(route, "get_route_handler")
        and not isinstance(route, ErrorRenderingRoute)
    ]
    assert plain == []


# -- an over-limit body, chunked ----------------------------------------------------------------


def chunked(body: bytes, size: int = 8192) -> Iterator[bytes]:
    """The body as a generator: httpx sends it chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def oversized_json() -> bytes:
    return json.dumps({"prompt": "x" * (2 * MAX_BODY)}).encode()


def oversized_multipart() -> tuple[bytes, str]:
    boundary = "vidgen-test-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="prompt"\r\n\r\n'
            "a slow zoom\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="input_reference"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + b"\x89PNG"
        + b"\0" * (2 * MAX_BODY)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


CREATES: list[tuple[str, str, dict[str, str]]] = [
    ("aimlapi", "/v2/video/generations", {}),
    ("aimlapi (legacy path)", "/v2/generate/video/runway/generation", {}),
    ("apiframe", "/v2/videos/generate", {}),
    ("Runway", "/v1/image_to_video", RUNWAY_HEADERS),
    ("OpenAI, JSON", "/v1/videos", {}),
    ("OpenAI, multipart", "/v1/videos", {}),
]


def without_volatile_fields(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in ("requestId", "timestamp")}
    return body


@pytest.mark.parametrize(("dialect", "path", "headers"), CREATES, ids=[c[0] for c in CREATES])
def test_a_chunked_body_over_the_cap_is_413_in_the_dialects_shape(
    server: LiveServer, dialect: str, path: str, headers: dict[str, str]
) -> None:
    if "multipart" in dialect:
        body, content_type = oversized_multipart()
    else:
        body, content_type = oversized_json(), "application/json"
    headers = {**headers, "Content-Type": content_type}
    with server.client() as client:
        declared = client.post(path, content=body, headers=headers)
        streamed = client.post(path, content=chunked(body), headers=headers)
        assert "content-length" not in streamed.request.headers
        assert streamed.request.headers["transfer-encoding"] == "chunked"
        assert declared.status_code == 413, declared.text
        assert streamed.status_code == 413, streamed.text
        assert without_volatile_fields(streamed.json()) == without_volatile_fields(declared.json())
        # The connection is still good for the next request.
        assert client.get("/v1/account").status_code == 200

"""The aimlapi poll's fast path (``api.dialect.fast_path``): every request it does not take
gets exactly the answer FastAPI's route gives, and the request layers it would skip cannot be
added behind it by mistake.

In process, on SQLite, with no worker (a queued generation stays as it is, so two answers to the
same poll can be compared byte for byte). The route's own answer is the same app's, with the
fast path table emptied for that one request. ``tests/e2e/test_aimlapi.py`` pins the fast
path's own answers to the route's on a live server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import OTHER_KEY, TEST_KEY, data_uri, make_image, make_settings
from vidgen.api import aimlapi
from vidgen.api.aimlapi import GENERATION_ID_MAX
from vidgen.api.app import VidgenAPI, create_app

POLL = "/v2/video/generations"
LEGACY_POLL = "/v2/generate/video/runway/generation"
# The same request id on both requests: it is echoed in a header and in error bodies.
REQUEST_ID = "fast-path-comparison"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path_factory.mktemp("data"), run_worker=False))
    # Entered once: the lifespan starts the runtime, which lives as long as the module.
    with TestClient(app, headers={"Authorization": f"Bearer {TEST_KEY}"}) as client:
        yield client


@pytest.fixture(scope="module")
def app(client: TestClient) -> VidgenAPI:
    assert isinstance(client.app, VidgenAPI)
    return client.app


@pytest.fixture(scope="module")
def generation_id(client: TestClient) -> str:
    return generation_id_of(client)


def generation_id_of(client: TestClient) -> str:
    created = client.post(
        POLL,
        json={"model": "runway/gen4_turbo", "image_url": data_uri(make_image(320, 180))},
    )
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


@contextmanager
def fast_path_taken(app: VidgenAPI) -> Iterator[list[bool]]:
    """Records, per request, whether a fast path answered it (True) or passed it on."""
    assert app.fast_paths is not None
    table = app.fast_paths.table
    saved = dict(table)
    taken: list[bool] = []

    def recording(handler: Any) -> Any:
        async def record(request: Any) -> Any:
            try:
                response = await handler(request)
            except Exception:
                taken.append(True)  # an error it raises is its answer, in the dialect's shape
                raise
            taken.append(response is not None)
            return response

        return record

    table.update({key: (route, recording(handler)) for key, (route, handler) in saved.items()})
    try:
        yield taken
    finally:
        table.clear()
        table.update(saved)


@contextmanager
def without_fast_paths(app: VidgenAPI) -> Iterator[None]:
    assert app.fast_paths is not None
    saved = dict(app.fast_paths.table)
    app.fast_paths.table.clear()
    try:
        yield
    finally:
        app.fast_paths.table.update(saved)


def answer(client: TestClient, method: str, url: str, **kwargs: Any) -> tuple[Any, ...]:
    headers = {"X-Request-Id": REQUEST_ID, **kwargs.pop("headers", {})}
    response = client.request(method, url, headers=headers, **kwargs)
    body = response.content
    if body and response.status_code >= 400 and "json" in response.headers["content-type"]:
        # An error body carries the time it was made; nothing else may differ.
        parsed = response.json()
        parsed.pop("timestamp", None)
        body = repr(parsed).encode()
    return response.status_code, sorted(response.headers.multi_items()), body


def compare(
    app: VidgenAPI, client: TestClient, method: str, url: str, **kwargs: Any
) -> tuple[int, bool]:
    """The answer with the fast paths as installed, and with none: they must be the same.
    Returns the status and whether the fast path took the request."""
    with fast_path_taken(app) as taken:
        fast = answer(client, method, url, **dict(kwargs))
    with without_fast_paths(app):
        routed = answer(client, method, url, **dict(kwargs))
    assert fast == routed
    return fast[0], taken == [True]


def test_a_bare_poll_is_taken_by_the_fast_path_and_answered_as_the_route_does(
    app: VidgenAPI, client: TestClient, generation_id: str
) -> None:
    # The control for the tests below: a plain poll really is answered by the fast path.
    for path in (POLL, LEGACY_POLL):
        status, taken = compare(app, client, "GET", f"{path}?generation_id={generation_id}")
        assert (status, taken) == (200, True)


@pytest.mark.parametrize(
    "query",
    [
        "generation_id={id}&limit=20",
        "generation_id={id}&unknown=1",
        "limit=20&generation_id={id}",
        "generation_id=no-such-id&generation_id={id}",
        "generation_id={id}&status=queued",
    ],
    ids=["limit", "unknown-param", "id-second", "id-twice", "status"],
)
def test_a_poll_with_more_than_the_id_is_left_to_the_route(
    app: VidgenAPI, client: TestClient, generation_id: str, query: str
) -> None:
    for path in (POLL, LEGACY_POLL):
        status, taken = compare(app, client, "GET", f"{path}?{query.format(id=generation_id)}")
        assert (status, taken) == (200, False)


@pytest.mark.parametrize(
    "query",
    ["generation_id=", "generation_id", "generation_id=%20%20", f"generation_id={'x' * 101}"],
    ids=["empty", "no-value", "blank", "too-long"],
)
def test_an_empty_or_too_long_id_is_left_to_the_route(
    app: VidgenAPI, client: TestClient, query: str
) -> None:
    assert GENERATION_ID_MAX == 100  # the too-long case is one past it
    for path in (POLL, LEGACY_POLL):
        status, taken = compare(app, client, "GET", f"{path}?{query}")
        assert (status, taken) == (400, False)


def test_an_id_of_the_longest_allowed_length_is_answered_as_the_route_does(
    app: VidgenAPI, client: TestClient
) -> None:
    status, taken = compare(app, client, "GET", f"{POLL}?generation_id={'x' * 100}")
    assert (status, taken) == (404, True)


def test_a_list_request_is_left_to_the_route(
    app: VidgenAPI, client: TestClient, generation_id: str
) -> None:
    for query in ("", "?limit=5", "?status=queued"):
        status, taken = compare(app, client, "GET", f"{POLL}{query}")
        assert (status, taken) == (200, False)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},
        {"Authorization": "Bearer vg_no_such_key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "", "X-API-Key": TEST_KEY},
        {"Authorization": "", "X-API-Key": "vg_no_such_key"},
        {"Authorization": f"Bearer {OTHER_KEY}"},
    ],
    ids=["no-key", "unknown-key", "not-bearer", "x-api-key", "unknown-x-api-key", "other-key"],
)
def test_a_poll_with_a_missing_unknown_or_other_key_is_answered_as_the_route_does(
    app: VidgenAPI, client: TestClient, generation_id: str, headers: dict[str, str]
) -> None:
    for path in (POLL, LEGACY_POLL):
        status, _ = compare(
            app, client, "GET", f"{path}?generation_id={generation_id}", headers=headers
        )
        assert status in (200, 401, 404)


def test_an_unknown_id_is_answered_as_the_route_does(app: VidgenAPI, client: TestClient) -> None:
    for query in ("generation_id=no-such-id", "generation_id=%E2%82%AC", "generation_id=a%26b"):
        status, taken = compare(app, client, "GET", f"{POLL}?{query}")
        assert (status, taken) == (404, True)


def test_a_head_or_another_method_is_left_to_the_route(
    app: VidgenAPI, client: TestClient, generation_id: str
) -> None:
    for method in ("HEAD", "PUT", "PATCH", "OPTIONS"):
        status, taken = compare(app, client, method, f"{POLL}?generation_id={generation_id}")
        assert (status, taken) == (405, False)


def test_a_poll_with_a_body_is_answered_as_the_route_does(
    app: VidgenAPI, client: TestClient, generation_id: str
) -> None:
    for content in (b'{"generation_id": "other"}', b"not json", b"x" * 10_000):
        status, _ = compare(
            app,
            client,
            "GET",
            f"{POLL}?generation_id={generation_id}",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert status == 200


# -- middleware cannot be added behind the fast paths ------------------------------------------


class Stamp:
    """Marks every answer it sees."""

    def __init__(self, app: ASGIApp, name: str = "x-stamp") -> None:
        self.app = app
        self.name = name.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (self.name, b"1")]
            await send(message)

        await self.app(scope, receive, stamped)


def test_middleware_added_behind_the_fast_paths_is_refused(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    with pytest.raises(RuntimeError, match="add_front_middleware"):
        app.add_middleware(Stamp)

    async def passthrough(request: Any, call_next: Any) -> Any:
        return await call_next(request)

    with pytest.raises(RuntimeError, match="add_front_middleware"):
        app.middleware("http")(passthrough)
    assert app.user_middleware == []


def test_an_app_that_has_middleware_before_the_fast_paths_are_installed_is_refused(
    tmp_path: Path,
) -> None:
    app = VidgenAPI()
    app.add_middleware(Stamp)  # fine while there is no fast path
    with pytest.raises(RuntimeError, match="add_front_middleware"):
        app.put_in_front([aimlapi.router], make_settings(tmp_path))


def test_middleware_added_in_front_sees_the_requests_the_fast_paths_answer(
    tmp_path: Path,
) -> None:
    app = create_app(make_settings(tmp_path, run_worker=False))
    assert isinstance(app, VidgenAPI)
    app.add_front_middleware(Stamp)
    with TestClient(app, headers={"Authorization": f"Bearer {TEST_KEY}"}) as client:
        generation_id = generation_id_of(client)
        with fast_path_taken(app) as taken:
            fast = client.get(POLL, params={"generation_id": generation_id})
            routed = client.get(POLL, params={"generation_id": generation_id, "limit": 5})
    assert taken == [True, False]
    assert fast.status_code == routed.status_code == 200
    assert fast.headers["x-stamp"] == routed.headers["x-stamp"] == "1"

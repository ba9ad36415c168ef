"""Fakes for the SDK's unit tests: a clock that never really sleeps, and a scripted server
behind ``httpx.MockTransport`` that records every request it gets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from vidgen.client import AsyncClient, Client, PollPolicy, RetryPolicy

KEY = "vg_unit_test_key"
BASE = "http://vidgen.test"

Answer = httpx.Response | Exception


class FakeClock:
    """Time moves only when the code under test sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def sleep_async(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted answer for its method (a response, or an
    exception to raise); records the requests."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def script(self, method: str, *answers: Answer) -> None:
        self.answers.setdefault(method, []).extend(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.answers.get(request.method) or []
        if not queue:
            raise AssertionError(f"unscripted request: {request.method} {request.url}")
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.handle(request)

    def sent(self, method: str | None = None) -> list[httpx.Request]:
        return [r for r in self.requests if method is None or r.method == method]

    def body(self, index: int = 0, method: str = "POST") -> dict[str, Any]:
        return json.loads(self.sent(method)[index].content)


def poll(
    status: str, *, gen_id: str = "gen-1", progress: float | None = None, **extra: Any
) -> httpx.Response:
    """A vidgen poll answer."""
    body: dict[str, Any] = {"id": gen_id, "status": status, "video": None, "error": None}
    if progress is not None:
        body["meta"] = {"progress": progress, "engine": "preview"}
    body.update(extra)
    return httpx.Response(200, json=body)


def completed(gen_id: str = "gen-1", url: str = "http://files.test/v.mp4?_jwt=t") -> httpx.Response:
    return poll(
        "completed",
        gen_id=gen_id,
        video={"url": url, "duration": 5.0},
        duration=5.0,
        meta={"progress": 1.0, "seed": 7, "usage": {"credits_used": 8, "tokens_used": 8}},
    )


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    """aimlapi's error body."""
    return {
        "message": message,
        "path": "/v2/video/generations",
        "requestId": "req-123",
        "statusCode": status,
        "timestamp": "2026-01-01T00:00:00.000Z",
        **extra,
    }


def failure(
    status: int, message: str = "nope", headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    return httpx.Response(status, json=error_body(status, message, **extra), headers=headers)


#: Exact delays (no jitter), so that tests can assert them.
EXACT_RETRY = RetryPolicy(max_retries=3, backoff=0.5, max_backoff=4.0, jitter=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> ScriptedServer:
    return ScriptedServer()


@pytest.fixture
def client(server: ScriptedServer, clock: FakeClock) -> Iterator[Client]:
    with Client(
        KEY,
        base_url=BASE,
        transport=httpx.MockTransport(server.handle),
        retry=EXACT_RETRY,
        poll=PollPolicy(initial=0.5, factor=2.0, maximum=2.0),
        clock=clock,
    ) as sdk:
        yield sdk


@pytest.fixture
def async_client(server: ScriptedServer, clock: FakeClock) -> AsyncClient:
    return AsyncClient(
        KEY,
        base_url=BASE,
        transport=httpx.MockTransport(server.handle_async),
        retry=EXACT_RETRY,
        poll=PollPolicy(initial=0.5, factor=2.0, maximum=2.0),
        clock=clock,
    )

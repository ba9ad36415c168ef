"""``wait(follow=True)``: the server's event stream reports every change with no polling, one
poll then reads the final state (with its link); where the stream is not there, or breaks, the
wait polls as it always did."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.unit.client.conftest import FakeClock, ScriptedServer, completed, poll
from vidgen.client import AsyncClient, Client, Generation, GenerationFailed


def event(n: int, status: str, progress: float, **extra: Any) -> str:
    data = {"id": "gen-1", "status": status, "progress": progress, "queue": None, "error": None}
    data.update(extra)
    kind = status if status in ("completed", "failed", "cancelled") else "status"
    return (
        f"id: {n}:{status}:{round(progress * 1000)}:0\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
    )


def stream(*events: str, keepalive: bool = True) -> httpx.Response:
    body = (": ping\n\n" if keepalive else "") + "".join(events)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


RUN = [
    event(1, "queued", 0.0),
    event(2, "generating", 0.0),
    event(3, "generating", 0.5),
    event(4, "completed", 1.0),
]


def test_following_reports_every_change_from_the_stream_and_polls_once_for_the_link(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", stream(*RUN), completed())
    seen: list[Generation] = []
    done = client.generations.wait("gen-1", on_progress=seen.append, follow=True)
    assert [(g.status, g.progress) for g in seen] == [
        ("queued", 0.0),
        ("generating", 0.0),
        ("generating", 0.5),
        ("completed", 1.0),
    ]
    assert done.video is not None and done.video.url.endswith("?_jwt=t")
    assert clock.sleeps == []  # no polling while the stream ran
    paths = [r.url.path for r in server.sent("GET")]
    assert paths == ["/v1/generations/gen-1/events", "/v2/video/generations"]
    assert server.sent("GET")[0].headers["authorization"] == "Bearer vg_unit_test_key"


def test_a_failure_in_the_stream_ends_the_wait_as_a_failure(
    client: Client, server: ScriptedServer
) -> None:
    oops = {"name": "EngineError", "message": "boom"}
    server.script(
        "GET",
        stream(event(1, "generating", 0.2), event(2, "failed", 0.2, error=oops)),
        poll("error", error=oops),
    )
    with pytest.raises(GenerationFailed) as failed:
        client.generations.wait("gen-1", follow=True)
    assert failed.value.generation.error is not None
    assert failed.value.generation.error.name == "EngineError"


def test_a_server_without_the_stream_is_polled(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", httpx.Response(404, json={"message": "no route"}), poll("queued"))
    server.script("GET", completed())
    done = client.generations.wait("gen-1", follow=True)
    assert done.succeeded and clock.sleeps == [0.5]


def test_a_stream_that_breaks_is_taken_over_by_polls_without_repeating_a_report(
    client: Client, server: ScriptedServer
) -> None:
    # The stream ends (the connection dropped) before the final event.
    server.script("GET", stream(event(1, "generating", 0.5)), poll("generating", progress=0.5))
    server.script("GET", completed())
    seen: list[Generation] = []
    client.generations.wait("gen-1", on_progress=seen.append, follow=True)
    assert [(g.status, g.progress) for g in seen] == [("generating", 0.5), ("completed", 1.0)]


async def test_the_async_client_follows_the_stream_and_awaits_its_callback(
    async_client: AsyncClient, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", stream(*RUN), completed())
    seen: list[str] = []

    async def report(generation: Generation) -> None:
        seen.append(generation.status)

    async with async_client:
        done = await async_client.generations.wait("gen-1", on_progress=report, follow=True)
    assert done.succeeded and clock.sleeps == []
    assert seen == ["queued", "generating", "generating", "completed"]

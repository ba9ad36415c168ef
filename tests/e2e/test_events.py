"""``GET /v1/generations/{id}/events`` through a real SSE client (httpx streaming, read with
``httpx-sse``) against uvicorn on loopback: the events come in order, the stream closes after
the final one, a reconnection with ``Last-Event-ID`` resumes without repeats, an idle stream is
kept alive with comments, and another key's generation is a 404."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from tests.conftest import (
    OTHER_KEY,
    TEST_KEY,
    LiveServer,
    data_uri,
    make_image,
    wait_for_status,
)
from tests.e2e.fleet import Fleet, fleet_env

pytestmark = pytest.mark.slow
GEN4 = "runway/gen4_turbo"


@pytest.fixture
def server(live_server_factory: Any) -> Iterator[LiveServer]:
    # One worker slot, so a second job waits in the queue behind the first; keep-alive
    # comments every 0.2 s, so a stream that waits shows them.
    live: LiveServer = live_server_factory(
        VIDGEN_WORKER_CONCURRENCY="1",
        VIDGEN_EVENTS_KEEPALIVE_SECONDS="0.2",
        VIDGEN_LIVE_POLL_INTERVAL="0.05",
    )
    live.start()
    yield live
    live.stop()


def create(client: httpx.Client, **fields: object) -> str:
    job = {"model": GEN4, "image_url": data_uri(make_image()), **fields}
    response = client.post("/v2/video/generations", json=job)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def follow(
    client: httpx.Client, gen_id: str, *, last_event_id: str | None = None, stop_after: int = 0
) -> tuple[list[ServerSentEvent], bool]:
    """The events of one connection, and whether the server closed it (rather than the client
    leaving after ``stop_after`` events)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[ServerSentEvent] = []
    with connect_sse(
        client, "GET", f"/v1/generations/{gen_id}/events", headers=headers, timeout=60
    ) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for event in source.iter_sse():
            if not event.data:  # a keep-alive comment (httpx-sse hands it on as an event)
                continue
            events.append(event)
            if stop_after and len(events) == stop_after:
                return events, False
    return events, True


def test_a_queued_job_streams_its_place_its_progress_and_its_end_then_the_stream_closes(
    server: LiveServer,
) -> None:
    with server.client() as client:
        busy = create(client, duration=10)
        wait_for_status(client, busy, final=("generating",))  # it holds the one slot
        create(client)  # waits first in line
        gen_id = create(client)
        events, closed = follow(client, gen_id)
    assert closed
    data = [json.loads(e.data) for e in events]
    assert {d["id"] for d in data} == {gen_id}
    assert events[0].event == "status" and data[0]["status"] == "queued"
    places = [d["queue"]["position"] for d in data if d["status"] == "queued"]
    assert places[0] == 2 and places[-1] == 1  # moved up when the job ahead started
    assert "queue" in [e.event for e in events]
    assert all(d["queue"] is None for d in data if d["status"] != "queued")
    assert events[-1].event == "completed" and data[-1]["status"] == "completed"
    assert all(e.event != "completed" for e in events[:-1])
    statuses = [d["status"] for d in data]
    assert statuses == sorted(statuses, key=["queued", "generating", "completed"].index)
    assert "generating" in statuses
    progress = [d["progress"] for d in data]
    assert progress == sorted(progress) and progress[-1] == 1.0
    counters = [int(e.id.split(":")[0]) for e in events]
    assert counters == list(range(1, len(events) + 1))  # ids grow by one, in order


def test_a_reconnection_with_last_event_id_resumes_without_repeats(server: LiveServer) -> None:
    with server.client() as client:
        busy = create(client, duration=10)
        wait_for_status(client, busy, final=("generating",))  # so the next one starts queued
        gen_id = create(client, duration=10)
        first, closed = follow(client, gen_id, stop_after=1)
        assert not closed and json.loads(first[0].data)["status"] == "queued"
        rest, closed = follow(client, gen_id, last_event_id=first[-1].id)
        assert closed and rest[-1].event == "completed"
        ids = [e.id for e in first + rest]
        assert len(set(ids)) == len(ids)
        counters = [int(i.split(":")[0]) for i in ids]
        assert counters == list(range(1, len(ids) + 1))
        states = [i.split(":", 1)[1] for i in ids]
        assert all(a != b for a, b in itertools.pairwise(states))  # none repeated
        # Resuming from the final event: nothing is left to send; the stream just closes.
        after_end, closed = follow(client, gen_id, last_event_id=rest[-1].id)
        assert closed and after_end == []


def test_an_idle_stream_is_kept_alive_with_comments(server: LiveServer) -> None:
    with (
        server.client() as client,
        client.stream(
            "GET", f"/v1/generations/{create(client, duration=10)}/events", timeout=60
        ) as response,
    ):
        lines = list(response.iter_lines())
    assert any(line.startswith(":") for line in lines), lines[:20]
    assert "event: completed" in lines


def test_another_keys_generation_has_no_event_stream(server: LiveServer) -> None:
    with server.client() as client:
        gen_id = create(client)
    with server.client(OTHER_KEY) as other:
        response = other.get(f"/v1/generations/{gen_id}/events")
        assert response.status_code == 404
        assert other.get("/v1/generations/not-an-id/events").status_code == 404
    assert httpx.get(f"{server.base_url}/v1/generations/{gen_id}/events").status_code == 401


def test_a_queued_aimlapi_generation_shows_its_place_and_an_eta_under_meta_queue(
    server: LiveServer,
) -> None:
    with server.client() as client:

        def poll(gen_id: str) -> dict[str, Any]:
            response = client.get("/v2/video/generations", params={"generation_id": gen_id})
            return dict(response.json())

        first = create(client)
        waiting = create(client)
        assert poll(waiting)["meta"]["queue"]["position"] in (1, 2)
        assert poll(waiting)["meta"]["queue"]["eta_seconds"] is None  # nothing measured yet
        follow(client, waiting)
        assert poll(first)["status"] == poll(waiting)["status"] == "completed"
        assert poll(waiting)["meta"]["queue"] is None
        busy = create(client, duration=10)
        wait_for_status(client, busy, final=("generating",))  # it holds the one slot
        behind = [create(client) for _ in range(2)]
        places = [poll(gen_id)["meta"]["queue"] for gen_id in behind]
        assert [p["position"] for p in places] == [1, 2]
        # Measured now: a later place never reads sooner.
        assert all(isinstance(p["eta_seconds"], int) for p in places)
        assert places[0]["eta_seconds"] <= places[1]["eta_seconds"]


def test_the_stream_and_prefer_wait_follow_a_job_that_another_process_runs(
    tmp_path: Path,
) -> None:
    # An API process with no worker, and a worker process, sharing one SQLite database: every
    # change the stream reports was written by the other process.
    fleet = Fleet(env=fleet_env(tmp_path / "shared"), root=tmp_path)
    api = fleet.add_api()
    worker = fleet.add_worker()
    try:
        api.start()
        api.wait_ready()  # it creates the database the worker opens
        worker.start()
        worker.wait_ready()
        with httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Bearer {TEST_KEY}"}, timeout=90
        ) as client:
            gen_id = create(client)
            events, closed = follow(client, gen_id)
            assert closed and events[-1].event == "completed"
            assert "generating" in [json.loads(e.data)["status"] for e in events]
            waited = client.post(
                "/v2/video/generations",
                json={"model": GEN4, "image_url": data_uri(make_image())},
                headers={"Prefer": "wait=60"},
            )
            assert waited.json()["status"] == "completed", waited.text
    finally:
        fleet.stop_all()

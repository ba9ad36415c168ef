"""``wait`` and ``generate``: paced polling, progress reports, riding out trouble, and the
three ways a wait ends (completed, failed, timed out)."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.client.conftest import FakeClock, ScriptedServer, completed, failure, poll
from vidgen.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    Generation,
    GenerationFailed,
    NotFound,
    PollPolicy,
    Timeout,
)


def created() -> httpx.Response:
    return httpx.Response(200, json={"id": "gen-1", "status": "queued"})


def test_polls_start_at_half_a_second_and_grow_to_the_cap(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", *(poll("queued") for _ in range(5)), completed())
    client.generations.wait("gen-1")
    assert clock.sleeps == [0.5, 1.0, 2.0, 2.0, 2.0]  # factor 2, cap 2 in this client


def test_the_default_poll_policy_grows_from_half_a_second_to_five() -> None:
    assert PollPolicy().intervals(8) == pytest.approx(
        [0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875, 5.0, 5.0]
    )


def test_progress_is_reported_once_per_change_including_the_final_state(
    client: Client, server: ScriptedServer
) -> None:
    server.script(
        "GET",
        poll("queued"),
        poll("queued"),
        poll("generating", progress=0.0),
        poll("generating", progress=0.4),
        poll("generating", progress=0.4),
        poll("generating", progress=0.9),
        completed(),
    )
    seen: list[Generation] = []
    done = client.generations.wait("gen-1", on_progress=seen.append)
    assert [(g.status, g.progress) for g in seen] == [
        ("queued", None),
        ("generating", 0.0),
        ("generating", 0.4),
        ("generating", 0.9),
        ("completed", 1.0),
    ]
    assert seen[-1] == done and done.video is not None


def test_waiting_is_a_running_status_as_in_aimlapis_sample(
    client: Client, server: ScriptedServer
) -> None:
    server.script("GET", poll("waiting"), poll("generating"), completed())
    assert client.generations.wait("gen-1").succeeded


def test_transient_failures_do_not_end_a_wait_nor_lose_its_place(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("POST", created())
    server.script(
        "GET",
        poll("generating", progress=0.2),
        failure(429, headers={"Retry-After": "3"}),
        failure(503),
        httpx.ConnectError("restarting"),
        failure(502),
        httpx.ReadTimeout("slow"),
        poll("generating", progress=0.7),
        completed(),
    )
    done = client.generations.generate(image="https://example.com/a.png")
    assert done.succeeded
    assert len(server.sent("POST")) == 1  # one create: the wait went on polling the same id
    assert {r.url.params["generation_id"] for r in server.sent("GET")} == {"gen-1"}
    # 0.5 s poll, 3 s asked by Retry-After, then the error backoff doubling per failure in a row,
    # then polling resumes at the next poll interval.
    assert clock.sleeps == [0.5, 3.0, 1.0, 2.0, 4.0, 4.0, 1.0]


def test_a_retry_after_on_an_answer_slows_polling_down_to_what_the_server_asks(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    slow = httpx.Response(
        200, json={"id": "gen-1", "status": "queued"}, headers={"Retry-After": "6"}
    )
    server.script("GET", slow, completed())
    client.generations.wait("gen-1")
    assert clock.sleeps == [6.0]


def test_a_failed_generation_raises_with_its_error_name_and_message(
    client: Client, server: ScriptedServer
) -> None:
    server.script(
        "GET",
        poll("generating"),
        poll("error", error={"name": "SafetyRejected", "message": "the image was refused"}),
    )
    with pytest.raises(GenerationFailed) as caught:
        client.generations.wait("gen-1")
    assert caught.value.name == "SafetyRejected"
    assert caught.value.message == "the image was refused"
    assert caught.value.generation.status == "error"
    assert "SafetyRejected" in str(caught.value)


def test_an_error_status_without_details_still_fails_the_wait(
    client: Client, server: ScriptedServer
) -> None:
    server.script("GET", poll("error"))
    with pytest.raises(GenerationFailed, match="status 'error'"):
        client.generations.wait("gen-1")


def test_a_wait_that_runs_out_raises_timeout_after_a_last_poll_at_the_deadline(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    start = clock.now
    server.script("GET", *(poll("queued") for _ in range(6)))
    with pytest.raises(Timeout) as caught:
        client.generations.wait("gen-1", timeout=4.0)
    assert clock.now - start == pytest.approx(4.0)
    assert clock.sleeps == [0.5, 1.0, 2.0, 0.5]  # the last sleep stops at the deadline
    assert len(server.sent()) == 5
    assert caught.value.generation is not None and caught.value.generation.status == "queued"
    assert caught.value.generation_id == "gen-1"
    assert isinstance(caught.value, TimeoutError)


def test_a_wait_timeout_also_bounds_riding_out_a_dead_server(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", *(httpx.ConnectError("down") for _ in range(10)))
    with pytest.raises(Timeout) as caught:
        client.generations.wait("gen-1", timeout=5.0)
    assert caught.value.generation is None
    assert sum(clock.sleeps) == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("answer", "error"), [(failure(404), NotFound), (failure(401), AuthenticationError)]
)
def test_errors_that_waiting_cannot_fix_end_the_wait_at_once(
    client: Client,
    server: ScriptedServer,
    clock: FakeClock,
    answer: httpx.Response,
    error: type[Exception],
) -> None:
    server.script("GET", poll("queued"), answer)
    with pytest.raises(error):
        client.generations.wait("gen-1")
    assert clock.sleeps == [0.5]


async def test_the_async_client_waits_the_same_way_and_awaits_an_async_callback(
    async_client: AsyncClient, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("POST", created())
    server.script(
        "GET",
        poll("queued"),
        failure(429, headers={"Retry-After": "2"}),
        poll("generating", progress=0.5),
        completed(),
    )
    seen: list[str] = []

    async def on_progress(generation: Generation) -> None:
        seen.append(generation.status)

    async with async_client:
        done = await async_client.generations.generate(
            image="https://example.com/a.png", on_progress=on_progress
        )
    assert done.succeeded
    assert seen == ["queued", "generating", "completed"]
    assert clock.sleeps == [0.5, 2.0, 1.0]


async def test_an_async_wait_raises_generation_failed_and_timeout(
    async_client: AsyncClient, server: ScriptedServer
) -> None:
    server.script("GET", poll("error", error={"name": "Cancelled", "message": "by you"}))
    server.script("GET", *(poll("queued") for _ in range(3)))
    async with async_client:
        with pytest.raises(GenerationFailed) as caught:
            await async_client.generations.wait("gen-1")
        assert caught.value.name == "Cancelled"
        with pytest.raises(Timeout):
            await async_client.generations.wait("gen-1", timeout=1.0)

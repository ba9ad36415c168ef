"""One request, retried or not: 429 with Retry-After, 5xx with backoff, connection errors, and
a create that is never retried where it may already have been stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from tests.unit.client.conftest import FakeClock, ScriptedServer, completed, failure, poll
from vidgen.client import (
    APIConnectionError,
    Client,
    RateLimited,
    RetryPolicy,
    ServerError,
)


def test_a_429_is_retried_after_exactly_the_retry_after_the_server_asks_for(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", failure(429, headers={"Retry-After": "7"}), completed())
    assert client.generations.get("gen-1").succeeded
    assert clock.sleeps == [7.0]
    assert len(server.sent("GET")) == 2


def test_a_retry_after_given_as_an_http_date_is_honoured(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.script("GET", failure(503, headers={"Retry-After": later}), completed())
    client.generations.get("gen-1")
    assert 28 <= clock.sleeps[0] <= 30


def test_5xx_answers_are_retried_with_doubling_backoff_then_raised(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", *(failure(503, "down for a moment") for _ in range(4)))
    with pytest.raises(ServerError) as caught:
        client.generations.get("gen-1")
    assert caught.value.status_code == 503
    assert caught.value.message == "down for a moment"
    assert clock.sleeps == [0.5, 1.0, 2.0]  # max_retries=3: four tries in all
    assert len(server.sent()) == 4


def test_backoff_is_capped_and_jittered_between_half_and_all_of_the_delay() -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=4.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 4.0)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


def test_connection_errors_on_a_read_are_retried(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", httpx.ConnectError("refused"), httpx.ReadError("reset"), completed())
    assert client.generations.get("gen-1").id == "gen-1"
    assert clock.sleeps == [0.5, 1.0]


def test_a_server_that_never_answers_raises_a_connection_error_after_the_retries(
    client: Client, server: ScriptedServer
) -> None:
    server.script("GET", *(httpx.ConnectError("refused") for _ in range(4)))
    with pytest.raises(APIConnectionError, match="refused"):
        client.generations.get("gen-1")
    assert len(server.sent()) == 4


def test_a_retry_after_longer_than_the_policy_allows_is_raised_at_once_with_its_hint(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", failure(429, "slow down", headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as caught:
        client.generations.get("gen-1")
    assert caught.value.retry_after == 3600
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "first",
    [
        failure(429, headers={"Retry-After": "2"}),
        failure(503),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no answer to SYN"),
    ],
    ids=["429", "503", "refused", "connect-timeout"],
)
def test_a_create_is_retried_when_the_server_cannot_have_stored_it(
    client: Client, server: ScriptedServer, first: httpx.Response | Exception
) -> None:
    server.script("POST", first, httpx.Response(200, json={"id": "gen-1", "status": "queued"}))
    created = client.generations.create(image="https://example.com/a.png")
    assert (created.id, created.status) == ("gen-1", "queued")
    assert len(server.sent("POST")) == 2


AMBIGUOUS_FAILURES = pytest.mark.parametrize(
    ("first", "error"),
    [
        (failure(500), ServerError),
        (failure(502), ServerError),
        (failure(504), ServerError),
        (httpx.ReadError("reset after sending"), APIConnectionError),
        (httpx.ReadTimeout("no answer"), APIConnectionError),
    ],
    ids=["500", "502", "504", "read-error", "read-timeout"],
)


@AMBIGUOUS_FAILURES
def test_a_create_that_may_have_landed_is_retried_under_one_idempotency_key(
    client: Client,
    server: ScriptedServer,
    first: httpx.Response | Exception,
    error: type[Exception],
) -> None:
    server.script("POST", first, httpx.Response(200, json={"id": "gen-1", "status": "queued"}))
    assert client.generations.create(image="https://example.com/a.png").id == "gen-1"
    keys = [r.headers.get("Idempotency-Key") for r in server.sent("POST")]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]


def test_each_create_call_has_its_own_idempotency_key_unless_one_is_given(
    client: Client, server: ScriptedServer
) -> None:
    created = httpx.Response(200, json={"id": "gen-1", "status": "queued"})
    server.script("POST", created, created, created)
    client.generations.create(image="https://example.com/a.png")
    client.generations.create(image="https://example.com/a.png")
    client.generations.create(image="https://example.com/a.png", idempotency_key="order-7")
    keys = [r.headers["Idempotency-Key"] for r in server.sent("POST")]
    assert keys[0] != keys[1] and keys[2] == "order-7"


@AMBIGUOUS_FAILURES
def test_on_a_gateway_without_idempotency_a_create_that_may_have_landed_is_not_retried(
    server: ScriptedServer,
    clock: FakeClock,
    first: httpx.Response | Exception,
    error: type[Exception],
) -> None:
    server.script("POST", first)
    with (
        Client(
            "k",
            base_url="https://api.aimlapi.com",
            transport=httpx.MockTransport(server.handle),
            retry=RetryPolicy(jitter=False),
            clock=clock,
        ) as gateway,
        pytest.raises(error),
    ):
        gateway.generations.create(image="https://example.com/a.png")
    sent = server.sent("POST")
    assert len(sent) == 1 and "Idempotency-Key" not in sent[0].headers


def test_cancel_and_list_are_retried_like_reads(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script(
        "DELETE", failure(502), poll("error", error={"name": "Cancelled", "message": "x"})
    )
    server.script("GET", httpx.ReadError("reset"), httpx.Response(200, json={"data": []}))
    assert client.generations.cancel("gen-1").error is not None
    assert client.generations.list().data == []
    assert clock.sleeps == [0.5, 0.5]

"""Idempotency-Key: a retried create never makes a second job or a second charge."""

from __future__ import annotations

import contextlib
import random
import threading
import time

import httpx
import pytest

from tests.conftest import LiveServer, data_uri, make_image, wait_for_status
from tests.e2e.test_aimlapi import vidgen_cli

pytestmark = pytest.mark.slow
GEN4 = "runway/gen4_turbo"


def limited_key(server: LiveServer, credits: int) -> str:
    created = vidgen_cli(
        server, "keys", "create", "--name", f"k{random.random()}", "--credits", str(credits)
    )
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def balance(server: LiveServer, key: str) -> int:
    with server.client(key) as client:
        return int(client.get("/v1/account").json()["credits"])


def test_the_same_key_and_body_replay_the_first_generation_without_charging(
    live_server: LiveServer,
) -> None:
    key = limited_key(live_server, 100)
    body = {"model": GEN4, "image_url": data_uri(make_image()), "seed": 7}
    with live_server.client(key) as client:
        first = client.post(
            "/v2/video/generations", json=body, headers={"Idempotency-Key": "order-1"}
        )
        again = client.post(
            "/v2/video/generations", json=body, headers={"Idempotency-Key": "order-1"}
        )
        assert first.status_code == again.status_code == 200
        assert first.json()["id"] == again.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        # Same key, different request: refused, and says why.
        other = client.post(
            "/v2/video/generations",
            json={**body, "seed": 8},
            headers={"Idempotency-Key": "order-1"},
        )
        assert other.status_code == 409
        assert "different request" in other.json()["message"]
        # Without a key (or with another one) it is a new generation.
        fresh = client.post(
            "/v2/video/generations", json=body, headers={"Idempotency-Key": "order-2"}
        )
        assert fresh.json()["id"] != first.json()["id"]
    assert balance(live_server, key) == 100 - 2 * 8


def test_a_replay_after_the_server_was_killed_mid_request_makes_at_most_one_job(
    live_server_factory: object,
) -> None:
    server: LiveServer = live_server_factory()  # type: ignore[operator]
    server.start()
    key = limited_key(server, 1000)
    body = {"model": GEN4, "image_url": data_uri(make_image(1280, 720))}
    rounds = 4
    for attempt in range(rounds):
        idempotency = {"Idempotency-Key": f"crash-{attempt}"}

        def post(headers: dict[str, str]) -> None:
            # The server is killed under this request: exactly the case being tested.
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(
                    f"{server.base_url}/v2/video/generations",
                    json=body,
                    timeout=10,
                    headers=headers,
                )

        sender = threading.Thread(
            target=post, args=({**idempotency, "Authorization": f"Bearer {key}"},)
        )
        sender.start()
        time.sleep(random.uniform(0.0, 0.15))
        server.kill()
        sender.join()
        server.start()
        with server.client(key) as client:
            retry = client.post("/v2/video/generations", json=body, headers=idempotency)
            assert retry.status_code == 200, retry.text
    with server.client(key) as client:
        listed = client.get("/v2/video/generations", params={"limit": 100}).json()["data"]
        assert len(listed) == rounds  # one generation per Idempotency-Key, never two
        finals = [wait_for_status(client, g["id"], timeout=120) for g in listed]
    # Each generation was charged once. A job that was running at several of the kills may have
    # used up its attempts (a SIGKILL counts as one) and ended in error, refunded.
    completed = sum(1 for f in finals if f["status"] == "completed")
    assert balance(server, key) == 1000 - completed * 8

"""Webhooks end to end: signed, durable across a crash, retried until the receiver takes them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.conftest import LiveServer, data_uri, make_image, wait_for_status
from vidgen.webhooks.signing import verify

pytestmark = pytest.mark.slow
GEN4 = "runway/gen4_turbo"


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    calls: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[tuple[dict[str, str], dict[str, object]]]:
        with self.lock:
            return [(h, json.loads(b)) for h, b, status in self.calls if status == 200]

    def events(self) -> dict[str, dict[str, object]]:
        """Accepted events, deduplicated by event id (as a receiver must)."""
        return {body["id"]: body for _, body in self.accepted()}  # type: ignore[misc]

    def in_order(self) -> list[dict[str, object]]:
        return sorted(self.events().values(), key=lambda e: str(e["created_at"]))

    def wait_for(self, count: int, timeout: float = 60) -> dict[str, dict[str, object]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if len(events) >= count:
                return events
            time.sleep(0.1)
        raise AssertionError(f"expected {count} events, got {self.events()}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with state.lock:
                status = 500 if len(state.calls) < state.fail_first else 200
                state.calls.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def test_final_events_survive_failures_and_a_crash_and_arrive_signed_once_each(
    live_server_factory: object, receiver: Receiver
) -> None:
    receiver.fail_first = 4
    server: LiveServer = live_server_factory()  # type: ignore[operator]
    server.start()
    with server.client() as client:
        secret = client.get("/v1/account").json()["webhook_secret"]
        job = {"model": GEN4, "image_url": data_uri(make_image()), "webhook_url": receiver.url}
        done = [client.post("/v2/video/generations", json=job).json()["id"] for _ in range(2)]
        slow = {**job, "duration": 10}
        busy = [client.post("/v2/video/generations", json=slow).json()["id"] for _ in range(2)]
        cancelled = client.post("/v2/video/generations", json=job).json()["id"]
        assert (
            client.delete("/v2/video/generations", params={"generation_id": cancelled}).json()[
                "error"
            ]["name"]
            == "Cancelled"
        )
        for gen_id in done + busy:
            wait_for_status(client, gen_id)
    # The receiver refused the first deliveries; their retries are scheduled in the database.
    assert len(receiver.events()) < 5
    server.kill()
    server.start()
    events = receiver.wait_for(5, timeout=90)
    by_generation = {e["generation"]["id"]: e for e in events.values()}  # type: ignore[index]
    assert set(by_generation) == set(done + busy + [cancelled])
    assert len(events) == 5  # one final event per generation, however often it was retried
    for gen_id in done + busy:
        event = by_generation[gen_id]
        assert event["type"] == "generation.completed"
        assert event["generation"]["status"] == "completed"  # type: ignore[index]
        assert "?_jwt=" in event["generation"]["video"]["url"]  # type: ignore[index]
    assert by_generation[cancelled]["type"] == "generation.cancelled"
    for headers, body in receiver.accepted():
        raw = json.dumps(body, separators=(",", ":")).encode()
        assert verify(secret, raw, headers["x-webhook-signature"])
        assert headers["x-webhook-id"] == body["id"]
        assert not verify("whsec_wrong", raw, headers["x-webhook-signature"])


def test_deliveries_verify_with_the_standardwebhooks_library_for_the_events_each_create_chose(
    live_server: LiveServer, receiver: Receiver
) -> None:
    with live_server.client() as client:
        secret = client.get("/v1/account").json()["webhook_secret"]
        aiml = client.post(
            "/v2/video/generations",
            json={
                "model": GEN4,
                "image_url": data_uri(make_image()),
                "webhook_url": receiver.url,
                "webhook_events": ["started", "completed"],
            },
        ).json()["id"]
        frame = client.post(
            "/v2/videos/generate",
            json={
                "model": "runway-gen4-turbo",
                "runwayParams": {"image": data_uri(make_image())},
                "webhookUrl": receiver.url,
                "webhookEvents": ["completed"],
            },
        ).json()["jobId"]
        for gen_id in (aiml, frame):
            wait_for_status(client, gen_id)
    receiver.wait_for(3)
    with receiver.lock:
        raw_calls = [(h, b) for h, b, status in receiver.calls if status == 200]
    hook = Webhook(secret)
    seen: dict[str, list[str]] = {}
    for headers, raw in raw_calls:
        body = hook.verify(raw, headers)  # raises unless the signature is right
        assert headers["webhook-id"] == body["id"] == headers["x-webhook-id"]
        assert verify(secret, raw, headers["x-webhook-signature"])  # the older form, kept
        seen.setdefault(body["generation"]["id"], []).append(body["type"])
        with pytest.raises(WebhookVerificationError):
            hook.verify(raw.replace(b"generation", b"Generation", 1), headers)
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "ab" * 32).verify(raw, headers)
    assert sorted(seen[aiml]) == ["generation.completed", "generation.started"]
    assert seen[frame] == ["generation.completed"]


def test_an_unknown_event_name_or_an_empty_list_is_refused_naming_the_field_of_each_dialect(
    live_server: LiveServer, receiver: Receiver
) -> None:
    # An empty list asks for no event at all, which a webhook URL cannot mean: refused, not
    # taken as the default (the default is what leaving the field out gives).
    for events in (["finished"], []):
        with live_server.client() as client:
            aiml = client.post(
                "/v2/video/generations",
                json={
                    "model": GEN4,
                    "image_url": data_uri(make_image()),
                    "webhook_url": receiver.url,
                    "webhook_events": events,
                },
            )
            frame = client.post(
                "/v2/videos/generate",
                json={
                    "model": "runway-gen4-turbo",
                    "runwayParams": {"image": data_uri(make_image())},
                    "webhookUrl": receiver.url,
                    "webhookEvents": events,
                },
            )
        assert aiml.status_code == 400 and "webhook_events" in aiml.text, aiml.text
        assert frame.status_code == 400, frame.text
        assert "webhookEvents" in frame.json()["details"], frame.text


def generate_to_the_end(
    server: LiveServer, receiver: Receiver, events: list[str], **fields: object
) -> None:
    """One generation that reports ``events`` to the receiver, waited for until it ends."""
    job = {"model": GEN4, "image_url": data_uri(make_image()), **fields}
    job |= {"webhook_url": receiver.url, "webhook_events": events}
    with server.client() as client:
        wait_for_status(client, client.post("/v2/video/generations", json=job).json()["id"])


def test_progress_events_are_throttled_and_come_in_order(
    live_server: LiveServer, receiver: Receiver
) -> None:
    generate_to_the_end(live_server, receiver, ["started", "progress", "completed"], duration=10)
    receiver.wait_for(2)
    time.sleep(1.5)  # let any progress event still queued arrive
    ordered = receiver.in_order()
    types = [e["type"] for e in ordered]
    assert types[0] == "generation.started" and types[-1] == "generation.completed"
    progress = [e["generation"]["progress"] for e in ordered if e["type"] == "generation.progress"]  # type: ignore[index]
    assert progress == sorted(progress)
    assert len(progress) <= 5  # throttled: at most one per 2 s and per 10 %


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("ftp://example.com/hook", "https"),
        ("not a url", "URL"),
    ],
)
def test_a_webhook_url_the_server_may_not_call_is_refused_at_submit(
    live_server: LiveServer, url: str, words: str
) -> None:
    with live_server.client() as client:
        response = client.post(
            "/v2/video/generations",
            json={"model": GEN4, "image_url": data_uri(make_image()), "webhook_url": url},
        )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e["field"] == "webhook_url" and words in e["message"] for e in errors), errors

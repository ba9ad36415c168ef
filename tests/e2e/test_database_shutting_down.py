"""PostgreSQL refusing connections while it shuts down (or starts up): asyncpg raises
``CannotConnectNowError``, which SQLAlchemy wraps in a plain ``DBAPIError``. Every route that
needs the database answers 503 with Retry-After in its dialect's shape, as for a database that
is down, and serves again once it is back: the four dialects' routes, the admin and usage
routes, the event stream, Runway's uploads and organization, and the providers' webhooks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_KEY, LiveServer, data_uri, make_image, make_video
from tests.fakes.fal_server import FakeFal
from tests.servers import PostgresCluster
from vidgen.core.provider_hooks import hook_token

pytestmark = pytest.mark.slow

ADMIN = "vg_shutdown_admin_" + "a" * 32
SECRET = "a signing secret for the providers' hook tokens"
IMAGE = data_uri(make_image(64, 36))
VIDEO = data_uri(make_video(frames=24, fps=8), "video/mp4")  # act_two takes 3 s or more

#: (method, path, JSON body): ``{id}`` is a generation's id, ``{key_id}`` a key's id and
#: ``{token}`` the generation's fal hook token. The /v1/admin routes are asked with an admin key.
ROUTES: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/v2/video/generations?generation_id={id}", None),
    ("GET", "/v2/video/generations", None),
    ("DELETE", "/v2/video/generations?generation_id={id}", None),
    ("POST", "/v2/video/generations", {"model": "runway/gen4_turbo", "image_url": IMAGE}),
    ("GET", "/v2/jobs/{id}", None),
    ("GET", "/v2/jobs", None),
    ("POST", "/v2/jobs/{id}/cancel", None),
    (
        "POST",
        "/v2/videos/generate",
        {"model": "runway-gen4-turbo", "runwayParams": {"image": IMAGE}},
    ),
    ("GET", "/v1/tasks/{id}", None),
    ("DELETE", "/v1/tasks/{id}", None),
    (
        "POST",
        "/v1/image_to_video",
        {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720"},
    ),
    ("POST", "/v1/text_to_video", {"model": "gen4.5", "promptText": "p", "ratio": "1280:720"}),
    ("POST", "/v1/video_to_video", {"model": "aleph2", "videoUri": VIDEO, "promptText": "p"}),
    (
        "POST",
        "/v1/character_performance",
        {
            "model": "act_two",
            "character": {"type": "image", "uri": IMAGE},
            "reference": {"type": "video", "uri": VIDEO},
        },
    ),
    (
        "POST",
        "/v1/video_upscale",
        {"model": "magnific_video_upscaler_creative", "videoUri": VIDEO},
    ),
    ("POST", "/v1/uploads", {"filename": "a.png", "type": "ephemeral"}),
    ("GET", "/v1/organization", None),
    ("POST", "/v1/organization/usage", {}),
    ("GET", "/v1/videos/{id}", None),
    ("GET", "/v1/videos", None),
    ("DELETE", "/v1/videos/{id}", None),
    ("POST", "/v1/videos", {"prompt": "p"}),
    ("GET", "/v1/generations/{id}/events", None),
    ("GET", "/v1/account", None),
    ("GET", "/v1/usage", None),
    ("POST", "/v1/admin/keys", {"name": "another"}),
    ("GET", "/v1/admin/keys", None),
    ("GET", "/v1/admin/keys/{key_id}", None),
    ("PATCH", "/v1/admin/keys/{key_id}", {"priority": 1}),
    ("POST", "/v1/admin/keys/{key_id}/credits", {"amount": 1, "reason": "r"}),
    ("DELETE", "/v1/admin/keys/{key_id}", None),
    ("POST", "/hooks/fal/{id}?token={token}", {"status": "OK"}),
]


@pytest.fixture
def fal() -> Iterator[FakeFal]:
    """Only for its key set: a hook must carry fal's signature to reach the database."""
    fake = FakeFal().start()
    yield fake
    fake.stop()


@pytest.fixture
def server(
    live_server_factory: object, pg_cluster: PostgresCluster, fal: FakeFal
) -> Iterator[LiveServer]:
    live: LiveServer = live_server_factory(  # type: ignore[operator]
        VIDGEN_DATABASE_URL=pg_cluster.create_database(),
        VIDGEN_RUN_WORKER="false",
        VIDGEN_ADMIN_KEYS=ADMIN,
        VIDGEN_SIGNING_SECRET=SECRET,
        FAL_KEY="a fal key: the hooks route is served only for providers that are set up",
        VIDGEN_FAL_WEBHOOK_JWKS_URL=fal.jwks_url,
    )
    live.env["VIDGEN_PUBLIC_URL"] = live.base_url  # without it no hook is received
    live.start()
    yield live
    live.stop()


class HeldSession:
    """A session of the test's own, opened before PostgreSQL is asked to stop: a smart
    shutdown waits for it, and it can still end the server's other sessions."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self.loop = asyncio.new_event_loop()
        url = cluster.url("postgres").replace("+asyncpg", "")
        self.conn: asyncpg.Connection = self.loop.run_until_complete(asyncpg.connect(url))

    def end_other_sessions(self) -> None:
        self.loop.run_until_complete(
            self.conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        )

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


def test_every_route_answers_503_while_postgresql_refuses_connections(
    server: LiveServer, pg_cluster: PostgresCluster, fal: FakeFal
) -> None:
    with server.client() as client:
        created = client.post(
            "/v2/video/generations",
            json={"model": "runway/gen4_turbo", "prompt": "p", "image_url": IMAGE},
        )
        assert created.status_code == 200, created.text
        job_id = created.json()["id"]
        token = hook_token(SECRET, "fal", job_id)
        # A genuine hook, which reaches the database (it wakes the job's poll).
        hook = client.post(
            f"/hooks/fal/{job_id}",
            params={"token": token},
            content=b"{}",
            headers=fal.hook_headers("fal-request", b"{}"),
        )
        assert hook.status_code == 204, hook.text
    with server.client(ADMIN) as client:
        made = client.post("/v1/admin/keys", json={"name": "limited", "credits": 5})
        assert made.status_code == 201, made.text
        key_id = made.json()["id"]
    held = HeldSession(pg_cluster)
    # From now on new connections are refused (57P03); then the server's pooled connections
    # go, so that each request must open a new one.
    pg_cluster.begin_stop("smart")
    held.end_other_sessions()
    try:
        time.sleep(2.5)  # past the key cache, so authentication needs the database too
        with httpx.Client(
            base_url=server.base_url, headers={"X-Runway-Version": "2024-11-06"}, timeout=30
        ) as client:
            for method, template, body in ROUTES * 2:  # twice: a broken pool, then refusals
                key = ADMIN if template.startswith("/v1/admin/") else TEST_KEY
                headers = {"Authorization": f"Bearer {key}"}
                raw = None if body is None else json.dumps(body).encode()
                if template.startswith("/hooks/fal/"):  # signed, so that it gets that far
                    headers |= fal.hook_headers("fal-request", raw or b"")
                response = client.request(
                    method,
                    template.format(id=job_id, key_id=key_id, token=token),
                    content=raw,
                    headers={"Content-Type": "application/json", **headers},
                )
                assert response.status_code == 503, (method, template, response.text)
                assert response.headers["retry-after"] == "1"
            # A route that needs no database keeps answering.
            assert client.get("/models").status_code == 200
    finally:
        held.close()  # the last session: the smart shutdown completes
        pg_cluster.stop("smart")  # waits until it has
        pg_cluster.start()
    with server.client() as client:
        deadline = time.monotonic() + 30
        while True:
            poll = client.get("/v2/video/generations", params={"generation_id": job_id})
            if poll.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert poll.status_code == 200 and poll.json()["status"] == "queued"
    # An outage is logged as one line per request, not a traceback each.
    assert "Traceback" not in server.output()

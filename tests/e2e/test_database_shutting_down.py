"""PostgreSQL refusing connections while it shuts down (or starts up): asyncpg raises
``CannotConnectNowError``, which SQLAlchemy wraps in a plain ``DBAPIError``. Every route that
needs the database answers 503 with Retry-After in its dialect's shape, as for a database that
is down, and serves again once it is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.conftest import TEST_KEY, LiveServer, data_uri, make_image
from tests.servers import PostgresCluster

pytestmark = pytest.mark.slow

ROUTES = [
    ("GET", "/v2/video/generations?generation_id={id}", None),
    ("GET", "/v2/video/generations", None),
    ("DELETE", "/v2/video/generations?generation_id={id}", None),
    ("GET", "/v2/jobs/{id}", None),
    ("GET", "/v1/tasks/{id}", None),
    ("GET", "/v1/videos/{id}", None),
    ("GET", "/v1/videos", None),
    ("GET", "/v1/account", None),
    ("POST", "/v2/video/generations", "create"),
]


@pytest.fixture
def server(live_server_factory: object, pg_cluster: PostgresCluster) -> Iterator[LiveServer]:
    live: LiveServer = live_server_factory(  # type: ignore[operator]
        VIDGEN_DATABASE_URL=pg_cluster.create_database(), VIDGEN_RUN_WORKER="false"
    )
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
    server: LiveServer, pg_cluster: PostgresCluster
) -> None:
    with server.client() as client:
        created = client.post(
            "/v2/video/generations",
            json={
                "model": "runway/gen4_turbo",
                "prompt": "p",
                "image_url": data_uri(make_image(64, 36)),
            },
        )
        assert created.status_code == 200, created.text
        job_id = created.json()["id"]
    held = HeldSession(pg_cluster)
    # From now on new connections are refused (57P03); then the server's pooled connections
    # go, so that each request must open a new one.
    pg_cluster.begin_stop("smart")
    held.end_other_sessions()
    try:
        time.sleep(2.5)  # past the key cache, so authentication needs the database too
        with httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {TEST_KEY}", "X-Runway-Version": "2024-11-06"},
            timeout=30,
        ) as client:
            for method, template, kind in ROUTES * 2:  # twice: a broken pool, then refusals
                body = (
                    {"model": "runway/gen4_turbo", "image_url": data_uri(make_image(64, 36))}
                    if kind == "create"
                    else None
                )
                response = client.request(method, template.format(id=job_id), json=body)
                assert response.status_code == 503, (template, response.text)
                assert response.headers["retry-after"] == "1"
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

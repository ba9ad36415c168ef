"""Outages and stops, with real processes on PostgreSQL and an S3 server on loopback: the bucket or
the database goes away for longer than a lease while jobs run, and workers and servers are
stopped with SIGTERM/SIGINT while they hold jobs. No job is failed or lost by any of it."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_KEY, data_uri, make_image
from tests.e2e.fleet import Fleet, Process, fleet_env
from tests.servers import PostgresCluster, S3Server

pytestmark = pytest.mark.slow
LEASE_SECONDS = 3.0
OUTAGE_SECONDS = 5.0  # longer than a lease: the heartbeat must hold the jobs through it


@pytest.fixture
def fleet(tmp_path: Path, pg_cluster: PostgresCluster, s3_server: S3Server) -> Iterator[Fleet]:
    bucket = s3_server.create_bucket()
    env = fleet_env(
        tmp_path / "data",
        VIDGEN_DATABASE_URL=pg_cluster.create_database(),
        VIDGEN_STORAGE_URL=f"s3://{bucket}",
        VIDGEN_ROUTES="runway/gen4_turbo=noop,gen3a_turbo=noop",
        VIDGEN_LEASE_SECONDS=str(LEASE_SECONDS),
        VIDGEN_POLL_INTERVAL="0.5",
        VIDGEN_WORKER_CONCURRENCY="4",
        VIDGEN_SHUTDOWN_GRACE_SECONDS="1",
        **s3_server.env(),
    )
    deployment = Fleet(env=env, root=tmp_path)
    try:
        yield deployment
    finally:
        deployment.stop_all()


def post_jobs(api: Process, count: int, prompt: str) -> list[str]:
    body = {
        "model": "runway/gen4_turbo",
        "prompt": prompt,
        "image_url": data_uri(make_image(64, 36)),
    }
    with httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {TEST_KEY}"}) as c:
        return [
            c.post("/v2/video/generations", json=body, timeout=60).json()["id"]
            for _ in range(count)
        ]


def statuses(api: Process, ids: list[str]) -> dict[str, dict[str, object]]:
    with httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {TEST_KEY}"}) as c:
        return {
            i: c.get("/v2/video/generations", params={"generation_id": i}, timeout=30).json()
            for i in ids
        }


def wait_for(
    api: Process, ids: list[str], wanted: set[str], timeout: float = 120
) -> dict[str, dict[str, object]]:
    deadline = time.monotonic() + timeout
    seen: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline:
        try:
            seen = statuses(api, ids)
        except (httpx.HTTPError, ValueError):
            seen = {}
        if seen and all(body.get("status") in wanted for body in seen.values()):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"not all {wanted}: {[b.get('status') for b in seen.values()]}")


def test_jobs_wait_out_a_bucket_outage_longer_than_their_lease_and_complete_once(
    fleet: Fleet, s3_server: S3Server
) -> None:
    api, worker = fleet.add_api(), fleet.add_worker()
    fleet.start_all()
    ids = post_jobs(api, 4, "sleep=1.5 hold the slot")
    wait_for(api, ids, {"generating"})
    s3_server.stop()
    try:
        ready = httpx.get(f"{api.base_url}/ready", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["storage"] == "unavailable"
        time.sleep(OUTAGE_SECONDS)
        # Still held by their worker: the engine is done, the upload is being retried.
        assert {b["status"] for b in statuses(api, ids).values()} == {"generating"}
    finally:
        s3_server.start()
    done = wait_for(api, ids, {"completed", "error"}, timeout=60)
    assert {b["status"] for b in done.values()} == {"completed"}
    assert httpx.get(f"{api.base_url}/ready", timeout=30).status_code == 200
    log = worker.output()
    assert "store the video failed; retrying" in log and "lease lost" not in log
    # Each job ran once: no attempt was given up and rerun because of the outage.
    assert log.count('"msg": "job started"') == len(ids)


def test_jobs_survive_a_database_restart(fleet: Fleet, pg_cluster: PostgresCluster) -> None:
    api, worker = fleet.add_api(), fleet.add_worker()
    fleet.start_all()
    ids = post_jobs(api, 4, "sleep=2 hold the slot")
    wait_for(api, ids, {"generating"})
    pg_cluster.stop()
    try:
        # Meanwhile the API says so, in its dialect's shape: 503 with Retry-After, not a 500,
        # both while its pooled connections break and once it can open no new one.
        for pause in (0.0, OUTAGE_SECONDS / 2):
            time.sleep(pause)
            poll = httpx.get(
                f"{api.base_url}/v2/video/generations",
                params={"generation_id": ids[0]},
                headers={"Authorization": f"Bearer {TEST_KEY}"},
                timeout=30,
            )
            assert poll.status_code == 503, poll.text
            assert poll.headers["retry-after"] == "1"
            assert "database" in poll.json()["message"]
        time.sleep(OUTAGE_SECONDS / 2)
    finally:
        pg_cluster.start()
    done = wait_for(api, ids, {"completed", "error"}, timeout=90)
    assert {b["status"] for b in done.values()} == {"completed"}, worker.output()[-3000:]
    # The worker lived through it, and is still claiming (its LISTEN connection came back).
    assert worker.running
    more = post_jobs(api, 2, "after the restart")
    assert {b["status"] for b in wait_for(api, more, {"completed"}).values()} == {"completed"}


def test_a_stopped_worker_hands_its_running_job_back_and_another_one_finishes_it(
    fleet: Fleet,
) -> None:
    api, first = fleet.add_api(), fleet.add_worker()
    fleet.start_all()
    (long_job,) = post_jobs(api, 1, "sleep=8 a long one")
    wait_for(api, [long_job], {"generating"})
    assert first.terminate(timeout=30) == 0
    # The grace is 1 s and the job holds for 8: the worker handed it back instead of waiting
    # for it, so it is back in the queue at once (not after a lease), not completed.
    log = first.output()
    assert "job released" in log and "job completed" not in log
    assert statuses(api, [long_job])[long_job]["status"] == "queued"
    second = fleet.add_worker()
    second.start()
    second.wait_ready()
    wait_for(api, [long_job], {"completed"}, timeout=90)
    # The hand-back did not count as an attempt: the second worker ran it as attempt 1.
    assert '"msg": "job started"' in second.output() and '"attempt": 1' in second.output()


def test_vidgen_serve_hands_running_jobs_back_on_sigint(fleet: Fleet) -> None:
    port_holder = fleet.add_api()
    server = Process(
        name="serve",
        args=["serve", "--port", str(port_holder.port)],  # API and worker in one process
        env=fleet.env,
        log_path=fleet.root / "serve.log",
        port=port_holder.port,
    )
    fleet.apis[0] = server
    server.start()
    server.wait_ready()
    (job,) = post_jobs(server, 1, "sleep=30 a long one")
    wait_for(server, [job], {"generating"})
    assert server.popen is not None
    server.popen.send_signal(signal.SIGINT)
    # uvicorn shuts down gracefully, then re-raises the signal: 130 is "ended by SIGINT".
    assert server.popen.wait(timeout=30) in (0, 130)
    assert "job released" in server.output()
    server.start()
    server.wait_ready()
    assert statuses(server, [job])[job]["status"] in {"queued", "generating"}

"""Keys managed over HTTP by an admin key, against a real server: every admin route refuses a
client key (403) and no key (401) in vidgen's own error shape; keys are created, listed, limited,
credited (in the ledger, with the reason) and revoked, and a revoked key stops working on a
second server process on the same database within 2 s; per-key rate and monthly limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import runwayml
from sqlalchemy import select

from tests.conftest import (
    LiveServer,
    data_uri,
    free_port,
    make_image,
    shared_server,
    wait_for_status,
)
from vidgen.store.db import Database
from vidgen.store.tables import credit_ledger

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ADMIN = "vg_admin_routes_" + "a" * 32
CLIENT = "vg_admin_client_" + "c" * 32
IMAGE = data_uri(make_image(640, 360))
KEY_ID = "0" * 32
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/admin/keys", {"name": "x"}),
    ("GET", "/v1/admin/keys", None),
    ("GET", f"/v1/admin/keys/{KEY_ID}", None),
    ("PATCH", f"/v1/admin/keys/{KEY_ID}", {"priority": 1}),
    ("POST", f"/v1/admin/keys/{KEY_ID}/credits", {"amount": 1, "reason": "r"}),
    ("DELETE", f"/v1/admin/keys/{KEY_ID}", None),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    for made in shared_server(tmp_path_factory, "admin-keys", [CLIENT]):
        made.env["VIDGEN_ADMIN_KEYS"] = ADMIN
        made.stop()
        made.start()
        yield made


def admin(server: LiveServer) -> httpx.Client:
    return server.client(ADMIN)


def new_key(server: LiveServer, **body: Any) -> dict[str, Any]:
    with admin(server) as client:
        answer = client.post("/v1/admin/keys", json={"name": "k", **body})
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def aimlapi_create(client: httpx.Client) -> httpx.Response:
    body = {"model": "runway/gen4_turbo", "image_url": IMAGE, "prompt": "pan"}
    return client.post("/v2/video/generations", json=body)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_admin_route_refuses_a_client_key_and_no_key(
    server: LiveServer, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with server.client(CLIENT) as client:
        refused = client.request(method, path, json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["statusCode"] == 403
    assert "admin key" in refused.json()["message"]
    anonymous = httpx.request(method, server.base_url + path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["statusCode"] == 401


def test_an_admin_creates_a_key_that_works_and_sees_it_listed(server: LiveServer) -> None:
    made = new_key(server, name="team-a", credits=40, max_concurrency=2, priority=3)
    assert made["key"].startswith("vg_") and made["role"] == "client"
    assert (made["credits"], made["max_concurrency"], made["priority"]) == (40, 2, 3)
    with server.client(made["key"]) as client:
        account = client.get("/v1/account").json()
    assert account["id"] == made["id"]
    assert account["webhook_secret"] == made["webhook_secret"]
    with admin(server) as client:
        listed = {k["id"]: k for k in client.get("/v1/admin/keys").json()["data"]}
    entry = listed[made["id"]]
    assert "key" not in entry and entry["prefix"] == made["key"][:10]
    assert (entry["credits"], entry["last_used_at"], entry["spent_this_month"]) == (40, None, 0)
    assert {k["role"] for k in listed.values()} == {"admin", "client"}


def test_limits_change_and_null_clears_one(server: LiveServer) -> None:
    made = new_key(server, monthly_credit_limit=100, rate_limit_per_minute=9)
    with admin(server) as client:
        changed = client.patch(
            f"/v1/admin/keys/{made['id']}", json={"monthly_credit_limit": None, "priority": 5}
        )
        bad = client.patch(f"/v1/admin/keys/{made['id']}", json={"max_concurrency": 0})
        no_priority = client.patch(f"/v1/admin/keys/{made['id']}", json={"priority": None})
        unknown = client.patch(f"/v1/admin/keys/{KEY_ID}", json={"priority": 1})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["monthly_credit_limit"], changed.json()["priority"]) == (None, 5)
    assert changed.json()["rate_limit_per_minute"] == 9
    assert bad.status_code == 400 and "max_concurrency" in bad.text
    assert no_priority.status_code == 400 and "priority" in no_priority.json()["message"]
    assert unknown.status_code == 404


def test_credits_move_with_their_reason_in_the_ledger_and_never_below_zero(
    server: LiveServer,
) -> None:
    made = new_key(server, credits=10)
    url = f"/v1/admin/keys/{made['id']}/credits"
    with admin(server) as client:
        added = client.post(url, json={"amount": 25, "reason": "invoice 7"})
        taken = client.post(url, json={"amount": -30, "reason": "chargeback"})
        too_much = client.post(url, json={"amount": -6, "reason": "oops"})
        no_reason = client.post(url, json={"amount": 1})
        unlimited = new_key(server)
        refused = client.post(
            f"/v1/admin/keys/{unlimited['id']}/credits", json={"amount": 1, "reason": "r"}
        )
    assert (added.json()["credits"], taken.json()["credits"]) == (35, 5)
    assert too_much.status_code == 400 and "amount" in too_much.json()["message"]
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["message"]
    # It says why, and sends the operator to no step that does not exist (nothing gives an
    # unlimited key a balance: its credits are set when it is created).
    assert refused.status_code == 409
    assert "unlimited credits, so no balance to adjust" in refused.json()["message"]
    assert ledger(server, made["id"]) == [
        ("grant", 10, None),
        ("adjustment", 25, "invoice 7"),
        ("adjustment", -30, "chargeback"),
    ]


def ledger(server: LiveServer, key_id: str) -> list[tuple[str, int, str | None]]:
    async def read() -> list[tuple[str, int, str | None]]:
        db = Database(f"sqlite:///{server.data_dir / 'vidgen.db'}")
        query = (
            select(credit_ledger.c.reason, credit_ledger.c.delta, credit_ledger.c.note)
            .where(credit_ledger.c.key_id == key_id)
            .order_by(credit_ledger.c.id)
        )
        try:
            rows = await db.read(lambda conn: conn.execute(query).all())
        finally:
            await db.dispose()
        return [(r.reason, r.delta, r.note) for r in rows]

    return asyncio.run(read())


def test_a_revoked_key_is_refused_within_2_s_by_another_process(
    server: LiveServer, tmp_path: Any
) -> None:
    made = new_key(server)
    port = free_port()
    second = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=server.data_dir,
        env=dict(server.env),
        log_path=tmp_path / "second.log",
        port=port,
    )
    second.start("--no-worker")
    try:
        with second.client(made["key"]) as elsewhere:
            assert elsewhere.get("/v1/account").status_code == 200  # its answer is now cached
            with admin(server) as client:
                revoked = client.delete(f"/v1/admin/keys/{made['id']}")
                itself = client.delete(f"/v1/admin/keys/{revoked.json()['id']}")
            assert revoked.status_code == 200 and revoked.json()["active"] is False
            assert itself.status_code == 200  # revoking twice answers the key as it is
            with server.client(made["key"]) as here:
                assert here.get("/v1/account").status_code == 401  # at once where revoked
            time.sleep(2.0)
            assert elsewhere.get("/v1/account").status_code == 401
    finally:
        second.stop()


def test_an_admin_key_cannot_revoke_itself(server: LiveServer) -> None:
    with admin(server) as client:
        me = next(k for k in client.get("/v1/admin/keys").json()["data"] if k["role"] == "admin")
        answer = client.delete(f"/v1/admin/keys/{me['id']}")
        assert answer.status_code == 409
        assert client.get("/v1/admin/keys").status_code == 200


def test_a_keys_own_rate_limit_overrides_the_servers(server: LiveServer) -> None:
    # The server's limit is 0 (none): only the key's own stops the third create.
    made = new_key(server, rate_limit_per_minute=2)
    with server.client(made["key"]) as client:
        answers = [aimlapi_create(client) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [200, 200], answers[0].text
    assert answers[2].status_code == 429
    assert "at most 2 generations per minute" in answers[2].json()["message"]
    with server.client(CLIENT) as client:
        assert all(aimlapi_create(client).status_code == 200 for _ in range(3))


def test_a_spent_monthly_limit_refuses_creates_in_every_dialects_shape(
    server: LiveServer,
) -> None:
    made = new_key(server, monthly_credit_limit=10)
    secret = made["key"]
    with server.client(secret) as client:
        assert aimlapi_create(client).status_code == 200  # 8 of 10 spent
        aimlapi = aimlapi_create(client)
        runway = client.post(
            "/v1/image_to_video",
            json={"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720"},
            headers={"X-Runway-Version": "2024-11-06"},
        )
        openai = client.post(
            "/v1/videos",
            json={"model": "runway/gen4_turbo", "prompt": "x", "input_reference": IMAGE},
        )
    apiframe = httpx.post(
        f"{server.base_url}/v2/videos/generate",
        json={"model": "runway-gen4-turbo", "prompt": "x", "runwayParams": {"image": IMAGE}},
        headers={"X-API-Key": secret},
    )
    for answer in (aimlapi, runway, openai, apiframe):
        assert answer.status_code == 403, answer.text
    assert aimlapi.json()["statusCode"] == 403
    assert "Monthly credit limit" in aimlapi.json()["message"]
    assert "Monthly credit limit" in runway.json()["error"]
    assert openai.json()["error"]["code"] == "monthly_limit_reached"
    assert "Monthly credit limit" in apiframe.json()["error"]
    with admin(server) as client:
        # The process that changes a key forgets its cached answers at once.
        client.patch(f"/v1/admin/keys/{made['id']}", json={"monthly_credit_limit": 16})
    with server.client(secret) as client:
        assert aimlapi_create(client).status_code == 200


def test_usage_over_http_matches_the_ledger_and_runways_organization_reads_it(
    server: LiveServer,
) -> None:
    made = new_key(server, credits=100, monthly_credit_limit=500)
    with server.client(made["key"]) as client:
        ids = [aimlapi_create(client).json()["id"] for _ in range(2)]
        client.delete("/v2/video/generations", params={"generation_id": ids[1]})
        finals = [wait_for_status(client, gen_id) for gen_id in ids]
        by_model = client.get("/v1/usage", params={"group_by": "model"})
        by_day = client.get("/v1/usage", params={"start": "2026-01-01", "group_by": "day"})
        other = client.get("/v1/usage", params={"key_id": KEY_ID})
    assert by_model.status_code == 200, by_model.text
    usage = by_model.json()
    assert usage["key_id"] == made["id"]
    cancelled = sum(1 for f in finals if f["status"] == "error")
    entries = ledger(server, made["id"])
    totals = usage["totals"]
    assert (totals["jobs"], totals["completed"], totals["cancelled"]) == (
        2,
        2 - cancelled,
        cancelled,
    )
    assert totals["credits_charged"] == -sum(d for r, d, _ in entries if r == "charge") == 16
    assert totals["credits_refunded"] == sum(d for r, d, _ in entries if r == "refund")
    assert totals["seconds_of_video"] == 5.0 * (2 - cancelled)
    assert [g["group"] for g in usage["groups"]] == ["runway/gen4_turbo"]
    assert by_day.json()["totals"] == totals
    assert other.status_code == 400, other.text
    # A query parameter, named as one (not as a body's field).
    assert other.json()["message"].startswith("Query validation error! key_id: "), other.text

    with admin(server) as client:
        every = client.get("/v1/usage", params={"group_by": "key"}).json()
    assert every["key_id"] is None
    assert {g["group"]: g["jobs"] for g in every["groups"]}[made["id"]] == 2

    runway = runwayml.RunwayML(
        api_key=made["key"], base_url=server.base_url, _strict_response_validation=True
    )
    organization = runway.organization.retrieve()
    assert organization.tier.max_monthly_credit_spend == 500
    assert organization.usage.models["gen4_turbo"].daily_generations == 2
    # Runway's default window ends before today: name one that holds it.
    today = datetime.now(UTC).date()
    report = runway.organization.retrieve_usage(start_date=today - timedelta(days=1))
    spent = sum(c.amount for day in report.results for c in day.used_credits)
    assert spent == totals["credits_net"]

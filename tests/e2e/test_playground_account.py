"""The playground's Account and Admin views in headless Chromium (as ``test_playground``): a
client key sees its balance, limits and a usage chart drawn in inline SVG with nothing from
another site, and no Admin view; an admin key also gets the Admin view, where it creates a key,
credits it, changes its limits and revokes it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_KEY, LiveServer, data_uri, make_image, wait_for_status
from tests.e2e.test_playground import Tab, browser, open_tab, start_server, use_key

pytestmark = pytest.mark.slow
__all__ = ["browser", "open_tab"]  # the fixtures, shared with test_playground

ADMIN = "vg_playground_admin_" + "p" * 28


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("playground-account"), VIDGEN_ADMIN_KEYS=ADMIN)
    yield live
    live.stop()


def test_the_account_view_shows_balance_limits_and_a_usage_chart(
    server: LiveServer, open_tab: Callable[..., Tab]
) -> None:
    with server.client(ADMIN) as admin:
        made = admin.post(
            "/v1/admin/keys", json={"name": "studio", "credits": 50, "monthly_credit_limit": 400}
        ).json()
    with server.client(made["key"]) as client:
        body = {"model": "runway/gen4_turbo", "image_url": data_uri(make_image(640, 360))}
        wait_for_status(client, client.post("/v2/video/generations", json=body).json()["id"])
    tab = open_tab(server)
    page = tab.page
    use_key(page, made["key"])
    card = page.locator("#account-card")
    expect(card).to_be_visible()
    facts = page.locator("#account-facts")
    expect(facts).to_contain_text("studio")
    expect(facts).to_contain_text("42 credits")
    expect(facts).to_contain_text("400 credits")  # the monthly limit
    expect(page.locator("#account-summary")).to_contain_text("1 jobs, 8 credits")
    day_chart = page.locator("#usage-by-day svg")
    expect(day_chart).to_have_attribute("role", "img")
    expect(day_chart.locator("g.chart-slot")).to_have_count(30)
    # Today's bars have height; the model chart has the one model used.
    today = page.locator("#usage-by-day g.chart-slot").last
    assert float(today.locator("rect.chart-credits").get_attribute("height") or 0) > 0
    model_chart = page.locator("#usage-by-model svg")
    expect(model_chart).to_have_attribute("aria-label", "Credits and jobs per model. "
                                           "runway/gen4_turbo: 8 credits, 1 jobs")  # fmt: skip
    expect(page.locator("#admin-card")).to_be_hidden()
    page.wait_for_load_state("networkidle")
    assert tab.problems() == []
    tab.screenshot("account.png")


def test_an_admin_key_creates_credits_limits_and_revokes_keys_in_the_admin_view(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page, ADMIN)
    admin = page.locator("#admin-card")
    expect(admin).to_be_visible()
    expect(page.locator("#account-facts")).to_contain_text("(admin)")
    expect(page.locator("#account-summary")).to_contain_text("All keys, last 30 days")
    page.get_by_label("Name", exact=True).fill("from-the-page")
    page.get_by_label("Credits", exact=True).fill("20")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#admin-secret")
    expect(secret).to_have_text(re.compile(r"^vg_"))
    made = secret.inner_text()
    assert (
        httpx.get(
            f"{server.base_url}/v1/account", headers={"Authorization": f"Bearer {made}"}
        ).json()["credits"]
        == 20
    )
    row = page.locator("#admin-keys tr", has_text="from-the-page")
    expect(row).to_contain_text("20")
    row.get_by_label("Credits to add (negative takes away)").fill("-5")
    row.get_by_label("Reason").fill("trial ended")
    row.get_by_role("button", name="Credit").click()
    expect(page.locator("#admin-status")).to_have_text("“from-the-page” now has 15 credits.")
    expect(row.locator("td").nth(2)).to_have_text("15")
    # Taking more than is left is refused, and the page says why.
    row.get_by_label("Credits to add (negative takes away)").fill("-99")
    row.get_by_label("Reason").fill("too much")
    row.get_by_role("button", name="Credit").click()
    expect(page.locator("#admin-status")).to_contain_text("below zero")
    # Limits: set two, then clear one (an empty box is "no limit").
    row.locator("summary", has_text="Limits").click()
    row.get_by_label("Credits per month").fill("300")
    row.get_by_label("Creates per minute").fill("30")
    row.get_by_role("button", name="Save limits").click()
    expect(page.locator("#admin-status")).to_have_text("“from-the-page”: limits saved.")
    expect(row.locator("td").nth(3)).to_have_text("300/month, 30/min")
    with server.client(ADMIN) as client:
        listed = {k["name"]: k for k in client.get("/v1/admin/keys").json()["data"]}
    limits = listed["from-the-page"]
    assert (limits["monthly_credit_limit"], limits["rate_limit_per_minute"]) == (300, 30)
    row.locator("summary", has_text="Limits").click()
    row.get_by_label("Credits per month").fill("")
    row.get_by_role("button", name="Save limits").click()
    expect(row.locator("td").nth(3)).to_have_text("30/min")
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Revoke “from-the-page”?").click()
    expect(row.locator("td").nth(5)).to_have_text("revoked")
    refused = httpx.get(
        f"{server.base_url}/v1/account", headers={"Authorization": f"Bearer {made}"}
    )
    assert refused.status_code == 401
    # The server's bootstrap client keys are listed too.
    expect(page.locator("#admin-keys tr", has_text="env-1")).to_contain_text("client")
    assert tab.problems(allow=(400,)) == []
    tab.screenshot("admin.png")


def test_a_client_key_never_sees_the_admin_view(
    server: LiveServer, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(server)
    use_key(tab.page, TEST_KEY)
    expect(tab.page.locator("#account-card")).to_be_visible()
    expect(tab.page.locator("#admin-card")).to_be_hidden()
    assert tab.problems() == []

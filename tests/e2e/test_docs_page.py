"""The API docs page (/docs) in a real browser with no internet: Debian's headless Chromium,
driven by Playwright, against a real ``vidgen serve`` on loopback, every request to another
origin refused. Screenshots go to test-artifacts/docs/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Route, expect, sync_playwright

from tests.conftest import LiveServer, free_port, live_server_env

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "docs"
TIMEOUT_MS = 45_000

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is not installed (scripts/system-packages.sh)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("docs")
    port = free_port()
    live = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=root / "data",
        env=live_server_env(root / "data"),
        log_path=root / "server.log",
        port=port,
    )
    live.start("--no-worker")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Offline:
    """A browser context with no internet: what is not the server itself is refused, and
    every request and every console error is recorded."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.server = server
        self.context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 900})
        self.requests: list[str] = []
        self.refused: list[str] = []
        self.console: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on(
            "console",
            lambda m: self.console.append(f"{m.type}: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.server.base_url + "/"):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")

    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.server.base_url + "/")]


@pytest.fixture
def offline(browser: Browser, server: LiveServer) -> Iterator[Offline]:
    tab = Offline(browser, server)
    yield tab
    tab.context.close()


def expect_swagger_ui_rendered(tab: Offline) -> None:
    page = tab.page
    # Operations from the OpenAPI document, under their dialects' tags.
    expect(page.get_by_text("This key's balance and webhook signing secret")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(page.locator(".opblock-tag", has_text="openai")).to_be_visible()
    assert page.locator(".opblock").count() > 10
    # An operation opens, with its parameters: Swagger UI's scripts really run.
    page.get_by_text("This key's balance and webhook signing secret").click()
    expect(page.get_by_text("Try it out")).to_be_visible()


def test_the_docs_render_with_no_internet_from_the_servers_own_files(
    server: LiveServer, offline: Offline
) -> None:
    offline.page.goto(server.base_url + "/docs")
    expect_swagger_ui_rendered(offline)
    offline.page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    offline.page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=False)
    assert offline.outside() == []
    assert offline.refused == []
    assert any(u.endswith("/openapi.json") for u in offline.requests)
    # Content-Security-Policy violations are console errors too: there are none.
    assert offline.console == []


def test_the_playgrounds_docs_link_opens_the_same_page_offline(
    server: LiveServer, offline: Offline
) -> None:
    offline.page.goto(server.base_url + "/")
    offline.page.get_by_role("link", name="API docs").first.click()
    expect(offline.page).to_have_url(server.base_url + "/docs")
    expect_swagger_ui_rendered(offline)
    assert offline.outside() == []


def test_the_docs_page_allows_its_own_origin_only() -> None:
    """The policy names no other origin: scripts, styles and fetches come from the server."""
    from vidgen.api.docs import docs_page

    _, policy = docs_page("", "vidgen")
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "img-src", "connect-src"):
        sources = directives[name].split()
        assert all(s == "'self'" or s == "data:" or s.startswith("'sha256-") for s in sources)


def test_the_docs_assets_are_served_with_a_validator_and_unknown_ones_are_404(
    server: LiveServer,
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "content-security-policy" in page.headers
        script = client.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        again = client.get(
            "/docs/assets/swagger-ui-bundle.js", headers={"If-None-Match": script.headers["etag"]}
        )
        assert again.status_code == 304
        assert client.get("/docs/assets/..%2Fpyproject.toml").status_code == 404
        assert client.get("/redoc").status_code == 404

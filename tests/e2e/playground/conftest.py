"""The web playground in a real browser: Debian's headless Chromium, driven by Playwright,
against a real ``vidgen serve`` on loopback. Screenshots go to test-artifacts/playground/.

Playwright only drives the browser here; its own browser downloads are never used
(``executable_path`` points at the system Chromium, which scripts/system-packages.sh installs).

The servers and the browser are made once per test session (per xdist worker) and shared by
every file here: each file of its own would start its own, and the suite's time is counted.
A file that needs a server set up otherwise (test_account.py) overrides ``server`` in itself.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Frame,
    Page,
    Request,
    expect,
    sync_playwright,
)

from tests.conftest import (
    TEST_KEY,
    LiveServer,
    free_port,
    live_server_env,
)

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
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "playground"
#: Both servers take data URIs up to this size, so that re-encoding an image in the browser, and
#: uploading a video over it, can be tested with small files.
DATA_URI_CAP = 300_000
#: The idle server's cap on an input video, so that a video over it is a small file too.
VIDEO_CAP = 1_000_000
TIMEOUT_MS = 45_000

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session", autouse=True)
def chromium() -> Path:
    """Skips every test here, before any server starts, where there is no browser to drive."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/system-packages.sh)")
    return CHROMIUM


def start_server(root: Path, *args: str, **env: str) -> LiveServer:
    port = free_port()
    server = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=root / "data",
        env=live_server_env(root / "data", **env),
        log_path=root / "server.log",
        port=port,
    )
    server.start(*args)
    return server


def create_key(server: LiveServer, credits: int) -> str:
    """A key with a balance, made by the CLI against the server's own data dir."""
    command = ["keys", "create", "--name", "poor", "--credits", str(credits)]
    done = subprocess.run(
        [sys.executable, "-m", "vidgen.cli.main", *command],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("playground")
    live = start_server(root, VIDGEN_MAX_DATA_URI_BYTES=str(DATA_URI_CAP))
    yield live
    live.stop()


@pytest.fixture(scope="session")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """No worker: whatever is submitted stays queued until it is cancelled."""
    live = start_server(
        tmp_path_factory.mktemp("playground-idle"),
        "--no-worker",
        VIDGEN_MAX_DATA_URI_BYTES=str(DATA_URI_CAP),
        VIDGEN_MAX_VIDEO_BYTES=str(VIDEO_CAP),
    )
    yield live
    live.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page plus everything it reported: console messages, failed loads, script errors."""

    page: Page
    console: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for

    def problems(self, *, allow: tuple[int, ...] = ()) -> list[str]:
        """What went wrong, except API answers with an expected status (a 400 on purpose logs
        'Failed to load resource … 400' in the console, as every browser does)."""
        expected = tuple(f"status of {code}" for code in allow)
        console = [m for m in self.console if not any(e in m for e in expected)]
        failed = [f for f in self.failed if not f.startswith(tuple(f"{c} " for c in allow))]
        return console + failed

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def open_tab(browser: Browser) -> Iterator[Callable[..., Tab]]:
    contexts: list[BrowserContext] = []

    def open_(server: LiveServer, **context_options: Any) -> Tab:
        # Reduced motion turns the page's transitions off, so what is measured has settled.
        options = {
            "viewport": {"width": 1280, "height": 900},
            "reduced_motion": "reduce",
            **context_options,
        }
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        tab = Tab(page)
        page.on(
            "console",
            lambda m: (
                tab.console.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda error: tab.console.append(f"pageerror: {error}"))
        page.on(
            "response",
            lambda r: (
                tab.failed.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400
                else None
            ),
        )
        # A navigation (the reloads here) cancels the page's loads still in flight, and the
        # browser reports them as failed (net::ERR_ABORTED). That is no problem of the page's,
        # so those are told apart: a load is stamped with the navigations begun before it, and
        # with whether one was under way (begun, its document not yet in place), since a load
        # the old document starts in that moment (a refresh timer firing) is cancelled too.
        navigations = [0]
        underway = [False]
        begun: dict[Request, tuple[int, bool]] = {}

        def on_request(r: Request) -> None:
            tab.requests.append(r.url)
            if r.is_navigation_request() and r.frame == page.main_frame:
                navigations[0] += 1
                underway[0] = True
            begun[r] = (navigations[0], underway[0])

        def on_navigated(frame: Frame) -> None:
            if frame == page.main_frame:
                underway[0] = False

        def on_failed(r: Request) -> None:
            count, during = begun.get(r, (navigations[0], False))
            if r.failure == "net::ERR_ABORTED" and (count < navigations[0] or during):
                return
            if r.failure == "net::ERR_ABORTED" and r.url.endswith("/events"):
                # Chromium reports the page's event stream as aborted even when the page read
                # it to its final event and the server ended it with its last chunk (checked
                # on the wire); whether the page followed it is checked by what it shows.
                return
            tab.failed.append(f"failed {r.method} {r.url}: {r.failure}")

        page.on("request", on_request)
        page.on("framenavigated", on_navigated)
        page.on("requestfailed", on_failed)
        page.goto(server.base_url + "/")
        expect(page.locator("#model-options input[type=radio]").first).to_be_attached()
        return tab

    yield open_
    for context in contexts:
        context.close()


def use_key(page: Page, key: str = TEST_KEY) -> None:
    field = page.get_by_label("Your vidgen API key")
    field.fill(key)
    field.press("Enter")


def wait_until_playing(page: Page) -> None:
    """The video element has data and its clock moves: it really plays, not merely exists."""
    video = page.locator("#video")
    expect(video).to_be_visible()
    page.wait_for_function(
        "() => { const v = document.querySelector('#video');"
        " return v.readyState >= 3 && !v.paused && v.currentTime > 0.2 }"
    )
    before = video.evaluate("v => v.currentTime")
    page.wait_for_timeout(600)
    after = video.evaluate("v => v.currentTime")
    assert after != before, "the video's clock does not move"
    assert video.evaluate("v => v.muted && v.loop && v.videoWidth") > 0


def write_image(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def raw_json_shown(page: Page) -> bool:
    return '"statusCode"' in page.locator("body").inner_text()

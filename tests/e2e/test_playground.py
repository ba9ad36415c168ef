"""The web playground in a real browser: Debian's headless Chromium, driven by Playwright,
against a real ``vidgen serve`` on loopback. Screenshots go to test-artifacts/playground/.

Playwright only drives the browser here; its own browser downloads are never used
(``executable_path`` points at the system Chromium, which scripts/system-packages.sh installs).
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Frame,
    Page,
    Request,
    Route,
    expect,
    sync_playwright,
)

from tests.conftest import (
    OTHER_KEY,
    TEST_KEY,
    ImageServer,
    LiveServer,
    data_uri,
    free_port,
    live_server_env,
    make_image,
    make_video,
)

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
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "playground"
#: Both servers take data URIs up to this size, so that re-encoding an image in the browser, and
#: uploading a video over it, can be tested with small files.
DATA_URI_CAP = 300_000
#: The idle server's cap on an input video, so that a video over it is a small file too.
VIDEO_CAP = 1_000_000
TIMEOUT_MS = 45_000

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is not installed (scripts/system-packages.sh)", allow_module_level=True
    )
expect.set_options(timeout=TIMEOUT_MS)


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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("playground")
    live = start_server(root, VIDGEN_MAX_DATA_URI_BYTES=str(DATA_URI_CAP))
    yield live
    live.stop()


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
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


# -- the page itself ------------------------------------------------------------------------


def test_the_page_and_all_its_assets_load_without_a_single_console_error(
    server: LiveServer, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(server)
    page = tab.page
    expect(page).to_have_title("vidgen playground")
    # The models came from /v1/models: a card for each, whatever it makes videos from, and the
    # default model's six ratios.
    listed = httpx.get(server.base_url + "/v1/models").json()["data"]
    assert any("character_performance" in m["kinds"] for m in listed)
    expect(page.locator(".model-card")).to_have_count(len(listed))
    expect(page.locator("#ratio-options input")).to_have_count(6)
    expect(page.locator("#submit-price")).to_have_text("8 credits")
    page.get_by_text("10 s", exact=True).click()
    expect(page.locator("#submit-price")).to_have_text("15 credits")
    page.get_by_text("7 s", exact=True).click()
    expect(page.locator("#submit-price")).to_have_text("12 credits")
    # Each card gives the model's own durations: gen3a_turbo takes 5 or 10, not 5 to 10.
    cards = page.locator(".model-card .model-meta")
    expect(cards.nth(0)).to_contain_text("2–10 s")
    expect(cards.nth(1)).to_contain_text("5 or 10 s")
    expect(page.locator(".model-card .model-desc").nth(0)).not_to_contain_text("text")
    page.wait_for_load_state("networkidle")
    assert tab.problems() == []
    response = httpx.get(server.base_url + "/")
    assert "default-src 'none'" in response.headers["content-security-policy"]


# -- the main path: upload, generate, watch, play, history ------------------------------------


def test_an_uploaded_image_becomes_a_video_that_plays_inline_and_joins_the_history(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    expect(page.locator("#key-status")).to_contain_text("Key accepted")

    image = write_image(tmp_path / "summit.png", make_image(800, 450))
    page.locator("#first-image-file").set_input_files(image)
    expect(page.locator("#first-image [data-role=crop-label]")).to_have_text("16:9 · 1280×720")
    # A 4:3 frame keeps the middle of a 16:9 picture: the crop box is narrower than the image.
    page.get_by_text("4:3", exact=True).click()
    expect(page.locator("#first-image [data-role=crop-label]")).to_have_text("4:3 · 1104×832")
    crop = page.locator("#first-image [data-role=crop]").bounding_box()
    canvas = page.locator("#first-image [data-role=canvas]").bounding_box()
    assert crop is not None and canvas is not None
    assert crop["width"] == pytest.approx(canvas["width"] * (1104 / 832) / (16 / 9), abs=3)
    assert crop["x"] - canvas["x"] == pytest.approx((canvas["width"] - crop["width"]) / 2, abs=3)
    page.get_by_text("16:9", exact=True).click()

    prompt = page.get_by_label("Prompt")
    prompt.fill("slow zoom in on the summit")
    expect(page.locator("#prompt-count")).to_have_text("26 / 1000")
    page.get_by_label("Seed", exact=True).fill("1234")
    expect(page.locator("#balance")).to_have_text(re.compile(r"Key “env-\d”: unlimited credits\."))
    # Keyboard: the submit button is reachable and Enter presses it.
    page.locator("#submit").focus()
    with page.expect_request(lambda r: r.method == "POST") as posted:
        page.keyboard.press("Enter")
    # Every create carries an Idempotency-Key, so a retry after a lost answer is not charged twice.
    assert len(posted.value.headers.get("idempotency-key", "")) == 32

    expect(page.locator("#status-badge")).to_have_text("completed")
    expect(page.locator("#progress")).to_have_attribute("aria-valuenow", "100")
    wait_until_playing(page)
    download = page.get_by_role("link", name="Download MP4")
    href = download.get_attribute("href")
    assert href is not None and "/files/" in href and "_jwt=" in href
    assert (download.get_attribute("download") or "").endswith(".mp4")
    mp4 = httpx.get(href)
    assert mp4.headers["content-type"] == "video/mp4"
    expect(page.locator("#facts")).to_contain_text("1234")

    entry = page.locator("#history-list .entry").first
    expect(entry).to_contain_text("slow zoom in on the summit")
    expect(entry.locator(".badge")).to_have_text("completed")
    thumbnail = entry.locator(".entry-thumb img")
    expect(thumbnail).to_be_visible()
    page.wait_for_function(
        "() => document.querySelector('#history-list .entry-thumb img').naturalWidth > 0"
    )
    expect(entry.locator(".entry-cancel")).to_be_hidden()
    tab.screenshot("desktop.png")

    # The key stays in this browser: a reload shows the same history, already authenticated.
    page.reload()
    expect(page.get_by_label("Your vidgen API key")).to_have_value(TEST_KEY)
    expect(page.locator("#history-list .entry").first).to_contain_text("slow zoom in")
    # Space on a history entry opens it in the result card.
    page.locator("#history-list .entry-open").first.focus()
    page.keyboard.press("Space")
    expect(page.locator("#status-badge")).to_have_text("completed")
    wait_until_playing(page)
    # Forgetting the key clears it from storage and hides the history.
    page.get_by_role("button", name="Forget this key").click()
    expect(page.get_by_label("Your vidgen API key")).to_have_value("")
    assert page.evaluate("localStorage.getItem('vidgen.playground.key')") is None
    expect(page.locator("#history-list .entry")).to_have_count(0)
    assert tab.problems() == []


def test_on_a_phone_the_page_is_one_column_and_a_portrait_image_gets_a_portrait_video(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(
        server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        color_scheme="dark",
    )
    page = tab.page
    use_key(page, OTHER_KEY)
    page.locator("#first-image-file").set_input_files(
        write_image(tmp_path / "portrait.png", make_image(300, 500, seed=2))
    )
    # Until a ratio is picked by hand, it follows the image's shape, as the server would.
    expect(page.locator("#ratio-options input:checked")).to_have_value("9:16")
    page.get_by_label("Prompt").fill("pan left across the garden")
    page.locator("#submit").tap()
    expect(page.locator("#status-badge")).to_have_text("completed")
    wait_until_playing(page)
    assert page.locator("#video").evaluate("v => [v.videoWidth, v.videoHeight]") == [720, 1280]

    # One column, nothing wider than the screen.
    form = page.locator("#create").bounding_box()
    result = page.locator("#result-card").bounding_box()
    assert form is not None and result is not None
    assert result["x"] == pytest.approx(form["x"], abs=1)
    assert result["y"] > form["y"] + form["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    tab.screenshot("phone-dark.png")
    assert tab.problems() == []


# -- cancel ---------------------------------------------------------------------------------


def test_a_queued_generation_is_cancelled_from_the_history(
    idle_server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(idle_server, color_scheme="dark")
    page = tab.page
    use_key(page)
    page.locator("#first-image-file").set_input_files(
        write_image(tmp_path / "a.png", make_image(640, 360))
    )
    page.get_by_label("Prompt").fill("the waves roll in")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#status-badge")).to_have_text("queued")
    entry = page.locator("#history-list .entry").first
    expect(entry.locator(".badge")).to_have_text("queued")
    tab.screenshot("desktop-dark-queued.png")

    entry.get_by_role("button", name="Cancel").click()
    expect(entry.locator(".badge")).to_have_text("cancelled")
    expect(entry.locator(".entry-cancel")).to_be_hidden()
    # The result card shows the same generation, now ended and refunded.
    expect(page.locator("#status-badge")).to_have_text("cancelled")
    expect(page.locator("#status-text")).to_contain_text("refunded")
    generation_id = entry.get_attribute("data-id")
    with idle_server.client() as client:
        body = client.get("/v2/video/generations", params={"generation_id": generation_id})
    assert body.json()["error"]["name"] == "Cancelled"
    assert tab.problems() == []


def test_the_result_card_follows_the_event_stream_of_a_queued_generation_to_its_end(
    idle_server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(idle_server)
    page = tab.page
    use_key(page)
    page.locator("#first-image-file").set_input_files(
        write_image(tmp_path / "a.png", make_image(640, 360))
    )
    page.get_by_label("Prompt").fill("the tide goes out")
    with page.expect_response(lambda r: r.url.endswith("/events")) as streamed:
        page.get_by_role("button", name="Generate").click()
    assert streamed.value.status == 200
    assert streamed.value.headers["content-type"].startswith("text/event-stream")
    expect(page.locator("#status-badge")).to_have_text("queued")
    generation_id = page.locator("#result-id").inner_text()
    assert streamed.value.url.endswith(f"/v1/generations/{generation_id}/events")
    # Nothing polls a queued generation while its stream is open: a change elsewhere (a
    # cancel through the API) reaches the page through the stream, which then ends.
    page.wait_for_timeout(1500)
    polls = [r for r in tab.requests if f"generation_id={generation_id}" in r]
    with idle_server.client() as client:
        client.delete("/v2/video/generations", params={"generation_id": generation_id})
    expect(page.locator("#status-badge")).to_have_text("cancelled")
    after = [r for r in tab.requests if f"generation_id={generation_id}" in r]
    assert len(polls) <= 2, polls  # the first read, and one for the stream's first event
    assert len(after) > len(polls)  # the cancel was read when the stream told of it
    assert tab.problems() == []


def test_generations_made_with_the_api_are_titled_by_prompt_and_counted_honestly(
    idle_server: LiveServer, open_tab: Callable[..., Tab]
) -> None:
    key = create_key(idle_server, credits=1000)
    body = {"model": "runway/gen4_turbo", "image_url": data_uri(make_image(64, 36))}
    with idle_server.client(key) as client:
        # The oldest has no prompt; then a page and one more, each with its own.
        for prompt in [None, *(f"api prompt {n}" for n in range(12))]:
            sent = body if prompt is None else {**body, "prompt": prompt}
            assert client.post("/v2/video/generations", json=sent).status_code == 200
    tab = open_tab(idle_server)
    page = tab.page
    use_key(page, key)
    entries = page.locator("#history-list .entry")
    expect(entries).to_have_count(12)
    expect(page.locator("#history-status")).to_have_text("12 shown · more")
    titles = entries.locator(".entry-title")
    expect(titles).to_have_text([f"api prompt {n}" for n in reversed(range(12))])
    page.get_by_role("button", name="Show older").click()
    expect(entries).to_have_count(13)
    expect(page.locator("#history-status")).to_have_text("13 generations with this key.")
    # No prompt: titled by its model, muted.
    expect(titles.last).to_have_text("gen4_turbo")
    expect(titles.last).to_have_class(re.compile(r"\bmuted\b"))
    expect(page.get_by_role("button", name="Show older")).to_be_hidden()
    assert tab.problems() == []


# -- errors, where they belong ------------------------------------------------------------------


def test_a_bad_image_url_is_explained_next_to_the_image_field(
    server: LiveServer, open_tab: Callable[..., Tab], image_server: ImageServer
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    url_field = page.get_by_label("…or an image URL").first
    url_field.fill(f"{image_server.base_url}/missing.png")
    expect(page.locator("#first-image [data-role=remote]")).to_be_visible()
    page.get_by_role("button", name="Generate").click()

    error = page.locator("#first-image-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("404")
    expect(url_field).to_have_attribute("aria-invalid", "true")
    expect(url_field).to_be_focused()
    expect(page.locator("#submit-error")).to_contain_text("see the marked fields")
    assert not raw_json_shown(page)
    tab.screenshot("field-error.png")

    # Fixing the field clears its error.
    url_field.fill("")
    expect(error).to_be_hidden()
    assert tab.problems(allow=(400, 404)) == []


def test_a_too_long_prompt_is_stopped_in_the_page_and_shown_by_the_prompt_if_sent_anyway(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    page.locator("#first-image-file").set_input_files(
        write_image(tmp_path / "a.png", make_image(640, 360))
    )
    posts: list[str] = []
    page.on(
        "request",
        lambda r: posts.append(r.url) if r.method == "POST" else None,
    )
    prompt = page.get_by_label("Prompt")
    prompt.fill("x" * 1005)
    expect(page.locator("#prompt-count")).to_have_text("1005 / 1000 · 5 too many")
    expect(page.locator("#prompt-error")).to_contain_text("5 characters over")
    page.get_by_role("button", name="Generate").click()
    expect(prompt).to_be_focused()
    assert posts == []

    # A short prompt passes the page's check; the request is then lengthened on its way out,
    # so the server's own 400 comes back, and its message lands by the prompt too.
    prompt.fill("short")

    def lengthen(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        body["prompt"] = "y" * 1001
        route.continue_(post_data=json.dumps(body))

    page.route("**/v2/video/generations", lengthen)
    page.get_by_role("button", name="Generate").click()
    error = page.locator("#prompt-error")
    expect(error).to_contain_text("1000 characters")
    expect(prompt).to_have_attribute("aria-invalid", "true")
    assert posts and not raw_json_shown(page)
    assert tab.problems(allow=(400,)) == []


def test_a_refused_key_is_reported_at_the_key_field(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page, "vg_not_a_key")
    error = page.locator("#key-error")
    expect(error).to_have_text("Invalid or revoked API key.")
    key_field = page.get_by_label("Your vidgen API key")
    expect(key_field).to_have_attribute("aria-invalid", "true")
    # Submitting with it lands in the same place, not by the submit button.
    page.locator("#first-image-file").set_input_files(
        write_image(tmp_path / "a.png", make_image(640, 360))
    )
    page.get_by_role("button", name="Generate").click()
    expect(error).to_have_text("Invalid or revoked API key.")
    expect(key_field).to_be_focused()
    expect(page.locator("#submit-error")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('vidgen.playground.key')") is None
    # A key no server could accept (fetch would refuse the header) is explained, not sent.
    use_key(page, "vg_clé")
    expect(error).to_contain_text("characters no API key contains")
    assert tab.problems(allow=(401,)) == []


def test_a_key_without_enough_credits_is_told_so_by_the_submit_button(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    poor_key = create_key(server, credits=3)
    tab = open_tab(server)
    page = tab.page
    use_key(page, poor_key)
    expect(page.locator("#key-status")).to_contain_text("Key accepted")
    page.locator("#first-image-file").set_input_files(
        write_image(tmp_path / "a.png", make_image(640, 360))
    )
    page.get_by_role("button", name="Generate").click()
    error = page.locator("#submit-error")
    expect(error).to_contain_text("Insufficient credits: this generation costs 8, the key has 3")
    expect(page.locator("#balance")).to_have_text("Key “poor”: 3 credits left.")
    expect(page.locator("#key-error")).to_be_hidden()
    assert tab.problems(allow=(403,)) == []


# -- images in the browser ------------------------------------------------------------------


def test_a_file_that_is_not_an_image_is_refused_before_anything_is_sent(
    server: LiveServer, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(server)
    page = tab.page
    page.locator("#first-image-file").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture"}]
    )
    error = page.locator("#first-image-error")
    expect(error).to_contain_text("“notes.txt” is not an image")
    expect(page.locator("#first-image [data-role=frame]")).to_be_hidden()
    assert tab.problems() == []


def test_an_image_over_the_servers_cap_is_scaled_down_in_the_browser_and_accepted(
    idle_server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    # Noise does not compress: this PNG is several times the server's data-URI cap.
    noise = np.random.default_rng(7).integers(0, 256, size=(900, 1600, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    assert len(buffer.getvalue()) > 4 * DATA_URI_CAP
    tab = open_tab(idle_server)
    page = tab.page
    use_key(page, OTHER_KEY)
    page.locator("#first-image-file").set_input_files(
        write_image(tmp_path / "noise.png", buffer.getvalue())
    )
    note = page.locator("#first-image-note")
    expect(note).to_contain_text("Re-encoded in your browser")
    expect(note).to_contain_text("1600×900")
    expect(note).to_contain_text("JPEG")
    page.get_by_role("button", name="Generate").click()
    # Accepted (this server has no worker, so it stays queued): the server took the image.
    expect(page.locator("#status-badge")).to_have_text("queued")
    expect(page.locator("#submit-error")).to_be_hidden()
    assert tab.problems() == []


def test_an_image_can_be_dropped_on_the_zone_or_pasted_anywhere(
    server: LiveServer, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(server)
    page = tab.page
    png = base64.b64encode(make_image(500, 500, seed=4)).decode()
    make_transfer = (
        "([data, name]) => { const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));"
        " const transfer = new DataTransfer();"
        " transfer.items.add(new File([bytes], name, {type: 'image/png'})); return transfer; }"
    )
    transfer = page.evaluate_handle(make_transfer, [png, "dropped.png"])
    page.locator("#first-image [data-role=dropzone]").dispatch_event(
        "drop", {"dataTransfer": transfer}
    )
    expect(page.locator("#first-image [data-role=name]")).to_have_text("dropped.png")
    # A square picture: the nearest ratio is 1:1, chosen for it.
    expect(page.locator("#ratio-options input:checked")).to_have_value("1:1")

    page.locator("#tail-details summary").click()
    page.locator("#tail-image-url").focus()
    page.evaluate(
        f"([data, name]) => document.activeElement.dispatchEvent(new ClipboardEvent('paste',"
        f" {{clipboardData: ({make_transfer})([data, name]), bubbles: true}}))",
        [png, "pasted.png"],
    )
    expect(page.locator("#tail-image [data-role=name]")).to_have_text("pasted.png")
    expect(page.locator("#tail-set")).to_be_visible()
    assert tab.problems() == []


def test_the_form_is_usable_from_the_keyboard(
    server: LiveServer, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(server)
    page = tab.page

    def tab_until(selector: str, limit: int = 25) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({json.dumps(selector)})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    def ring_of(selector: str) -> str:
        return str(page.locator(selector).evaluate("e => getComputedStyle(e).outlineStyle"))

    # The first Tab reaches the skip link, which jumps to the form.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the form")).to_be_focused()
    page.keyboard.press("Enter")
    tab_until("input[name=model]")
    assert ring_of("input[name=model]:checked + label") != "none"
    page.keyboard.press("ArrowRight")
    expect(page.locator("input[name=model]:checked")).to_have_value("gen3a_turbo")
    expect(page.locator("#ratio-options input")).to_have_count(2)

    tab_until("#first-image-file")
    assert ring_of("#first-image-file + label") != "none"
    tab_until("input[name=ratio]")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#ratio-options input:checked")).to_have_value("9:16")
    tab_until("input[name=duration]")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#submit-price")).to_have_text("15 credits")
    tab_until("#prompt")
    page.keyboard.type("rushes toward the camera")
    tab_until("#seed-random")
    page.keyboard.press("Space")
    assert page.get_by_label("Seed", exact=True).input_value().isdigit()
    tab_until("#submit")
    # Enter without a key or an image: both problems are shown where they belong, at once.
    page.keyboard.press("Enter")
    expect(page.locator("#key-error")).to_contain_text("API key")
    expect(page.locator("#first-image-error")).to_contain_text("Choose, drop or paste an image")
    expect(page.get_by_label("Your vidgen API key")).to_be_focused()
    assert tab.problems() == []


# -- the other kinds: video to video, character performance -------------------------------------


def pick_model(page: Page, model_id: str) -> None:
    page.locator(".model-card", has_text=model_id).click()
    expect(page.locator("input[name=model]:checked")).to_have_value(model_id)


def posted_body(page: Page, submit: Callable[[], None]) -> dict[str, Any]:
    with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith("/v2/video/generations")
    ) as posted:
        submit()
    body: dict[str, Any] = json.loads(posted.value.post_data or "{}")
    return body


def played_video(page: Page, tmp_path: Path) -> tuple[int, int, int]:
    """Wait until the result plays, download it, and read its size and frame count with PyAV."""
    expect(page.locator("#status-badge")).to_have_text("completed")
    wait_until_playing(page)
    href = page.get_by_role("link", name="Download MP4").get_attribute("href")
    assert href is not None
    path = tmp_path / "result.mp4"
    path.write_bytes(httpx.get(href, timeout=30).content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, sum(1 for _ in container.decode(stream))


def noise_video(width: int, height: int, frames: int) -> bytes:
    """Noise does not compress: a short clip several times the servers' data-URI cap."""
    buffer = io.BytesIO()
    rng = np.random.default_rng(3)
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(frames):
            rgb = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def test_aleph2_restyles_a_picked_video_file_and_the_result_plays_as_long_as_it(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/aleph2")
    # The form asks for what the model takes: an input video, no frames, ratio or duration.
    expect(page.locator("#input-video")).to_be_visible()
    for hidden in ("#first-image", "#ratio-field", "#duration-field", "#character"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#submit-price")).to_have_text("15 credits/s")

    clip = tmp_path / "walk.mp4"
    clip.write_bytes(make_video(160, 90, frames=48, fps=24))
    page.locator("#input-video-file").set_input_files(clip)
    expect(page.locator("#input-video-note")).to_contain_text("160×90, 2.0 s")
    expect(page.locator("#input-video-note")).to_contain_text("sent inside the request")
    expect(page.locator("#input-video [data-role=video]")).to_be_visible()
    page.get_by_label("Prompt").fill("the same walk, in watercolour")
    body = posted_body(page, lambda: page.get_by_role("button", name="Generate").click())
    assert body["model"] == "runway/aleph2"
    assert body["video_url"].startswith("data:video/mp4;base64,")
    assert not {"image_url", "duration", "aspect_ratio"} & body.keys()

    # The output follows the input: its 16:9 shape at the model's size, and its 2 s.
    assert played_video(page, tmp_path) == (1280, 720, 48)
    assert tab.problems() == []


def test_a_frame_rate_model_takes_a_picked_video_and_its_target_rate_from_the_options(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/enhance_frame_rate")
    expect(page.locator("#input-video")).to_be_visible()
    clip = tmp_path / "walk.mp4"
    clip.write_bytes(make_video(160, 90, frames=24, fps=24))
    page.locator("#input-video-file").set_input_files(clip)
    expect(page.locator("#input-video-note")).to_contain_text("160×90, 1.0 s")
    page.get_by_label("Target framerate").select_option("48")
    body = posted_body(page, lambda: page.get_by_role("button", name="Generate").click())
    assert body["model"] == "runway/enhance_frame_rate"
    assert body["video_url"].startswith("data:video/mp4;base64,")
    assert body["target_framerate"] == "48"
    # The input's 1 s at twice its rate: twice its frames, at its own size.
    assert played_video(page, tmp_path) == (160, 90, 48)
    assert tab.problems() == []


def test_act_two_animates_a_character_image_with_an_uploaded_performance_and_its_options(
    server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/act_two")
    expect(page.locator("#input-video")).to_be_hidden()
    page.locator("#character-file").set_input_files(
        write_image(tmp_path / "hero.png", make_image(360, 640, seed=3))
    )
    performance = noise_video(160, 90, frames=72)
    assert len(performance) > DATA_URI_CAP
    (tmp_path / "acting.mp4").write_bytes(performance)
    page.locator("#performance-file").set_input_files(tmp_path / "acting.mp4")
    # Over the server's data-URI cap: uploaded first, and the page says so.
    expect(page.locator("#performance-note")).to_contain_text("uploaded to this server first")
    # The model's own options, from /v1/models, with their defaults.
    body_control = page.get_by_label("Body control")
    expect(body_control).to_be_checked()
    intensity = page.get_by_label("Expression intensity")
    expect(intensity).to_have_value("3")
    # Out of its range: stopped in the page, and said beside it.
    intensity.fill("9")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#option-expression_intensity-error")).to_have_text(
        "Use a whole number from 1 to 5."
    )
    expect(intensity).to_be_focused()
    body_control.uncheck()
    intensity.fill("5")
    tab.screenshot("act-two.png")
    body = posted_body(page, lambda: page.get_by_role("button", name="Generate").click())
    assert body["character"]["type"] == "image"
    assert body["character"]["url"].startswith("data:image/png;base64,")
    assert body["reference"]["type"] == "video"
    assert body["reference"]["url"].startswith("runway://")
    assert (body["body_control"], body["expression_intensity"]) == (False, 5)

    # A portrait character makes a portrait video, as long as the 3 s performance.
    assert played_video(page, tmp_path) == (720, 1280, 72)
    assert tab.problems() == []


def test_a_missing_input_video_is_explained_next_to_the_video_field(
    server: LiveServer, open_tab: Callable[..., Tab], image_server: ImageServer
) -> None:
    tab = open_tab(server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/aleph2")
    url_field = page.get_by_label("…or a video URL for the input video")
    url_field.fill(f"{image_server.base_url}/missing.mp4")
    page.get_by_role("button", name="Generate").click()
    error = page.locator("#input-video-error")
    expect(error).to_contain_text("404")
    expect(url_field).to_have_attribute("aria-invalid", "true")
    expect(url_field).to_be_focused()
    expect(page.locator("#submit-error")).to_contain_text("see the marked fields")
    assert not raw_json_shown(page)
    assert tab.problems(allow=(400, 404)) == []


def test_a_video_over_the_servers_cap_is_refused_beside_its_field_before_anything_is_sent(
    idle_server: LiveServer, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(idle_server)
    page = tab.page
    use_key(page)
    pick_model(page, "runway/aleph2")
    big = noise_video(320, 180, frames=48)
    assert len(big) > VIDEO_CAP
    (tmp_path / "big.mp4").write_bytes(big)
    page.locator("#input-video-file").set_input_files(tmp_path / "big.mp4")
    error = page.locator("#input-video-error")
    expect(error).to_contain_text("this server takes input videos of at most 977 KB")
    expect(page.locator("#input-video [data-role=video]")).to_be_hidden()
    assert not [url for url in tab.requests if "/v1/uploads" in url]
    assert tab.problems() == []

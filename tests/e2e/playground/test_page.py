"""The playground page in a browser (see conftest.py): it loads clean, an uploaded image becomes a
video that plays and joins the history, it fits a phone, and the form works from the keyboard."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import (
    OTHER_KEY,
    TEST_KEY,
    LiveServer,
    make_image,
)
from tests.e2e.playground.conftest import (
    Tab,
    use_key,
    wait_until_playing,
    write_image,
)

pytestmark = pytest.mark.slow


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

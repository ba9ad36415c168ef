"""The playground's create form in a browser (see conftest.py): each error is shown beside its
field, and images are checked, scaled, dropped or pasted in the page before anything is sent."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Route, expect

from tests.conftest import (
    OTHER_KEY,
    ImageServer,
    LiveServer,
    make_image,
)
from tests.e2e.playground.conftest import (
    DATA_URI_CAP,
    Tab,
    create_key,
    raw_json_shown,
    use_key,
    write_image,
)

pytestmark = pytest.mark.slow


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

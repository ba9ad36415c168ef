"""Watching a generation and the key's history in the playground (see conftest.py): a queued
generation is cancelled from the history, the result card follows its event stream, and
generations made with the API are titled and counted."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import (
    LiveServer,
    data_uri,
    make_image,
)
from tests.e2e.playground.conftest import (
    Tab,
    create_key,
    use_key,
    write_image,
)

pytestmark = pytest.mark.slow


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

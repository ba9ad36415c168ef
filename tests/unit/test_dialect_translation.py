"""What is left in a dialect is translation: its wire forms read into the canonical request (a size
in pixels, a string of seconds, its own model and event names), checked without a server. The
rules behind them are the catalog's (``test_catalog_dialects``) and the service's."""

from __future__ import annotations

from typing import Any

import pytest

from vidgen.api import apiframe, openai, runway
from vidgen.core.catalog import Catalog
from vidgen.core.models import GenerationRequest, ImageRef
from vidgen.errors import InvalidRequest

CATALOG = Catalog.build()
IMAGE = "https://example.com/a.png"
BASE_URL = "http://127.0.0.1:8000"


def fields_of(info: pytest.ExceptionInfo[InvalidRequest]) -> dict[str, str]:
    return {e.field: e.text() for e in info.value.errors}


def runway_create(**fields: Any) -> GenerationRequest:
    body = runway.ImageToVideo.model_validate(
        {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720", **fields}
    )
    return runway._to_request(body, CATALOG, BASE_URL, None)


def openai_create(image: ImageRef | None = ImageRef(url=IMAGE), **fields: Any) -> GenerationRequest:
    body = openai.CreateVideo.model_validate({"prompt": "a slow zoom", **fields})
    return openai._to_request(CATALOG, body, image, "fingerprint", BASE_URL, None)


def apiframe_create(**fields: Any) -> GenerationRequest:
    body = apiframe.GenerateVideo.model_validate(
        {"model": "runway-gen4-turbo", "runwayParams": {"image": IMAGE}, **fields}
    )
    return apiframe._to_request(body, CATALOG, BASE_URL, None)


@pytest.mark.parametrize(
    ("model", "ratio", "expected"),
    [
        ("gen4_turbo", "1280:720", "16:9"),
        ("gen4_turbo", "832:1104", "3:4"),
        ("gen3a_turbo", "768:1280", "9:16"),
    ],
)
def test_runways_ratio_is_a_frame_size_read_as_the_models_ratio(
    model: str, ratio: str, expected: str
) -> None:
    request = runway_create(model=model, ratio=ratio)
    assert (request.model, request.aspect_ratio) == (CATALOG.get(model, "runway").id, expected)


@pytest.mark.parametrize(
    "ratio",
    ["16:9", "1280x720", " 1280:720", "01280:720", "1280:720:1", "1280:", "9" * 5000 + ":720"],
)
def test_a_ratio_that_is_not_one_of_the_models_sizes_is_a_400_listing_them(ratio: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        runway_create(ratio=ratio)
    assert fields_of(info) == {
        "ratio": f"{ratio!r} is not a size of this model; use one of "
        "1280:720, 720:1280, 1104:832, 832:1104, 960:960, 1584:672"
    }


def test_runway_and_apiframe_take_their_own_model_names_only() -> None:
    assert apiframe_create().model == "runway/gen4_turbo"
    for create in (runway_create, apiframe_create):
        with pytest.raises(InvalidRequest) as info:
            create(model="runway/gen4_turbo")
        assert set(fields_of(info)) == {"model"}


def test_apiframes_event_names_become_vidgens_and_others_go_to_the_service_as_sent() -> None:
    request = apiframe_create(
        webhookUrl="https://example.com/hook",
        webhookEvents=["PROCESSING", "completed", "Bogus", "started"],
    )
    # "processing" and "started" are one event; whether "Bogus" is one is the service's to say.
    assert request.webhook_events == ("started", "completed", "Bogus")
    assert apiframe_create().webhook_events is None


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    [
        ("runway/gen4_turbo", "1280x720", "16:9"),
        ("runway/gen4_turbo", " 960X960 ", "1:1"),
        # No size: OpenAI's default where the model renders it, else the model's default ratio.
        ("runway/gen4_turbo", None, "9:16"),
        ("gen3a_turbo", None, "16:9"),
    ],
)
def test_openais_size_is_a_frame_size_read_as_the_models_ratio(
    model: str, size: str | None, expected: str
) -> None:
    assert openai_create(model=model, size=size).aspect_ratio == expected


@pytest.mark.parametrize("size", ["1024x1792", "16:9", "1280:720", "01280x720", "9" * 5000 + "x1"])
def test_a_size_the_model_does_not_render_is_a_400_listing_its_sizes(size: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        openai_create(model="gen3a_turbo", size=size)
    assert fields_of(info) == {
        "size": f"{size!r} is not offered by gen3a_turbo; use one of 1280x768, 768x1280"
    }


@pytest.mark.parametrize(
    ("seconds", "duration"), [("4", 4), (" 10 ", 10), ("11", 11), (None, None)]
)
def test_seconds_in_ascii_digits_are_the_duration_which_the_service_then_checks(
    seconds: str | None, duration: int | None
) -> None:
    assert openai_create(seconds=seconds).duration == duration


@pytest.mark.parametrize("seconds", ["²", "٣", "5.0", "-5", "", "1e1"])
def test_seconds_that_are_not_ascii_digits_are_a_400_naming_the_models_durations(
    seconds: str,
) -> None:
    with pytest.raises(InvalidRequest) as info:
        openai_create(seconds=seconds)
    assert fields_of(info) == {
        "seconds": f"{seconds!r} is not a whole number of seconds; runway/gen4_turbo takes "
        "from 2 to 10"
    }


def test_without_a_model_a_create_gets_the_catalogs_choice() -> None:
    assert openai_create().model == "runway/gen4_turbo"
    # A prompt alone: the first model that makes a video from text.
    assert openai_create(image=None).model == "runway/gen4.5"
    seeds = Catalog.build([CATALOG.get("runway/gen4_turbo"), CATALOG.get("gen3a_turbo")])
    body = openai.CreateVideo.model_validate({"prompt": "a slow zoom"})
    with pytest.raises(InvalidRequest) as info:
        openai._to_request(seeds, body, None, "fingerprint", BASE_URL, None)
    assert set(fields_of(info)) == {"first_image"}

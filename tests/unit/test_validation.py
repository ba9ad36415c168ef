"""The validation table: every per-model rule of API-NOTES §1, checked without a server."""

from __future__ import annotations

import dataclasses

import pytest

from vidgen.core.catalog import Catalog
from vidgen.core.models import CapturedImage, GenerationRequest, ImageRef, Kind
from vidgen.core.validation import detect_ratio, validate_request
from vidgen.errors import InvalidRequest

CATALOG = Catalog.build()
IMAGE = ImageRef(url="https://example.com/a.png")


def fields(model: str, **kwargs: object) -> dict[str, str]:
    spec = CATALOG.get(model)
    request = GenerationRequest(model=model, **{"first_image": IMAGE, **kwargs})  # type: ignore[arg-type]
    return {e.field: e.text() for e in validate_request(spec, request)}


@pytest.mark.parametrize("ratio", ["16:9", "9:16", "4:3", "3:4", "1:1", "21:9"])
def test_gen4_turbo_accepts_its_six_ratios(ratio: str) -> None:
    assert fields("runway/gen4_turbo", aspect_ratio=ratio) == {}


@pytest.mark.parametrize("ratio", ["16:9", "9:16"])
def test_gen3a_turbo_accepts_two_ratios(ratio: str) -> None:
    assert fields("gen3a_turbo", aspect_ratio=ratio) == {}


@pytest.mark.parametrize("ratio", ["4:3", "3:4", "1:1", "21:9", "2:1", "16x9", ""])
def test_gen3a_turbo_refuses_other_ratios_and_lists_the_valid_ones(ratio: str) -> None:
    reason = fields("gen3a_turbo", aspect_ratio=ratio)["aspect_ratio"]
    assert "16:9, 9:16" in reason


@pytest.mark.parametrize("duration", [5, 10])
def test_durations_five_and_ten_are_accepted(duration: int) -> None:
    assert fields("runway/gen4_turbo", duration=duration) == {}
    assert fields("gen3a_turbo", duration=duration) == {}


@pytest.mark.parametrize("duration", range(2, 11))
def test_gen4_turbo_takes_every_whole_second_from_2_to_10_as_runway_does(duration: int) -> None:
    assert fields("runway/gen4_turbo", duration=duration) == {}


@pytest.mark.parametrize("duration", [0, 1, 11, -5, 100])
def test_gen4_turbo_refuses_durations_outside_2_to_10(duration: int) -> None:
    assert "from 2 to 10" in fields("runway/gen4_turbo", duration=duration)["duration"]


@pytest.mark.parametrize("duration", [0, 1, 4, 6, 9, 11, -5, 100])
def test_gen3a_turbo_takes_only_5_or_10(duration: int) -> None:
    assert "5 or 10 seconds" in fields("gen3a_turbo", duration=duration)["duration"]


def test_gen4_turbo_keeps_the_published_prices_and_charges_1_6_a_second_otherwise() -> None:
    # 8 for 5 s and 15 for 10 s are aimlapi's and apiframe's prices; the durations only Runway
    # offers are priced at their rate, 1.6 a second, rounded up.
    prices = CATALOG.get("runway/gen4_turbo").prices
    assert prices == {2: 4, 3: 5, 4: 7, 5: 8, 6: 10, 7: 12, 8: 13, 9: 15, 10: 15}
    assert CATALOG.get("gen3a_turbo").prices == {5: 8, 10: 15}


def test_prompt_limit_is_1000_characters() -> None:
    assert fields("runway/gen4_turbo", prompt="x" * 1000) == {}
    assert "1000" in fields("runway/gen4_turbo", prompt="x" * 1001)["prompt"]


@pytest.mark.parametrize("seed", [0, 1, 4_294_967_295])
def test_seed_range_bounds_are_inclusive(seed: int) -> None:
    assert fields("runway/gen4_turbo", seed=seed) == {}


@pytest.mark.parametrize("seed", [-1, 4_294_967_296, 2**63])
def test_seed_outside_32_bits_is_refused(seed: int) -> None:
    assert "4294967295" in fields("runway/gen4_turbo", seed=seed)["seed"]


@pytest.mark.parametrize("model", ["runway/gen4_turbo", "gen3a_turbo"])
def test_runways_models_are_image_to_video_and_refuse_a_prompt_alone(model: str) -> None:
    spec = CATALOG.get(model)
    assert spec.requires_image
    errors = validate_request(spec, GenerationRequest(model=spec.id, prompt="a cat"))
    assert [e.field for e in errors] == ["first_image"]


def test_text_to_video_needs_a_prompt() -> None:
    spec = dataclasses.replace(CATALOG.get("runway/gen4_turbo"), requires_image=False)
    assert validate_request(spec, GenerationRequest(model=spec.id, prompt="a cat")) == []
    errors = validate_request(spec, GenerationRequest(model=spec.id, prompt="  "))
    assert [e.field for e in errors] == ["prompt"]


def test_tail_image_without_first_is_refused() -> None:
    spec = CATALOG.get("gen3a_turbo")
    errors = validate_request(spec, GenerationRequest(model=spec.id, prompt="p", last_image=IMAGE))
    assert {e.field for e in errors} == {"first_image", "last_image"}
    assert "first image" in dict((e.field, e.text()) for e in errors)["last_image"]


def test_a_request_without_a_model_gets_the_first_that_can_serve_it() -> None:
    assert CATALOG.default_for(has_image=True).id == "runway/gen4_turbo"
    assert CATALOG.default_for(has_image=False).id == "runway/gen4.5"
    seeds = Catalog.build([CATALOG.get("runway/gen4_turbo"), CATALOG.get("gen3a_turbo")])
    with pytest.raises(InvalidRequest) as info:
        seeds.default_for(has_image=False)
    error = info.value.errors[0]
    assert error.field == "first_image"
    assert "runway/gen4_turbo" in error.reason and "gen3a_turbo" in error.reason
    text = dataclasses.replace(
        CATALOG.get("gen3a_turbo"),
        requires_image=False,
        kinds=frozenset({Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO}),
    )
    mixed = Catalog.build([CATALOG.get("runway/gen4_turbo"), text])
    assert mixed.default_for(has_image=False).id == "gen3a_turbo"


def test_every_problem_is_reported_at_once() -> None:
    found = fields("gen3a_turbo", aspect_ratio="1:1", duration=7, seed=-3, prompt="y" * 2000)
    assert set(found) == {"aspect_ratio", "duration", "seed", "prompt"}


def test_unknown_model_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidRequest) as info:
        CATALOG.get("runway/gen5")
    assert info.value.errors[0].field == "model"
    assert "gen3a_turbo" in info.value.errors[0].reason
    assert "runway/gen4_turbo" in info.value.errors[0].reason


def test_model_aliases_resolve_to_the_canonical_id() -> None:
    assert CATALOG.get("gen4_turbo").id == "runway/gen4_turbo"


def _image(width: int, height: int) -> CapturedImage:
    return CapturedImage(data=b"", media_type="image/png", width=width, height=height, sha256="")


@pytest.mark.parametrize(
    ("size", "model", "expected"),
    [
        ((1920, 1080), "runway/gen4_turbo", "16:9"),
        ((1080, 1920), "runway/gen4_turbo", "9:16"),
        ((1000, 1000), "runway/gen4_turbo", "1:1"),
        ((1600, 1200), "runway/gen4_turbo", "4:3"),
        ((1200, 1600), "runway/gen4_turbo", "3:4"),
        ((2000, 1000), "runway/gen4_turbo", "16:9"),  # 21:9 lies beyond the 2:1 limit
        ((1000, 1000), "gen3a_turbo", "16:9"),  # ties go to the first listed ratio
        ((900, 1000), "gen3a_turbo", "9:16"),
        ((1280, 768), "gen3a_turbo", "16:9"),
    ],
)
def test_ratio_is_detected_as_the_nearest_supported_one(
    size: tuple[int, int], model: str, expected: str
) -> None:
    assert detect_ratio(CATALOG.get(model), _image(*size)) == expected


@pytest.mark.parametrize("size", [(2010, 1000), (1000, 2010), (3000, 500), (100, 1000)])
def test_ratio_detection_refuses_shapes_outside_half_to_double(size: tuple[int, int]) -> None:
    with pytest.raises(InvalidRequest) as info:
        detect_ratio(CATALOG.get("runway/gen4_turbo"), _image(*size))
    error = info.value.errors[0]
    assert error.field == "aspect_ratio"
    assert "between 0.5 and 2" in error.reason


@pytest.mark.parametrize(
    ("kind", "inputs"),
    [
        (Kind.IMAGE_TO_VIDEO, {"first_image": IMAGE}),
        (Kind.VIDEO_TO_VIDEO, {"first_image": None, "video": IMAGE}),
    ],
)
def test_a_model_that_needs_a_prompt_with_its_input_says_so_once_naming_the_model_and_kind(
    kind: Kind, inputs: dict[str, object]
) -> None:
    # Hailuo 3 needs a prompt for both its image to video and its video to video (the
    # catalog's prompt_required): one rule, so one message, whichever input came with it.
    found = fields("minimax/hailuo3", prompt="  ", kind=kind, **inputs)
    words = kind.value.replace("_", " ")
    assert found == {"prompt": f"is required for minimax/hailuo3's {words}"}

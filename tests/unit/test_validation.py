"""The validation table: every per-model rule of API-NOTES §1, checked without a server."""

from __future__ import annotations

import dataclasses

import pytest

from vidgen.core.catalog import Catalog
from vidgen.core.models import CapturedImage, GenerationRequest, ImageRef
from vidgen.core.validation import detect_ratio, validate_request
from vidgen.errors import InvalidRequest

CATALOG = Catalog.build()
IMAGE = ImageRef(url="https://example.com/a.png")


def fields(model: str, **kwargs: object) -> dict[str, str]:
    spec = CATALOG.get(model)
    request = GenerationRequest(model=model, **{"first_image": IMAGE, **kwargs})  # type: ignore[arg-type]
    return {e.field: e.reason for e in validate_request(spec, request)}


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


@pytest.mark.parametrize("duration", [0, 1, 4, 6, 9, 11, -5, 100])
def test_other_durations_are_refused(duration: int) -> None:
    assert "5, 10" in fields("runway/gen4_turbo", duration=duration)["duration"]


def test_prompt_limit_is_1000_characters() -> None:
    assert fields("runway/gen4_turbo", prompt="x" * 1000) == {}
    assert "1000" in fields("runway/gen4_turbo", prompt="x" * 1001)["prompt"]


@pytest.mark.parametrize("seed", [0, 1, 4_294_967_295])
def test_seed_range_bounds_are_inclusive(seed: int) -> None:
    assert fields("runway/gen4_turbo", seed=seed) == {}


@pytest.mark.parametrize("seed", [-1, 4_294_967_296, 2**63])
def test_seed_outside_32_bits_is_refused(seed: int) -> None:
    assert "4294967295" in fields("runway/gen4_turbo", seed=seed)["seed"]


def test_a_model_that_needs_an_image_refuses_a_prompt_alone() -> None:
    spec = dataclasses.replace(CATALOG.get("runway/gen4_turbo"), requires_image=True)
    errors = validate_request(spec, GenerationRequest(model=spec.id, prompt="a cat"))
    assert [e.field for e in errors] == ["first_image"]


def test_text_to_video_needs_a_prompt() -> None:
    spec = CATALOG.get("runway/gen4_turbo")
    assert validate_request(spec, GenerationRequest(model=spec.id, prompt="a cat")) == []
    errors = validate_request(spec, GenerationRequest(model=spec.id, prompt="  "))
    assert [e.field for e in errors] == ["prompt"]


def test_tail_image_without_first_is_refused() -> None:
    spec = CATALOG.get("gen3a_turbo")
    errors = validate_request(spec, GenerationRequest(model=spec.id, prompt="p", last_image=IMAGE))
    assert {e.field for e in errors} == {"last_image"}
    assert "first image" in errors[0].reason


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

"""What a dialect asks the catalog: the names it gives each model, and the aspect ratio of a frame
size in pixels (Runway's ``ratio``, OpenAI's ``size``), checked without a server."""

from __future__ import annotations

import pytest

from vidgen.core.catalog import DEFAULT_MODELS, Catalog, ModelSpec
from vidgen.core.open_models import OPEN_WEIGHT_MODELS
from vidgen.errors import InvalidRequest

CATALOG = Catalog.build()
GEN4 = CATALOG.get("runway/gen4_turbo")
GEN3A = CATALOG.get("gen3a_turbo")


@pytest.mark.parametrize(
    ("dialect", "name", "model"),
    [
        ("runway", "gen4_turbo", "runway/gen4_turbo"),
        ("runway", "gen3a_turbo", "gen3a_turbo"),
        ("apiframe", "runway-gen4-turbo", "runway/gen4_turbo"),
    ],
)
def test_a_dialect_that_names_models_its_own_way_finds_them_by_its_names(
    dialect: str, name: str, model: str
) -> None:
    assert CATALOG.get(name, dialect=dialect).id == model


@pytest.mark.parametrize(
    ("dialect", "name"),
    [
        # vidgen's ids and aliases are not Runway's names, nor apiframe's.
        ("runway", "runway/gen4_turbo"),
        ("apiframe", "runway/gen4_turbo"),
        ("apiframe", "gen4_turbo"),
        # apiframe has no name for gen3a_turbo, so it cannot ask for it.
        ("apiframe", "gen3a_turbo"),
    ],
)
def test_a_dialect_with_names_of_its_own_takes_no_other_name(dialect: str, name: str) -> None:
    assert CATALOG.find(name, dialect=dialect) is None


def test_without_a_dialect_a_model_is_found_by_its_id_or_an_alias() -> None:
    assert CATALOG.get("gen4_turbo").id == "runway/gen4_turbo"
    assert CATALOG.get("runway/gen3a_turbo").id == "gen3a_turbo"
    assert CATALOG.find("runway-gen4-turbo") is None


@pytest.mark.parametrize(
    ("dialect", "valid"),
    [
        (
            "runway",
            "valid models: gen4_turbo, gen3a_turbo, gen4.5, veo3.1, aleph2, act_two, "
            "magnific_video_upscaler_creative, enhance_frame_rate",
        ),
        ("apiframe", "valid models: runway-gen4-turbo"),
        (
            None,
            "valid models: enhance_frame_rate, gen3a_turbo, google/veo3.1, "
            "magnific_video_upscaler_creative, runway/act_two, runway/aleph2, runway/gen4.5, "
            "runway/gen4_turbo",
        ),
    ],
)
def test_an_unknown_model_lists_the_names_the_client_may_use(
    dialect: str | None, valid: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        CATALOG.get("gen9", dialect=dialect)
    (error,) = info.value.errors
    assert error.field == "model"
    assert error.reason == f"unknown model 'gen9'; {valid}"


def test_a_model_reads_by_the_dialects_name_or_else_by_vidgens_id() -> None:
    assert GEN4.name_in("runway") == "gen4_turbo"
    assert GEN4.name_in("apiframe") == "runway-gen4-turbo"
    # The README: gen3a_turbo has no apiframe id, so apiframe shows vidgen's.
    assert GEN3A.name_in("apiframe") == "gen3a_turbo"
    assert GEN4.name_in("aimlapi") == "runway/gen4_turbo"
    assert GEN4.name_in("openai") == "runway/gen4_turbo"


def test_a_stored_generation_of_a_model_no_longer_listed_reads_by_its_id() -> None:
    assert CATALOG.name_in("runway/gen4_turbo", "apiframe") == "runway-gen4-turbo"
    assert CATALOG.name_in("wan2.1-i2v-14b-480p", "apiframe") == "wan2.1-i2v-14b-480p"


def test_a_dialect_lists_only_the_models_it_has_names_for_in_catalog_order() -> None:
    wan = OPEN_WEIGHT_MODELS[0]
    routed = Catalog.build(routes={wan.id: "preview"})
    assert routed.find(wan.id) is wan
    assert list(routed.named_in("runway").items())[:2] == [
        ("gen4_turbo", GEN4),
        ("gen3a_turbo", GEN3A),
    ]
    assert wan.id not in {spec.id for spec in routed.named_in("runway").values()}
    assert routed.named_in("apiframe") == {"runway-gen4-turbo": GEN4}
    assert routed.named_in("aimlapi") == {}


def test_no_two_models_share_a_name_in_any_dialect() -> None:
    specs = (*DEFAULT_MODELS, *OPEN_WEIGHT_MODELS)
    dialects = {dialect for spec in specs for dialect in spec.dialect_names}
    for dialect in dialects:
        names = [spec.dialect_names[dialect] for spec in specs if dialect in spec.dialect_names]
        assert len(names) == len(set(names)), dialect


@pytest.mark.parametrize("spec", [*DEFAULT_MODELS, *OPEN_WEIGHT_MODELS], ids=lambda s: s.id)
def test_every_frame_size_names_its_ratio(spec: ModelSpec) -> None:
    for ratio in spec.ratios:
        assert spec.ratio_for_size(*spec.frame_size(ratio)) == ratio


@pytest.mark.parametrize(
    ("width", "height", "gen4", "gen3a"),
    [
        (1280, 720, "16:9", None),
        (720, 1280, "9:16", None),
        (1280, 768, None, "16:9"),
        (960, 960, "1:1", None),
        # The right shape at another size is not that size: nothing is scaled to fit.
        (1920, 1080, None, None),
        (1024, 1792, None, None),
        (0, 0, None, None),
    ],
)
def test_a_size_in_pixels_is_a_ratio_only_where_the_model_renders_exactly_that_size(
    width: int, height: int, gen4: str | None, gen3a: str | None
) -> None:
    assert GEN4.ratio_for_size(width, height) == gen4
    assert GEN3A.ratio_for_size(width, height) == gen3a


def test_a_default_size_the_model_lacks_gives_way_to_the_models_default_ratio() -> None:
    # OpenAI's default, 720x1280: gen4_turbo renders it; gen3a_turbo does not, and is not
    # refused for a size the client never asked for.
    assert GEN4.ratio_for_default_size(720, 1280) == "9:16"
    assert GEN3A.ratio_for_default_size(720, 1280) == GEN3A.default_ratio == "16:9"

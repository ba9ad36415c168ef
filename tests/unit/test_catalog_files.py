"""Catalog files: every entry is TOML, checked at start-up, with mistakes named by file, model
and field; an operator's file adds models or replaces built-in ones by id."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from vidgen.configuration import ConfigurationError, check_configuration
from vidgen.core.catalog import BUILTIN_MODELS, DEFAULT_MODELS, Catalog, CatalogFileError
from vidgen.core.catalog_files import read
from vidgen.core.models import Kind
from vidgen.settings import Settings

ENTRY = """
[[model]]
id = "acme/clip-1"
title = "Acme Clip 1"
kinds = ["text_to_video", "image_to_video"]
sizes = { "16:9" = [640, 352], "1:1" = [480, 480] }
default_ratio = "16:9"
durations = { min = 2, max = 6 }
default_duration = 4
fps = 12
requires_image = false
price = { per_second = "5/2", fixed = { 4 = 9 } }
engines = ["preview"]
"""


def test_an_entry_reads_as_the_model_it_describes() -> None:
    (spec,) = read(ENTRY, "acme.toml")
    assert spec.durations == (2, 3, 4, 5, 6)
    assert spec.frame_size("1:1") == (480, 480)
    # 2.5 credits a second rounded up, except the fixed price of 4 s.
    assert spec.prices == {2: 5, 3: 8, 4: 9, 5: 13, 6: 15}
    assert spec.credits_per_second == Fraction(5, 2)
    assert spec.kinds == {Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO}
    assert spec.frame_count(4) == 48
    assert spec.default_engine == "preview"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("fps = 12", "fps = 12\nframe_rate = 30"), "frame_rate"),
        (('default_ratio = "16:9"', 'default_ratio = "4:3"'), "default_ratio"),
        (("default_duration = 4", "default_duration = 9"), "default_duration"),
        (("kinds = [", 'kinds = ["telepathy", '), "kinds"),
        (('per_second = "5/2", ', ""), "price.per_second"),
        (('per_second = "5/2"', 'per_second = "1.5.2"'), "price.per_second"),
        (("sizes = {", 'sizes = { "2:1" = [0, 5], '), "sizes"),
        (
            (
                'engines = ["preview"]',
                'engines = ["preview"]\nretired = { on = "2026-06-10", engine = "runway" }',
            ),
            "retired.engine",
        ),
        (  # a host's ids, for an engine the entry does not name
            (
                'engines = ["preview"]',
                'engines = ["preview"]\nhosts = { fal = { image_to_video = "a/b", text_to_video = "a/c" } }',
            ),
            "hosts.fal",
        ),
        (  # no endpoint for a kind the model takes
            (
                'engines = ["preview"]',
                'engines = ["preview", "fal"]\nhosts = { fal = { image_to_video = "a/b" } }',
            ),
            "hosts.fal.text_to_video",
        ),
        (
            (
                'engines = ["preview"]',
                'engines = ["preview", "fal"]\nhosts = { fal = { image_to_video = "a/b", text_to_video = "a/c", duration_format = "s" } }',
            ),
            "hosts.fal.duration_format",
        ),
    ],
)
def test_a_mistake_is_named_by_file_model_and_field(change: tuple[str, str], named: str) -> None:
    with pytest.raises(CatalogFileError) as info:
        read(ENTRY.replace(*change), "acme.toml")
    message = str(info.value)
    assert message.startswith("acme.toml: model 'acme/clip-1': "), message
    assert named in message


def test_an_entry_without_an_id_is_named_by_its_place() -> None:
    with pytest.raises(CatalogFileError, match=r"acme.toml: model '#1': id: Field required"):
        read(ENTRY.replace('id = "acme/clip-1"\n', ""), "acme.toml")


def test_a_file_that_is_not_toml_is_refused_by_name() -> None:
    with pytest.raises(CatalogFileError, match=r"acme\.toml: not valid TOML"):
        read("[[model]\n", "acme.toml")


def test_an_operator_file_adds_a_model_and_replaces_a_built_in_one(tmp_path: Path) -> None:
    cheaper = read(ENTRY, "x")[0]
    path = tmp_path / "mine.toml"
    path.write_text(
        ENTRY
        + ENTRY.replace('"acme/clip-1"', '"runway/gen4_turbo"').replace("Acme Clip 1", "Mine"),
        encoding="utf-8",
    )
    catalog = Catalog.build(files=[path])
    assert catalog.get("acme/clip-1").prices == cheaper.prices
    # Replaced in its place, so it stays the default for a request with an image.
    assert catalog.get("runway/gen4_turbo").title == "Mine"
    assert next(iter(catalog.models)) == "runway/gen4_turbo"
    assert len(catalog.models) == len(DEFAULT_MODELS) + 1


def test_a_broken_operator_file_stops_start_up_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(ENTRY.replace("fps = 12", "fps = 0"), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=rf"{path}: model 'acme/clip-1': fps"):
        check_configuration(Settings(catalog_files=[str(path)]))
    with pytest.raises(ConfigurationError, match="cannot be read"):
        check_configuration(Settings(catalog_files=[str(tmp_path / "missing.toml")]))


def test_a_when_routed_entry_is_listed_only_where_routed(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(ENTRY.replace("engines", 'listed = "when_routed"\nengines'), encoding="utf-8")
    assert Catalog.build(files=[path]).find("acme/clip-1") is None
    routed = Catalog.build(files=[path], routes={"acme/clip-1": "preview"})
    assert routed.engine_for("acme/clip-1") == "preview"


def test_every_built_in_entry_states_its_engines_and_prices() -> None:
    for spec in BUILTIN_MODELS:
        assert spec.default_engine == spec.engines[0] == "preview", spec.id
        assert all(spec.price(d) >= 0 for d in spec.durations)

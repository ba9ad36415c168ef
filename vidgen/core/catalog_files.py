"""Catalog files: the TOML that every model entry is written in, read and checked at start-up.

vidgen's own entries are package data (``vidgen/core/catalog_data/*.toml``, one file per
provider family); an operator adds or replaces entries with files of the same shape
(``VIDGEN_CATALOG_FILES``). Each file is validated with pydantic (unknown keys refused) before
any entry is used, and a mistake stops start-up with a message naming the file, the model id
and the field: a model that an existing engine can serve is one entry, with no code.

The shape of a file (every key but ``id``, ``title``, ``sizes``, ``default_ratio``,
``durations``, ``default_duration`` and ``price`` is optional):

.. code-block:: toml

    prices_checked = "2026-12-04"          # default for the file's entries
    [sizes.gen4]                           # a size set the file's entries may name
    "16:9" = [1280, 720]

    [[model]]
    id = "runway/gen4_turbo"               # vidgen's id (aimlapi, OpenAI, the SDK)
    title = "Runway Gen-4 Turbo"
    aliases = ["gen4_turbo"]
    dialect_names = { runway = "gen4_turbo", apiframe = "runway-gen4-turbo" }
    kinds = ["image_to_video"]             # core.models.Kind values
    sizes = "gen4"                         # or an inline table ratio → [width, height]
    ratio_names = "size"                   # Runway's `ratio`: "1280:720" (size) or "16:9"
    video_names = { runway = "promptVideo" }   # the input video's field, where not `videoUri`
    prompt_required = ["video_to_video"]       # kinds that need a prompt even with an input
    ratios_by_kind = { text_to_video = ["16:9", "9:16"] }
    default_ratio = "16:9"
    durations = { min = 2, max = 10 }      # or a list: [5, 10]
    default_duration = 5
    fps = 24
    frame_step = 1                         # k × frame_step + 1 frames (Wan, LTX)
    requires_image = true                  # a first frame is required
    accepts_last_image = true
    max_references = 0
    max_prompt_chars = 1000
    price = { per_second = "8/5", fixed = { 5 = 8, 10 = 15 } }   # credits, exact fractions
    # estimate = true in `price`: no published price behind the figure
    engines = ["preview", "runway"]        # the first is the default route
    listed = "always"                      # or "when_routed"
    retired = { on = "2026-06-10", engine = "runway", note = "…" }
    description = "…"
    [model.hosts.fal]                      # a model host's ids (fal, replicate, gemini)
    image_to_video = "fal-ai/veo3.1/image-to-video"   # one per kind the model takes
    text_to_video = "fal-ai/veo3.1"
    duration_format = "{}s"                # durations as strings ("8s"); none: integers
    requires_prompt = true                 # a prompt also with an image
    [model.options.audio]                  # the model's own fields
    type = "bool"
    default = true
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from fractions import Fraction
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vidgen.core.model_spec import (
    HostedIds,
    Listing,
    ModelSpec,
    OptionSpec,
    RatioNames,
    Retirement,
)
from vidgen.core.models import Kind

__all__ = ["BUILTIN_FILES", "CatalogFileError", "builtin_files", "load_files", "merge", "read"]

#: vidgen's own files, in the order their entries are listed (the first entry that can serve a
#: request without a model is its default: ``Catalog.default_for``).
BUILTIN_FILES = ("runway.toml", "aimlapi.toml", "hosts.toml", "open_weight.toml")

Size = tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]]


class CatalogFileError(ValueError):
    """A catalog file cannot be used; the message names the file, the model and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Range(_Strict):
    min: int = Field(gt=0)
    max: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class _Price(_Strict):
    #: Credits per second of output, as an exact fraction ("8/5", "12"): a float would round
    #: 1.6 × 5 up to 9.
    per_second: str | None = None
    #: Seconds → credits, where a published price list names the price of a duration.
    fixed: dict[int, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    #: No published price behind the figure (see ``ModelSpec.price_estimate``).
    estimate: bool = False

    @field_validator("per_second")
    @classmethod
    def _fraction(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            rate = Fraction(value)
        except (ValueError, ZeroDivisionError):
            rate = Fraction(-1)
        if rate < 0:
            raise ValueError(f"must be a non-negative fraction such as '8/5' (got {value!r})")
        return value


class _Option(_Strict):
    type: Literal["bool", "int", "number", "string"]
    values: list[str | int | float] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    default: str | int | float | bool | None = None
    description: str = ""


class _Retired(_Strict):
    on: date
    engine: str
    note: str = ""


class _Hosted(_Strict):
    image_to_video: str | None = Field(None, min_length=1)
    text_to_video: str | None = Field(None, min_length=1)
    duration_format: str | None = None
    requires_prompt: bool = True

    @field_validator("duration_format")
    @classmethod
    def _one_slot(cls, value: str | None) -> str | None:
        if value is not None and value.count("{}") != 1:
            raise ValueError(f"must hold one {{}} for the seconds, as '{{}}s' does (got {value!r})")
        return value


class _Entry(_Strict):
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    dialect_names: dict[str, str] = Field(default_factory=dict)
    video_names: dict[str, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)
    kinds: list[Kind] = Field(default_factory=lambda: [Kind.IMAGE_TO_VIDEO], min_length=1)
    sizes: str | dict[str, Size]
    ratio_names: RatioNames = "size"
    ratios_by_kind: dict[Kind, list[str]] = Field(default_factory=dict)
    prompt_required: list[Kind] = Field(default_factory=list)
    default_ratio: str
    durations: list[Annotated[int, Field(gt=0)]] | _Range
    default_duration: int
    fps: int = Field(24, gt=0)
    frame_step: int = Field(1, gt=0)
    requires_image: bool = True
    accepts_last_image: bool = True
    max_references: int = Field(0, ge=0)
    max_prompt_chars: int = Field(1000, gt=0)
    price: _Price
    prices_checked: date | None = None
    engines: list[str] = Field(default_factory=lambda: ["preview"], min_length=1)
    listed: Listing = "always"
    retired: _Retired | None = None
    description: str = ""
    options: dict[str, _Option] = Field(default_factory=dict)
    hosts: dict[str, _Hosted] = Field(default_factory=dict)

    @field_validator("durations")
    @classmethod
    def _some_durations(cls, value: list[int] | _Range) -> list[int] | _Range:
        if isinstance(value, list) and not value:
            raise ValueError("must name at least one duration")
        return value


class _File(_Strict):
    prices_checked: date | None = None
    sizes: dict[str, dict[str, Size]] = Field(default_factory=dict)
    model: list[dict[str, Any]] = Field(default_factory=list)


def _problem(where: str, error: ValidationError) -> CatalogFileError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(the entry)"
    return CatalogFileError(f"{where}: {field}: {first['msg']}")


def _spec(
    entry: _Entry, sizes: Mapping[str, Mapping[str, tuple[int, int]]], checked: date | None
) -> ModelSpec:
    """The entry as a ``ModelSpec``; ValueError names the field that is wrong."""
    if isinstance(entry.sizes, str):
        if entry.sizes not in sizes:
            raise ValueError(
                f"sizes: no size set {entry.sizes!r} in this file ({', '.join(sizes) or 'none'})"
            )
        frame_sizes = dict(sizes[entry.sizes])
    else:
        frame_sizes = dict(entry.sizes)
    if not frame_sizes:
        raise ValueError("sizes: must name at least one ratio")
    if entry.default_ratio not in frame_sizes:
        raise ValueError(
            f"default_ratio: {entry.default_ratio!r} is not among sizes ({', '.join(frame_sizes)})"
        )
    for kind, ratios in entry.ratios_by_kind.items():
        if kind not in entry.kinds:
            raise ValueError(f"ratios_by_kind.{kind}: the model does not take {kind} (kinds)")
        unknown = [r for r in ratios if r not in frame_sizes]
        if unknown:
            raise ValueError(f"ratios_by_kind.{kind}: {', '.join(unknown)} not among sizes")
    stray = [str(k) for k in entry.prompt_required if k not in entry.kinds]
    if stray:
        raise ValueError(f"prompt_required: the model does not take {', '.join(stray)} (kinds)")
    if isinstance(entry.durations, _Range):
        durations = tuple(range(entry.durations.min, entry.durations.max + 1))
    else:
        durations = tuple(sorted(set(entry.durations)))
    if entry.default_duration not in durations:
        raise ValueError(f"default_duration: {entry.default_duration} is not among durations")
    unpriced = [d for d in durations if d not in entry.price.fixed]
    if unpriced and entry.price.per_second is None:
        raise ValueError(
            f"price.per_second: needed for {', '.join(map(str, unpriced))} s (no fixed price)"
        )
    if entry.retired is not None and entry.retired.engine not in entry.engines:
        raise ValueError(f"retired.engine: {entry.retired.engine!r} is not among engines")
    for engine, ids in entry.hosts.items():
        if engine not in entry.engines:
            raise ValueError(f"hosts.{engine}: {engine!r} is not among engines")
        for kind in (Kind.IMAGE_TO_VIDEO, Kind.TEXT_TO_VIDEO):
            given = getattr(ids, kind.value) is not None
            if given != (kind in entry.kinds):
                needed = "needs" if not given else "names"
                raise ValueError(
                    f"hosts.{engine}.{kind.value}: {needed} the host's endpoint id only where "
                    f"the model takes {kind.value} (kinds)"
                )
    checked = None if entry.price.estimate else entry.prices_checked or checked
    return ModelSpec(
        id=entry.id,
        title=entry.title,
        frame_sizes=MappingProxyType(frame_sizes),
        default_ratio=entry.default_ratio,
        durations=durations,
        default_duration=entry.default_duration,
        credits=MappingProxyType(dict(entry.price.fixed)),
        credits_per_second=None
        if entry.price.per_second is None
        else Fraction(entry.price.per_second),
        fps=entry.fps,
        frame_step=entry.frame_step,
        requires_image=entry.requires_image,
        accepts_last_image=entry.accepts_last_image,
        max_prompt_chars=entry.max_prompt_chars,
        default_engine=entry.engines[0],
        aliases=tuple(entry.aliases),
        dialect_names=MappingProxyType(dict(entry.dialect_names)),
        video_names=MappingProxyType(dict(entry.video_names)),
        description=entry.description,
        kinds=frozenset(entry.kinds),
        max_references=entry.max_references,
        options=MappingProxyType(
            {
                name: OptionSpec(
                    type=option.type,
                    values=tuple(option.values),
                    minimum=option.min,
                    maximum=option.max,
                    default=option.default,
                    description=option.description,
                )
                for name, option in entry.options.items()
            }
        ),
        engines=tuple(entry.engines),
        retired=None
        if entry.retired is None
        else Retirement(entry.retired.on.isoformat(), entry.retired.engine, entry.retired.note),
        ratios_by_kind=MappingProxyType({k: tuple(v) for k, v in entry.ratios_by_kind.items()}),
        prompt_required=frozenset(entry.prompt_required),
        ratio_names=entry.ratio_names,
        listed=entry.listed,
        prices_checked=None if checked is None else checked.isoformat(),
        price_estimate=entry.price.estimate,
        hosts=MappingProxyType(
            {
                engine: HostedIds(
                    image_to_video=ids.image_to_video,
                    text_to_video=ids.text_to_video,
                    duration_format=ids.duration_format,
                    requires_prompt=ids.requires_prompt,
                )
                for engine, ids in entry.hosts.items()
            }
        ),
    )


def read(text: str, name: str) -> list[ModelSpec]:
    """The entries of one catalog file (``name`` is how messages call it)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogFileError(f"{name}: not valid TOML: {exc}") from exc
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise _problem(name, exc) from exc
    specs: list[ModelSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(parsed.model):
        label = raw.get("id") if isinstance(raw.get("id"), str) else f"#{index + 1}"
        where = f"{name}: model {label!r}"
        try:
            entry = _Entry.model_validate(raw)
            spec = _spec(entry, parsed.sizes, parsed.prices_checked)
        except ValidationError as exc:
            raise _problem(where, exc) from exc
        except ValueError as exc:
            raise CatalogFileError(f"{where}: {exc}") from exc
        if spec.id in seen:
            raise CatalogFileError(f"{where}: id: listed twice in this file")
        seen.add(spec.id)
        specs.append(spec)
    return specs


def merge(*groups: Iterable[ModelSpec]) -> list[ModelSpec]:
    """Entries of later groups replace earlier ones of the same id, in the earlier one's
    place; new ids come after."""
    merged: dict[str, ModelSpec] = {}
    for group in groups:
        for spec in group:
            merged[spec.id] = spec
    return list(merged.values())


def _builtin(name: str) -> Traversable:
    return resources.files("vidgen.core").joinpath("catalog_data", name)


def builtin_files() -> dict[str, list[ModelSpec]]:
    """vidgen's own entries, file by file (``BUILTIN_FILES``, in order), each file read once;
    ``merge`` of the values is the built-in catalog."""
    return {n: read(_builtin(n).read_text(encoding="utf-8"), n) for n in BUILTIN_FILES}


def load_files(paths: Sequence[str | Path]) -> list[ModelSpec]:
    """An operator's catalog files, in order (a later entry replaces an earlier one)."""
    groups: list[list[ModelSpec]] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogFileError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
        groups.append(read(text, str(path)))
    return merge(*groups)

"""The model catalog: data, not code paths.

Each public model id states what it accepts (ratios and the frame size of each, durations, whether
it needs a first image and can take a last one), its frame rate, its price, and the engine that
serves it unless ``VIDGEN_ROUTES`` says otherwise. The service validates every request against
its entry, so no engine or dialect repeats these rules: a model takes the same durations, and
needs an image or not, in every dialect.

A dialect only translates, and asks the catalog what its words mean: the name it gives a model
(``dialect_names``: Runway's ``gen4_turbo``, apiframe's ``runway-gen4-turbo``), the aspect ratio
of a frame size in pixels (Runway's ``ratio``, OpenAI's ``size``: ``ratio_for_size``), and the
model a request that names none gets (``default_for``).

Prices are credits per second of output, rounded up to whole credits, except for the durations
that a published price list names (``credits``): Runway's gen4_turbo costs 8 credits for 5 s and
15 for 10 s at aimlapi and apiframe, which is 1.6 a second for the other durations Runway
accepts (2 s → 4, 7 s → 12, 9 s → 15).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Literal

from vidgen.core.models import Kind
from vidgen.errors import InvalidRequest

__all__ = [
    "DEFAULT_MODELS",
    "DETECTABLE_RATIO_RANGE",
    "GEN3A_SIZES",
    "GEN4_SIZES",
    "PROVIDER_MODELS",
    "Catalog",
    "ModelSpec",
    "OptionSpec",
    "Retirement",
]

#: Runway-class frame sizes (API-NOTES §1 and §3).
GEN4_SIZES = {
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "4:3": (1104, 832),
    "3:4": (832, 1104),
    "1:1": (960, 960),
    "21:9": (1584, 672),
}
GEN3A_SIZES = {"16:9": (1280, 768), "9:16": (768, 1280)}

#: The aspect-ratio window in which a ratio may be detected from the image (aimlapi's rule).
DETECTABLE_RATIO_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class OptionSpec:
    """One of a model's own request fields (``audio``, ``negative_prompt``, ``resolution``…):
    its type, the values or range it takes, and its default."""

    type: Literal["bool", "int", "number", "string"]
    values: tuple[str | int | float, ...] = ()  # empty: any value of the type
    minimum: float | None = None
    maximum: float | None = None
    default: str | int | float | bool | None = None
    description: str = ""


@dataclass(frozen=True)
class Retirement:
    """A provider stopped serving the model on ``on``: requests routed to ``engine`` are
    refused with a 400 that says so, unless the operator names a substitute."""

    on: str  # ISO date
    engine: str
    note: str = ""


@dataclass(frozen=True)
class ModelSpec:
    id: str
    title: str
    frame_sizes: Mapping[str, tuple[int, int]]
    default_ratio: str
    durations: tuple[int, ...]
    default_duration: int
    #: Prices a published price list fixes (seconds → credits); they win over the per-second rate.
    credits: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    # The price of every other duration, rounded up to whole credits. Exact (a Fraction, never a
    # float: 1.6 × 5 in floats is 8.000000000000002, which rounds up to 9).
    credits_per_second: Fraction | None = None
    fps: int = 24
    # Models whose VAE compresses time (Wan, LTX) take k × frame_step + 1 frames, not any count.
    frame_step: int = 1
    requires_image: bool = True
    accepts_last_image: bool = True
    max_prompt_chars: int = 1000
    default_engine: str = "preview"
    #: Other names for the model where models go by vidgen's ids (aimlapi, OpenAI, the SDK).
    aliases: tuple[str, ...] = ()
    #: The model's name in each dialect that names models its own way (dialect → name): Runway's
    #: API calls gen4_turbo ``gen4_turbo``, apiframe ``runway-gen4-turbo``. Such a dialect takes
    #: only these names, and shows vidgen's id for a model it has no name for (``name_in``).
    dialect_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    #: What the model does (``Kind``): image to video unless said otherwise.
    kinds: frozenset[Kind] = frozenset({Kind.IMAGE_TO_VIDEO})
    #: Reference images a request may carry (``GenerationRequest.references``).
    max_references: int = 0
    #: The model's own fields, by canonical name (``GenerationRequest.options``).
    options: Mapping[str, OptionSpec] = field(default_factory=lambda: MappingProxyType({}))
    #: The engines that can serve the model; the first is the default route.
    engines: tuple[str, ...] = ("preview",)
    #: Set when a provider retired the model (see ``Retirement``).
    retired: Retirement | None = None

    def __post_init__(self) -> None:
        unpriced = [d for d in self.durations if d not in self.credits]
        if unpriced and self.credits_per_second is None:
            raise ValueError(f"{self.id}: no price for {unpriced} s (set credits_per_second)")

    @property
    def ratios(self) -> tuple[str, ...]:
        return tuple(self.frame_sizes)

    def frame_size(self, ratio: str) -> tuple[int, int]:
        """The frame size (width, height) of an aspect ratio: how a dialect that speaks in
        pixels (Runway's ``ratio``, OpenAI's ``size``) renders it."""
        return self.frame_sizes[ratio]

    def ratio_for_size(self, width: int, height: int) -> str | None:
        """The aspect ratio whose frame size is exactly ``width``×``height``; None when the
        model renders no such size (nothing is scaled to fit)."""
        for ratio, size in self.frame_sizes.items():
            if size == (width, height):
                return ratio
        return None

    def ratio_for_default_size(self, width: int, height: int) -> str:
        """A dialect's default frame size (OpenAI's 720×1280) as one of this model's ratios:
        that size's ratio where the model renders it, else the model's default ratio. The
        client never asked for that size, so a model without it is not a reason to refuse."""
        return self.ratio_for_size(width, height) or self.default_ratio

    def name_in(self, dialect: str) -> str:
        """What ``dialect`` calls this model: its own name, or vidgen's id where it has none."""
        return self.dialect_names.get(dialect, self.id)

    def frame_count(self, duration: int) -> int:
        if self.frame_step > 1:
            # The nearest valid count: 5 s at 16 fps is 81 frames for Wan (4k+1), not 80.
            return round((duration * self.fps - 1) / self.frame_step) * self.frame_step + 1
        return duration * self.fps

    def price(self, duration: int) -> int:
        fixed = self.credits.get(duration)
        if fixed is not None or self.credits_per_second is None:
            return self.credits[duration]
        return math.ceil(self.credits_per_second * duration)

    @property
    def prices(self) -> dict[int, int]:
        """Every accepted duration → its price."""
        return {d: self.price(d) for d in self.durations}

    def describe_durations(self) -> str:
        """``5 or 10`` or ``from 2 to 10`` (every whole second between), for messages and docs."""
        *head, last = self.durations
        if len(head) > 1 and self.durations == tuple(range(head[0], last + 1)):
            return f"from {head[0]} to {last}"
        return f"{', '.join(map(str, head))} or {last}" if head else str(last)


DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="runway/gen4_turbo",
        title="Runway Gen-4 Turbo",
        frame_sizes=MappingProxyType(GEN4_SIZES),
        default_ratio="16:9",
        # Runway's current rule for gen4_turbo (any whole second from 2 to 10); aimlapi's and
        # apiframe's docs still list 5 and 10 only, which this includes.
        durations=tuple(range(2, 11)),
        default_duration=5,
        credits_per_second=Fraction(8, 5),
        credits=MappingProxyType({5: 8, 10: 15}),
        aliases=("gen4_turbo",),
        dialect_names=MappingProxyType({"runway": "gen4_turbo", "apiframe": "runway-gen4-turbo"}),
        # Image to video only, as Runway and aimlapi serve it: Runway's gen4_turbo has no
        # text-to-video, so a prompt alone is refused in every dialect.
        requires_image=True,
        description="Image to video, 720p class, six aspect ratios, 2 to 10 s.",
    ),
    ModelSpec(
        id="gen3a_turbo",
        title="Runway Gen-3 Alpha Turbo",
        frame_sizes=MappingProxyType(GEN3A_SIZES),
        default_ratio="16:9",
        durations=(5, 10),
        default_duration=5,
        credits_per_second=Fraction(8, 5),
        credits=MappingProxyType({5: 8, 10: 15}),
        aliases=("runway/gen3a_turbo",),
        # apiframe has no name for it (its jobs read by vidgen's id there).
        dialect_names=MappingProxyType({"runway": "gen3a_turbo"}),
        requires_image=True,
        description="Image to video, 1280×768 or 768×1280, 5 or 10 s.",
    ),
)


# -- models of the hosts (issue 15): fal, Replicate, the Gemini API ---------------------------
# Listed only where routed (a key set, or VIDGEN_ROUTES), like the open-weight models. Each
# takes a prompt alone or a first image (text or image to video). In the Runway and apiframe
# dialects each goes by its vidgen id: Runway's own name (veo3.1) would be one model at Runway
# but several here. Prices are credits (US$0.01) per second at the host's list price in late 2026: Veo 3.1
# with audio 40, Veo 3.1 Fast 15 (FIELD-2026); Kling 2.5 Turbo Pro 7; Wan 2.5 at 720p 10.
_BOTH_KINDS = frozenset({Kind.IMAGE_TO_VIDEO, Kind.TEXT_TO_VIDEO})
_VEO_SIZES = {"16:9": (1280, 720), "9:16": (720, 1280)}
_KLING_SIZES = {"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080)}


def _hosted(
    model_id: str,
    title: str,
    engine: str,
    sizes: Mapping[str, tuple[int, int]],
    durations: tuple[int, ...],
    per_second: int,
    description: str,
) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        title=title,
        frame_sizes=MappingProxyType(dict(sizes)),
        default_ratio="16:9",
        durations=durations,
        default_duration=durations[0],
        credits_per_second=Fraction(per_second),
        requires_image=False,
        accepts_last_image=False,
        default_engine=engine,
        engines=(engine,),
        kinds=_BOTH_KINDS,
        dialect_names=MappingProxyType({"runway": model_id, "apiframe": model_id}),
        description=description,
    )


PROVIDER_MODELS: tuple[ModelSpec, ...] = (
    _hosted(
        "replicate/kling-v2.5-turbo-pro",
        "Kling 2.5 Turbo Pro on Replicate",
        "replicate",
        _KLING_SIZES,
        (5, 10),
        7,
        "Text or image to video, 1080p, 5 or 10 s (kwaivgi/kling-v2.5-turbo-pro).",
    ),
    _hosted(
        "replicate/wan-2.5",
        "Wan 2.5 on Replicate",
        "replicate",
        _VEO_SIZES,
        (5, 10),
        10,
        "Text or image to video, 720p, 5 or 10 s (wan-video/wan-2.5-i2v, wan-2.5-t2v).",
    ),
    _hosted(
        "fal/kling-v2.5-turbo-pro",
        "Kling 2.5 Turbo Pro on fal",
        "fal",
        _KLING_SIZES,
        (5, 10),
        7,
        "Text or image to video, 1080p, 5 or 10 s (fal-ai/kling-video/v2.5-turbo/pro).",
    ),
    _hosted(
        "fal/veo3.1",
        "Veo 3.1 on fal",
        "fal",
        _VEO_SIZES,
        (4, 6, 8),
        40,
        "Text or image to video with audio, 720p, 4, 6 or 8 s (fal-ai/veo3.1).",
    ),
    _hosted(
        "gemini/veo-3.1",
        "Veo 3.1 on the Gemini API",
        "gemini",
        _VEO_SIZES,
        (4, 6, 8),
        40,
        "Text or image to video with audio, 720p, 4, 6 or 8 s (veo-3.1-generate-preview).",
    ),
    _hosted(
        "gemini/veo-3.1-fast",
        "Veo 3.1 Fast on the Gemini API",
        "gemini",
        _VEO_SIZES,
        (4, 6, 8),
        15,
        "Text or image to video with audio, 720p, 4, 6 or 8 s (veo-3.1-fast-generate-preview).",
    ),
)
# -- end of the hosts' models ------------------------------------------------------------------


@dataclass
class Catalog:
    """Public model ids → specs, plus the routing to engines that is in force."""

    models: dict[str, ModelSpec]
    routes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls, models: Iterable[ModelSpec] | None = None, routes: Mapping[str, str] | None = None
    ) -> Catalog:
        if models is None:
            # Imported here: open_models builds its entries from ModelSpec above.
            from vidgen.core.open_models import OPEN_WEIGHT_MODELS

            # An open-weight model is listed where an operator routes it (to `diffusers`, or to
            # `preview` to emulate it), not on every server.
            named = set(routes or {})
            models = (
                *DEFAULT_MODELS,
                *(m for m in (*PROVIDER_MODELS, *OPEN_WEIGHT_MODELS) if m.id in named),
            )
        catalog = cls({m.id: m for m in models})
        for model_id, engine in (routes or {}).items():
            catalog.routes[catalog.get(model_id).id] = engine
        return catalog

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models.values())

    def find(self, name: str, dialect: str | None = None) -> ModelSpec | None:
        """The model called ``name``: by vidgen's id or an alias, or, with ``dialect`` (one
        that names models its own way, such as Runway's), by that dialect's name only."""
        if dialect is not None:
            return self.named_in(dialect).get(name)
        if name in self.models:
            return self.models[name]
        for spec in self.models.values():
            if name in spec.aliases:
                return spec
        return None

    def get(self, name: str, dialect: str | None = None) -> ModelSpec:
        """``find``, or a 400 naming ``model`` that lists the names the client may use."""
        spec = self.find(name, dialect)
        if spec is None:
            valid = ", ".join(sorted(self.models) if dialect is None else self.named_in(dialect))
            raise InvalidRequest.single("model", f"unknown model {name!r}; valid models: {valid}")
        return spec

    def named_in(self, dialect: str) -> dict[str, ModelSpec]:
        """The models ``dialect`` has names for, by those names, in the catalog's order."""
        return {
            spec.dialect_names[dialect]: spec
            for spec in self.models.values()
            if dialect in spec.dialect_names
        }

    def name_in(self, model_id: str, dialect: str) -> str:
        """What ``dialect`` calls a stored generation's model. A model no longer in the
        catalog (an open-weight model routed before a restart, not now) reads by its id."""
        spec = self.models.get(model_id)
        return spec.name_in(dialect) if spec is not None else model_id

    def default_for(self, *, has_image: bool) -> ModelSpec:
        """The model a request that names none gets: the first one that can serve it (one
        that takes a prompt alone when there is no image)."""
        for spec in self.models.values():
            if has_image or not spec.requires_image:
                return spec
        raise InvalidRequest.single(
            "first_image",
            "is required: every model here needs a first image "
            f"({', '.join(self.models)}); none makes a video from a prompt alone",
        )

    def engine_for(self, model_id: str) -> str:
        spec = self.get(model_id)
        return self.routes.get(spec.id, spec.default_engine)

"""One model's catalog entry (``ModelSpec``) and its parts: what the model accepts, what it
produces, what it costs, and which engines serve it.

Entries are written as data (``vidgen/core/catalog_data/*.toml``, read by
``vidgen.core.catalog_files``); this module is only their shape, so that the loader and the
catalog both build on it without importing each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Literal

from vidgen.core.models import Kind

__all__ = ["HostedIds", "Listing", "ModelSpec", "OptionSpec", "RatioNames", "Retirement"]

#: ``always``: every server lists the model. ``when_routed``: only a server whose
#: ``VIDGEN_ROUTES`` names it (the open-weight models: ``diffusers`` on a GPU machine, or
#: ``preview`` to emulate them).
Listing = Literal["always", "when_routed"]
#: How a dialect that names a frame (Runway's ``ratio``) spells one of this model's ratios: by
#: its frame size in pixels (``1280:720``, most of Runway's models) or by the aspect ratio
#: itself (``16:9``: Runway's hailuo3 and grok_imagine_1_5, which take no size).
RatioNames = Literal["size", "aspect"]


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
class HostedIds:
    """How a model host (the ``fal``, ``replicate`` and ``gemini`` engines) names the model: the
    host's id of the endpoint for each kind (one endpoint may serve both)."""

    image_to_video: str | None = None
    text_to_video: str | None = None
    #: How the host's schema spells a duration, where it wants a string: ``"{}"`` for "5",
    #: ``"{}s"`` for "8s"; None for an integer.
    duration_format: str | None = None
    #: Whether the host wants a prompt with an image too (Kling and Wan do; Veo on the Gemini
    #: API does not), so that a request without one is refused at submit, not by the host.
    requires_prompt: bool = True


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
    #: The input video's field in each API that names it per model (API → field): Runway's
    #: video_to_video takes ``promptVideo`` from Kling O3, Hailuo and Seedance, and ``videoUri``
    #: from the rest (``video_name_in``). Keyed as ``dialect_names`` is: ``runway`` is both
    #: the Runway dialect and the runway engine, which speak the same API.
    video_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
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
    #: Where a kind takes fewer ratios than the model renders (Runway's gen4.5 draws six from
    #: an image, two from a prompt alone): kind → those ratios. An empty tuple: the kind takes
    #: no ratio at all, the output keeps the input's framing.
    ratios_by_kind: Mapping[Kind, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: The kinds that need a prompt even with an image or a video to work from (Runway's
    #: gen4.5 and Kling O3 video to video, where the SDK types ``promptText`` as required). Text
    #: to video always needs one.
    prompt_required: frozenset[Kind] = frozenset()
    #: See ``RatioNames``.
    ratio_names: RatioNames = "size"
    #: See ``Listing``.
    listed: Listing = "always"
    #: The day the prices were last checked against the provider's published list (ISO date);
    #: None where no published price exists (self-hosted models, estimates).
    prices_checked: str | None = None
    #: True where no published price is behind the figure (a model's class, to be checked).
    price_estimate: bool = False
    #: True for a model only the ``aimlapi`` engine's upstream knows (``VIDGEN_AIMLAPI_MODELS``):
    #: vidgen has no entry of its own, so its rules here are permissive and the upstream's own
    #: checks decide.
    passthrough: bool = False
    #: Model host engine → the host's ids of the model (``HostedIds``).
    hosts: Mapping[str, HostedIds] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        unpriced = [d for d in self.durations if d not in self.credits]
        if unpriced and self.credits_per_second is None:
            raise ValueError(f"{self.id}: no price for {unpriced} s (set credits_per_second)")

    @property
    def ratios(self) -> tuple[str, ...]:
        return tuple(self.frame_sizes)

    def ratios_for(self, kind: Kind) -> tuple[str, ...]:
        """The ratios a request of ``kind`` may ask for (``ratios_by_kind``, else all)."""
        return self.ratios_by_kind.get(kind, self.ratios)

    def ratio_name(self, ratio: str) -> str:
        """How a dialect that names a frame (Runway's ``ratio``) spells ``ratio``: its frame
        size as ``W:H`` pixels, or the ratio itself (``ratio_names``)."""
        if self.ratio_names == "aspect":
            return ratio
        width, height = self.frame_sizes[ratio]
        return f"{width}:{height}"

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

    def takes(self, kind: Kind) -> bool:
        """Whether the model does ``kind``. Entries that state image to video only (the
        default) still take a prompt alone where they do not require an image:
        ``requires_image`` said so before kinds existed."""
        legacy = self.kinds == {Kind.IMAGE_TO_VIDEO} and not self.requires_image
        return kind in self.kinds or (kind is Kind.TEXT_TO_VIDEO and legacy)

    @property
    def only_kind(self) -> Kind | None:
        """The kind a request for this model is, whatever its inputs say, when the model does
        one thing other than text or image to video (aleph2: video to video)."""
        if len(self.kinds) == 1 and not self.takes(Kind.TEXT_TO_VIDEO):
            (kind,) = self.kinds
            return kind if kind is not Kind.IMAGE_TO_VIDEO else None
        return None

    def name_in(self, dialect: str) -> str:
        """What ``dialect`` calls this model: its own name, or vidgen's id where it has none."""
        return self.dialect_names.get(dialect, self.id)

    def video_name_in(self, api: str, default: str) -> str:
        """What ``api`` calls this model's input video: its own name, else ``default``."""
        return self.video_names.get(api, default)

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

"""The model catalog: data, not code paths.

Each public model id states what it accepts (ratios and the frame size of each, durations, whether
it needs a first image and can take a last one), its frame rate, its price, and the engine that
serves it unless ``VIDGEN_ROUTES`` says otherwise. The service validates every request against
its entry, so no engine or dialect repeats these rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vidgen.errors import InvalidRequest

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
class ModelSpec:
    id: str
    title: str
    frame_sizes: Mapping[str, tuple[int, int]]
    default_ratio: str
    durations: tuple[int, ...]
    default_duration: int
    credits: Mapping[int, int]  # seconds → credits
    fps: int = 24
    # Models whose VAE compresses time (Wan, LTX) take k × frame_step + 1 frames, not any count.
    frame_step: int = 1
    requires_image: bool = True
    accepts_last_image: bool = True
    max_prompt_chars: int = 1000
    default_engine: str = "preview"
    aliases: tuple[str, ...] = ()
    description: str = ""

    @property
    def ratios(self) -> tuple[str, ...]:
        return tuple(self.frame_sizes)

    def frame_size(self, ratio: str) -> tuple[int, int]:
        return self.frame_sizes[ratio]

    def frame_count(self, duration: int) -> int:
        if self.frame_step > 1:
            # The nearest valid count: 5 s at 16 fps is 81 frames for Wan (4k+1), not 80.
            return round((duration * self.fps - 1) / self.frame_step) * self.frame_step + 1
        return duration * self.fps

    def price(self, duration: int) -> int:
        return self.credits[duration]


DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="runway/gen4_turbo",
        title="Runway Gen-4 Turbo",
        frame_sizes=MappingProxyType(GEN4_SIZES),
        default_ratio="16:9",
        durations=(5, 10),
        default_duration=5,
        credits=MappingProxyType({5: 8, 10: 15}),
        aliases=("gen4_turbo",),
        # The aimlapi and Runway dialects require a first frame; apiframe's and OpenAI's also
        # allow a prompt alone, which the preview engine renders as a painted scene.
        requires_image=False,
        description="Image to video (or text to video), 720p class, six aspect ratios, 5 or 10 s.",
    ),
    ModelSpec(
        id="gen3a_turbo",
        title="Runway Gen-3 Alpha Turbo",
        frame_sizes=MappingProxyType(GEN3A_SIZES),
        default_ratio="16:9",
        durations=(5, 10),
        default_duration=5,
        credits=MappingProxyType({5: 8, 10: 15}),
        aliases=("runway/gen3a_turbo",),
        requires_image=False,
        description="Image to video, 1280×768 or 768×1280, 5 or 10 s.",
    ),
)


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
            models = (*DEFAULT_MODELS, *(m for m in OPEN_WEIGHT_MODELS if m.id in named))
        catalog = cls({m.id: m for m in models})
        for model_id, engine in (routes or {}).items():
            catalog.routes[catalog.get(model_id).id] = engine
        return catalog

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models.values())

    def find(self, model_id: str) -> ModelSpec | None:
        if model_id in self.models:
            return self.models[model_id]
        for spec in self.models.values():
            if model_id in spec.aliases:
                return spec
        return None

    def get(self, model_id: str) -> ModelSpec:
        spec = self.find(model_id)
        if spec is None:
            valid = ", ".join(sorted(self.models))
            raise InvalidRequest.single(
                "model", f"unknown model {model_id!r}; valid models: {valid}"
            )
        return spec

    def engine_for(self, model_id: str) -> str:
        spec = self.get(model_id)
        return self.routes.get(spec.id, spec.default_engine)

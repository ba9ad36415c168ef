"""The model catalog: data, not code paths.

Every model is an entry of a TOML file: vidgen's own in ``vidgen/core/catalog_data/`` (one file
per provider family: Runway's API, AI/ML API's own entries, the open-weight models), and the
operator's in the files ``VIDGEN_CATALOG_FILES`` names, whose entries add models or replace
built-in ones by id. ``catalog_files`` reads and checks them with pydantic when this module is
first imported (a mistake names the file, the model and the field) into ``ModelSpec``s
(``model_spec``): a model that an existing engine can serve is one entry, with no code.

Each entry states what the model accepts (the kinds of request, ratios and the frame size of
each, durations, whether it needs a first image and can take a last one, reference images, its
own fields), its frame rate and frame rule, its price, the engines that can serve it (the first
is its route unless ``VIDGEN_ROUTES`` says otherwise) and, for a retired model, where and when
it was retired. The service validates every request against its entry, so no engine or dialect
repeats these rules: a model takes the same durations, and needs an image or not, in every
dialect. ``GET /v1/models``, ``vidgen models``, the playground and the README's tables
(``catalog_tables``) all read it.

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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from vidgen.core.catalog_files import CatalogFileError, builtin_files, load_files, merge
from vidgen.core.model_spec import ModelSpec, OptionSpec, Retirement
from vidgen.core.models import Kind
from vidgen.errors import InvalidRequest
from vidgen.settings import PASSTHROUGH_CREDITS_PER_SECOND

__all__ = [
    "BUILTIN_MODELS",
    "DEFAULT_MODELS",
    "DETECTABLE_RATIO_RANGE",
    "GEN3A_SIZES",
    "GEN4_SIZES",
    "OPEN_WEIGHT_MODELS",
    "PROVIDER_MODELS",
    "Catalog",
    "CatalogFileError",
    "ModelSpec",
    "OptionSpec",
    "Retirement",
    "passthrough_model",
]

#: The aspect-ratio window in which a ratio may be detected from the image (aimlapi's rule).
DETECTABLE_RATIO_RANGE = (0.5, 2.0)

#: vidgen's own entries (``catalog_data/*.toml``), read and checked when vidgen starts.
_FILES = builtin_files()
BUILTIN_MODELS: tuple[ModelSpec, ...] = tuple(merge(*_FILES.values()))
#: The entries every server lists.
DEFAULT_MODELS: tuple[ModelSpec, ...] = tuple(m for m in BUILTIN_MODELS if m.listed == "always")
#: The open-weight models (``open_weight.toml``), listed only where ``VIDGEN_ROUTES`` names them.
OPEN_WEIGHT_MODELS: tuple[ModelSpec, ...] = tuple(_FILES["open_weight.toml"])
#: The model hosts' models (``hosts.toml``: Replicate, fal, the Gemini API), listed where routed
#: (their host's key set, or ``VIDGEN_ROUTES``).
PROVIDER_MODELS: tuple[ModelSpec, ...] = tuple(_FILES["hosts.toml"])
_BY_ID = {m.id: m for m in BUILTIN_MODELS}
#: Runway-class frame sizes (API-NOTES §1 and §3), and Gen-3 Alpha Turbo's.
GEN4_SIZES: Mapping[str, tuple[int, int]] = _BY_ID["runway/gen4_turbo"].frame_sizes
GEN3A_SIZES: Mapping[str, tuple[int, int]] = _BY_ID["gen3a_turbo"].frame_sizes

#: The frames a model only the upstream knows may be asked for: aimlapi's usual aspect ratios
#: (the size is nominal: the upstream renders what it renders, and vidgen stores that).
_PASSTHROUGH_SIZES: Mapping[str, tuple[int, int]] = {
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "1:1": (960, 960),
    "4:3": (1104, 832),
    "3:4": (832, 1104),
    "21:9": (1584, 672),
}


def passthrough_model(model_id: str) -> ModelSpec:
    """The entry of a model the ``aimlapi`` engine's upstream serves and vidgen's catalog lacks
    (``VIDGEN_AIMLAPI_MODELS``): permissive, so the upstream's own checks decide."""
    return ModelSpec(
        id=model_id,
        title=model_id,
        frame_sizes=_PASSTHROUGH_SIZES,
        default_ratio="16:9",
        durations=tuple(range(1, 31)),
        default_duration=5,
        credits_per_second=Fraction(PASSTHROUGH_CREDITS_PER_SECOND),
        requires_image=False,
        default_engine="aimlapi",
        description="Served by the aimlapi upstream as sent (VIDGEN_AIMLAPI_MODELS or its own list).",
        kinds=frozenset({Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO}),
        engines=("aimlapi",),
        price_estimate=True,
        passthrough=True,
    )


@dataclass
class Catalog:
    """Public model ids → specs, plus the routing to engines that is in force."""

    models: dict[str, ModelSpec]
    routes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        models: Iterable[ModelSpec] | None = None,
        routes: Mapping[str, str] | None = None,
        files: Sequence[str | Path] = (),
        passthrough: Sequence[str] = (),
    ) -> Catalog:
        """The catalog in force: ``models`` as given, or vidgen's own entries with the
        operator's ``files`` (``VIDGEN_CATALOG_FILES``) over them, an entry of a file replacing
        a built-in one of the same id. A ``when_routed`` entry (an open-weight model) is listed
        only where ``routes`` names it (to ``diffusers``, or to ``preview`` to emulate it).
        Each id of ``passthrough`` (``VIDGEN_AIMLAPI_MODELS``, and with
        ``VIDGEN_AIMLAPI_READ_MODELS`` the upstream's own list) that no entry has, by id or
        alias, is added as ``passthrough_model``."""
        if models is None:
            named = set(routes or {})
            models = [
                m
                for m in merge(BUILTIN_MODELS, load_files(files))
                if m.listed == "always" or m.id in named
            ]
        catalog = cls({m.id: m for m in models})
        for model_id in passthrough:
            if catalog.find(model_id) is None:
                catalog.models[model_id] = passthrough_model(model_id)
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
        """The model a request that names none gets: the first one that can serve it (an
        image-to-video model for an image, a text-to-video one for a prompt alone)."""
        for spec in self.models.values():
            if has_image and Kind.IMAGE_TO_VIDEO in spec.kinds:
                return spec
            if not has_image and not spec.requires_image and Kind.TEXT_TO_VIDEO in spec.kinds:
                return spec
        if has_image:
            raise InvalidRequest.single(
                "model",
                f"is required: no model here makes a video from an image ({', '.join(self.models)})",
            )
        raise InvalidRequest.single(
            "first_image",
            "is required: every model here needs a first image "
            f"({', '.join(self.models)}); none makes a video from a prompt alone",
        )

    def engine_for(self, model_id: str) -> str:
        spec = self.get(model_id)
        return self.routes.get(spec.id, spec.default_engine)

    def retired_here(self, model_id: str) -> Retirement | None:
        """The model's retirement, when its route in force is the engine its provider retired
        it at (so a request would only fail upstream); None where it is still served."""
        spec = self.get(model_id)
        retired = spec.retired
        if retired is not None and self.engine_for(spec.id) == retired.engine:
            return retired
        return None

"""The catalog's Runway entries against the installed ``runwayml`` SDK, Runway's published
contract: every model of every video endpoint's create params has an entry with that Runway
name, that takes the endpoint's kind, with the SDK's ratios (as Runway spells them) and, where
the SDK fixes them, its durations, and every field the SDK gives the model among the fields the
dialect names or the entry's options. An SDK upgrade that adds a model or changes a rule fails
here, naming what changed."""

from __future__ import annotations

import ast
import inspect
import re
import typing
from dataclasses import dataclass
from types import ModuleType

import pytest
import typing_extensions
from runwayml.types import (
    character_performance_create_params,
    image_to_video_create_params,
    text_to_video_create_params,
    video_to_video_create_params,
    video_upscale_create_params,
)

from vidgen.core.catalog import BUILTIN_MODELS, Catalog
from vidgen.core.models import Kind

CATALOG = Catalog.build(BUILTIN_MODELS)
#: The models the Runway dialect calls by a Runway name. A model host's model (hosts.toml) goes
#: by its vidgen id there, not by a name of Runway's API, and is not Runway's to check.
RUNWAY = {name: spec for name, spec in CATALOG.named_in("runway").items() if name != spec.id}

#: Runway's ratios that the model picks itself from its input; the catalog offers none of them
#: (runway.toml says why).
CHOSEN_BY_THE_MODEL = {"adaptive", "auto_480p", "auto_720p", "auto_1080p"}
#: Runway's ``duration: "auto"``, likewise.
AUTO_DURATION = "auto"

#: Each endpoint's params, and the kind it asks for (video_upscale: per model).
ENDPOINTS: dict[str, tuple[ModuleType, type | object, Kind | None]] = {
    "image_to_video": (
        image_to_video_create_params,
        image_to_video_create_params.ImageToVideoCreateParams,
        Kind.IMAGE_TO_VIDEO,
    ),
    "text_to_video": (
        text_to_video_create_params,
        text_to_video_create_params.TextToVideoCreateParams,
        Kind.TEXT_TO_VIDEO,
    ),
    "video_to_video": (
        video_to_video_create_params,
        video_to_video_create_params.VideoToVideoCreateParams,
        Kind.VIDEO_TO_VIDEO,
    ),
    "character_performance": (
        character_performance_create_params,
        character_performance_create_params.CharacterPerformanceCreateParams,
        Kind.CHARACTER_PERFORMANCE,
    ),
    "video_upscale": (
        video_upscale_create_params,
        video_upscale_create_params.VideoUpscaleCreateParams,
        None,
    ),
}
UPSCALE_KINDS = {"enhance_frame_rate": Kind.FRAME_RATE}


@dataclass(frozen=True)
class SdkModel:
    endpoint: str
    kind: Kind
    name: str
    ratios: frozenset[str] | None  # None: the endpoint takes no ratio for this model
    durations: frozenset[int] | None  # None: the SDK fixes none
    prompt_required: bool  # promptText is Required


def literals(hint: object) -> list[object]:
    """The values of the Literal inside ``hint`` (through Required, Annotated, Union)."""
    if typing.get_origin(hint) is typing.Literal:
        return list(typing.get_args(hint))
    return [v for arg in typing.get_args(hint) for v in literals(arg)]


def stated_range(module: ModuleType, params: type) -> frozenset[int] | None:
    """A duration typed as any integer whose docstring states its range ("an integer from 2
    to 10", "between 3 and 10 seconds"): that range."""
    tree = ast.parse(inspect.getsource(module))
    (cls,) = (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == params.__name__)
    for field, doc in zip(cls.body, cls.body[1:], strict=False):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and field.target.id == "duration"
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
        ):
            found = re.search(
                r"(?:from|between)\s+(\d+)\s+(?:to|and)\s+(\d+)", str(doc.value.value)
            )
            if found:
                return frozenset(range(int(found[1]), int(found[2]) + 1))
    return None


def sdk_models() -> list[SdkModel]:
    found = []
    for endpoint, (module, union, kind) in ENDPOINTS.items():
        members = typing.get_args(union) or (union,)
        for params in members:
            hints = typing.get_type_hints(params, include_extras=True)
            (name,) = literals(hints["model"])
            ratios = literals(hints["ratio"]) if "ratio" in hints else []
            durations = [d for d in literals(hints.get("duration")) if d != AUTO_DURATION]
            found.append(
                SdkModel(
                    endpoint=endpoint,
                    kind=kind or UPSCALE_KINDS.get(str(name), Kind.UPSCALE),
                    name=str(name),
                    ratios=frozenset(map(str, ratios)) - CHOSEN_BY_THE_MODEL
                    if "ratio" in hints and hints["ratio"] is not str
                    else None,
                    durations=frozenset(map(int, durations))  # type: ignore[call-overload]
                    if durations
                    else stated_range(module, params),
                    prompt_required="prompt_text" in hints
                    and typing.get_origin(hints["prompt_text"]) is typing_extensions.Required,
                )
            )
    return found


SDK = sdk_models()


def test_the_sdk_lists_the_video_models_this_test_expects() -> None:
    # A guard on the parsing above: the endpoints' models as runwayml 5.24 lists them.
    names = {m.name for m in SDK}
    assert {"gen4.5", "gen4_turbo", "veo3.1", "aleph2", "act_two", "enhance_frame_rate"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("sdk", SDK, ids=lambda m: f"{m.endpoint}:{m.name}")
def test_every_sdk_model_has_an_entry_that_matches_it(sdk: SdkModel) -> None:
    spec = RUNWAY.get(sdk.name)
    assert spec is not None, f"runwayml lists {sdk.name!r} ({sdk.endpoint}); the catalog has none"
    assert sdk.kind in spec.kinds, f"{spec.id} does not take {sdk.kind} ({sdk.endpoint})"
    if sdk.ratios is not None:
        ours = {spec.ratio_name(r) for r in spec.ratios_for(sdk.kind)}
        assert ours == sdk.ratios, f"{spec.id} {sdk.endpoint} ratios"
    if sdk.durations is not None:
        assert set(spec.durations) == sdk.durations, f"{spec.id} {sdk.endpoint} durations"


def test_every_runway_name_in_the_catalog_is_in_the_sdk_or_retired() -> None:
    sdk_names = {m.name for m in SDK}
    for name, spec in RUNWAY.items():
        retired = spec.retired is not None and spec.retired.engine == "runway"
        assert (name in sdk_names) != retired, name


def test_runway_routed_models_state_runway_among_their_engines() -> None:
    for spec in RUNWAY.values():
        assert spec.engines[0] == "preview" and "runway" in spec.engines, spec.id


def input_video_field(params: type) -> str | None:
    """The wire name (Runway's camelCase) of a video-to-video model's input video."""
    hints = typing.get_type_hints(params, include_extras=True)
    for name in ("prompt_video", "video_uri"):
        if name in hints:
            hint = hints[name]
            if typing.get_origin(hint) is typing_extensions.Required:
                (hint,) = typing.get_args(hint)
            (alias,) = (m.alias for m in hint.__metadata__ if hasattr(m, "alias"))
            return str(alias)
    return None


V2V = typing.get_args(video_to_video_create_params.VideoToVideoCreateParams)


@pytest.mark.parametrize("params", V2V, ids=lambda p: p.__name__)
def test_each_video_to_video_model_takes_its_video_and_references_as_the_sdk_says(
    params: type,
) -> None:
    hints = typing.get_type_hints(params, include_extras=True)
    (name,) = literals(hints["model"])
    spec = RUNWAY[str(name)]
    assert spec.video_name_in("runway", "videoUri") == input_video_field(params), spec.id
    if "references" not in hints:
        assert spec.max_references == 0, f"{spec.id}: the SDK gives it no references"


@pytest.mark.parametrize(
    "sdk",
    [m for m in SDK if m.kind in (Kind.IMAGE_TO_VIDEO, Kind.VIDEO_TO_VIDEO)],
    ids=lambda m: f"{m.endpoint}:{m.name}",
)
def test_a_prompt_is_required_with_an_input_where_the_sdk_requires_promptText(
    sdk: SdkModel,
) -> None:
    spec = RUNWAY[sdk.name]
    assert (sdk.kind in spec.prompt_required) == sdk.prompt_required, spec.id


def test_the_sdk_requires_promptText_of_some_models_only() -> None:
    # A guard on SdkModel.prompt_required: runwayml 5.24 requires it of gen4.5's image to
    # video, and not of gen4_turbo's.
    required = {(m.endpoint, m.name): m.prompt_required for m in SDK}
    assert required[("image_to_video", "gen4.5")] is True
    assert required[("image_to_video", "gen4_turbo")] is False


def test_the_sdk_names_both_spellings_of_an_input_video() -> None:
    # A guard on input_video_field: runwayml 5.24 spells aleph2's videoUri, seedance2's
    # promptVideo.
    fields = {literals(typing.get_type_hints(p)["model"])[0]: input_video_field(p) for p in V2V}
    assert (fields["aleph2"], fields["seedance2"]) == ("videoUri", "promptVideo")


#: The fields each Runway create endpoint names itself (its inputs, size, length, seed…).
DIALECT_FIELDS = {
    "model",
    "prompt_text",
    "prompt_image",
    "prompt_video",
    "video_uri",
    "ratio",
    "duration",
    "seed",
    "content_moderation",
    "keyframes",
    "references",
    "character",
    "reference",
}
#: The SDK's fields that vidgen takes from no model (the README says so): objects and media
#: it has no input for, ProRes settings (it writes MP4 only), a draft task of Runway's own.
NOT_TAKEN = {
    "provider_settings",
    "reference_audio",
    "reference_videos",
    "prores_profile",
    "draft_task_id",
}
PARAMS = [
    params
    for _module, union, _kind in ENDPOINTS.values()
    for params in typing.get_args(union) or (union,)
]


@pytest.mark.parametrize(
    "params", PARAMS, ids=lambda p: f"{p.__module__.split('.')[-1]}:{p.__name__}"
)
def test_every_field_the_sdk_gives_a_model_is_one_the_dialect_names_or_the_entry_lists(
    params: type,
) -> None:
    hints = typing.get_type_hints(params, include_extras=True)
    (name,) = literals(hints["model"])
    spec = RUNWAY[str(name)]
    own = set(hints) - DIALECT_FIELDS - NOT_TAKEN
    assert own <= set(spec.options), (
        f"{spec.id}: options the SDK gives it: {own - set(spec.options)}"
    )
    for field in own:
        values = spec.options[field].values
        if values:  # the entry's values are the SDK's, or fewer (outputFormat: mp4 only)
            assert set(values) <= set(literals(hints[field])), f"{spec.id} {field}"


def stated_reference_limit(module: ModuleType, params: type) -> int | None:
    """The "(up to N)" or "Up to N images" that the SDK's docstring of ``references`` states."""
    tree = ast.parse(inspect.getsource(module))
    (cls,) = (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == params.__name__)
    for field, doc in zip(cls.body, cls.body[1:], strict=False):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and field.target.id == "references"
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
        ):
            found = re.search(r"\bup to (\d+)", str(doc.value.value), re.IGNORECASE)
            return int(found[1]) if found else None
    return None


def test_each_models_reference_limit_is_the_sdks() -> None:
    # One limit per entry: where the SDK states several (Kling O3: 7 with an image, 4 with a
    # video), the smallest, so that no request vidgen takes is one Runway refuses.
    stated: dict[str, list[int]] = {}
    for module, union, _kind in ENDPOINTS.values():
        for params in typing.get_args(union) or (union,):
            limit = stated_reference_limit(module, params)
            if limit is not None:
                (name,) = literals(typing.get_type_hints(params)["model"])
                stated.setdefault(str(name), []).append(limit)
    assert stated["seedance2"] == [9, 9] and stated["klingO3_pro"] == [7, 4]  # the parsing
    for name, limits in stated.items():
        assert RUNWAY[name].max_references == min(limits), name

"""The host engines' start-up and submit-time rules: which key each needs, which models each
serves, what a request must carry, and how a key routes a host's models."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.integration.test_upstream_engines import a_job
from vidgen.configuration import ConfigurationError, check_configuration, default_routes
from vidgen.core.catalog import DEFAULT_MODELS, PROVIDER_MODELS
from vidgen.core.models import GenerationRequest, ImageRef
from vidgen.engines.fal import FalEngine
from vidgen.engines.gemini import GeminiEngine
from vidgen.engines.hosted import HostedEngine
from vidgen.engines.replicate import ReplicateEngine, replicate_input

SPECS = {spec.id: spec for spec in (*DEFAULT_MODELS, *PROVIDER_MODELS)}
IMAGE = ImageRef(url="https://example.com/a.png")
ENGINES: list[tuple[type[HostedEngine], str, str]] = [
    (ReplicateEngine, "replicate_api_token", "REPLICATE_API_TOKEN"),
    (FalEngine, "fal_key", "FAL_KEY"),
    (GeminiEngine, "gemini_api_key", "GEMINI_API_KEY"),
]


@pytest.mark.parametrize(("cls", "field", "variable"), ENGINES)
def test_each_host_names_its_own_variable_when_its_key_is_missing_or_empty(
    tmp_path: Path, cls: type[HostedEngine], field: str, variable: str
) -> None:
    assert variable in (cls(make_settings(tmp_path)).configuration_problem() or "")
    empty = cls(make_settings(tmp_path, **{field: "  "})).configuration_problem()
    assert empty == f"{variable} is empty"
    assert cls(make_settings(tmp_path, **{field: "k"})).configuration_problem() is None


@pytest.mark.parametrize(("cls", "field", "variable"), ENGINES)
def test_each_host_serves_its_own_two_models_and_no_other(
    tmp_path: Path, cls: type[HostedEngine], field: str, variable: str
) -> None:
    engine = cls(make_settings(tmp_path))
    served = [spec.id for spec in SPECS.values() if engine.model_problem(spec) is None]
    assert len(served) == 2
    assert all(model_id.startswith(f"{engine.name}/") for model_id in served)
    assert all(SPECS[model_id].engines == ("preview", engine.name) for model_id in served)


def test_the_replicate_client_missing_is_named_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = ReplicateEngine(make_settings(tmp_path, replicate_api_token="r8_x"))
    monkeypatch.setattr(type(engine), "client_module", "replicate_not_installed_here")
    assert "pip install 'vidgen-api[providers]'" in (engine.configuration_problem() or "")


def test_kling_and_wan_want_a_prompt_with_an_image_but_veo_on_gemini_does_not(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    no_prompt = GenerationRequest(model="x", first_image=IMAGE)
    [problem] = FalEngine(settings).validate(SPECS["fal/kling-v2.5-turbo-pro"], no_prompt)
    assert problem.field == "prompt"
    [problem] = ReplicateEngine(settings).validate(SPECS["replicate/wan-2.5"], no_prompt)
    assert problem.field == "prompt"
    assert GeminiEngine(settings).validate(SPECS["gemini/veo-3.1"], no_prompt) == []


def test_a_hosts_key_routes_its_models_and_lists_them_and_only_then(tmp_path: Path) -> None:
    assert default_routes(make_settings(tmp_path)) == {}
    routes = default_routes(make_settings(tmp_path, fal_key="k", gemini_api_key="g"))
    assert routes == {
        "fal/kling-v2.5-turbo-pro": "fal",
        "fal/veo3.1": "fal",
        "gemini/veo-3.1": "gemini",
        "gemini/veo-3.1-fast": "gemini",
    }
    catalog, engines = check_configuration(make_settings(tmp_path, fal_key="k"))
    assert {spec.id for spec in catalog} >= {"fal/kling-v2.5-turbo-pro", "fal/veo3.1"}
    assert "replicate/wan-2.5" not in {spec.id for spec in catalog}
    assert set(engines) == {"fal", "preview"}


def test_a_model_routed_to_a_host_without_its_key_stops_start_up_naming_the_variable(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, routes={"replicate/wan-2.5": "replicate"})
    with pytest.raises(ConfigurationError, match="REPLICATE_API_TOKEN") as caught:
        check_configuration(settings)
    assert "replicate/wan-2.5" in str(caught.value)


def test_a_replicate_model_of_another_family_gets_the_inputs_most_of_replicates_models_share() -> (
    None
):
    job = dataclasses.replace(a_job(), model="replicate/seedance-1-pro", prompt="a kite")
    with_image = replicate_input(job, "bytedance/seedance-1-pro")
    assert with_image["image"].startswith("data:image/")
    assert "aspect_ratio" not in with_image  # the output follows the image
    alone = replicate_input(dataclasses.replace(job, first_image=None), "bytedance/seedance-1-pro")
    assert alone == {"prompt": "a kite", "duration": 5, "aspect_ratio": "16:9"}

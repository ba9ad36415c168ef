"""Which engine serves each model: the defaults, VIDGEN_ROUTES, and start-up refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from vidgen.configuration import ConfigurationError, check_configuration
from vidgen.core.catalog import GEN3A_SIZES, ModelSpec
from vidgen.engines.runway import RunwayEngine

KEY = "key_" + "a" * 128
#: The models the seeds describe; the rest of the catalog is checked on its own below.
SEED_MODELS = ("runway/gen4_turbo", "gen3a_turbo")


def all_routes(tmp_path: Path, **overrides: object) -> dict[str, str]:
    catalog, engines = check_configuration(make_settings(tmp_path, **overrides))
    routes = {spec.id: catalog.engine_for(spec.id) for spec in catalog}
    assert set(engines) == set(routes.values())
    return routes


def routing(tmp_path: Path, **overrides: object) -> dict[str, str]:
    routes = all_routes(tmp_path, **overrides)
    return {model: engine for model, engine in routes.items() if model in SEED_MODELS}


def test_models_the_runway_engine_cannot_serve_yet_stay_on_preview_with_a_runway_key(
    tmp_path: Path,
) -> None:
    routes = all_routes(tmp_path, runwayml_api_secret=KEY)
    assert routes["runway/act_two"] == routes["runway/aleph2"] == "preview"
    assert {engine for model, engine in routes.items() if model not in SEED_MODELS} == {"preview"}


def test_without_a_runway_key_every_model_is_served_by_preview(tmp_path: Path) -> None:
    assert routing(tmp_path) == {"runway/gen4_turbo": "preview", "gen3a_turbo": "preview"}


def test_with_a_runway_key_runways_models_are_served_by_runway(tmp_path: Path) -> None:
    assert routing(tmp_path, runwayml_api_secret=KEY) == {
        "runway/gen4_turbo": "runway",
        "gen3a_turbo": "runway",
    }


def test_vidgen_routes_wins_over_the_default_even_when_it_names_an_alias(tmp_path: Path) -> None:
    assert routing(tmp_path, runwayml_api_secret=KEY, routes={"gen4_turbo": "preview"}) == {
        "runway/gen4_turbo": "preview",
        "gen3a_turbo": "runway",
    }


def test_a_model_routed_to_runway_without_a_key_stops_start_up_naming_the_variable(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError, match=r"runway/gen4_turbo.*RUNWAYML_API_SECRET"):
        routing(tmp_path, routes={"runway/gen4_turbo": "runway"})


def test_a_model_routed_to_aimlapi_needs_the_upstream_url_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="VIDGEN_UPSTREAM_URL"):
        routing(tmp_path, routes={"gen3a_turbo": "aimlapi"})
    with pytest.raises(ConfigurationError, match="VIDGEN_UPSTREAM_KEY"):
        routing(tmp_path, routes={"gen3a_turbo": "aimlapi"}, upstream_url="https://gw.example")
    with pytest.raises(ConfigurationError, match="http"):
        routing(
            tmp_path,
            routes={"gen3a_turbo": "aimlapi"},
            upstream_url="ftp://gw.example",
            upstream_key="k",
        )
    assert routing(
        tmp_path,
        routes={"gen3a_turbo": "aimlapi"},
        upstream_url="https://gw.example",
        upstream_key="k",
    ) == {"runway/gen4_turbo": "preview", "gen3a_turbo": "aimlapi"}


def test_runway_refuses_at_start_up_a_model_it_does_not_sell(tmp_path: Path) -> None:
    engine = RunwayEngine(make_settings(tmp_path, runwayml_api_secret=KEY))
    other = ModelSpec(
        id="acme/v1",
        title="Acme",
        frame_sizes=GEN3A_SIZES,
        default_ratio="16:9",
        durations=(5,),
        default_duration=5,
        credits={5: 1},
    )
    assert "Runway serves only" in (engine.model_problem(other) or "")

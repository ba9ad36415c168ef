"""Which engine serves each model: the defaults, VIDGEN_ROUTES, and start-up refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from vidgen.configuration import ConfigurationError, check_configuration
from vidgen.core.catalog import GEN3A_SIZES, ModelSpec
from vidgen.engines.runway import RunwayEngine

KEY = "key_" + "a" * 128


SEEDS = ("runway/gen4_turbo", "gen3a_turbo")


def routing(tmp_path: Path, **overrides: object) -> dict[str, str]:
    """The routes of the seeds' two models; every other model of the catalog stays on preview
    (the runway engine serves only those two, and no route here names another)."""
    catalog, engines = check_configuration(make_settings(tmp_path, **overrides))
    routes = {spec.id: catalog.engine_for(spec.id) for spec in catalog}
    assert set(engines) == set(routes.values())
    assert {routes[m] for m in routes if m not in SEEDS} == {"preview"}
    return {m: routes[m] for m in SEEDS}


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

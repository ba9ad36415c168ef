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


def test_with_a_runway_key_runways_models_are_served_by_runway_but_not_the_retired_one(
    tmp_path: Path,
) -> None:
    # Runway retired gen3a_turbo: a key leaves it on preview, where seed clients keep working.
    assert routing(tmp_path, runwayml_api_secret=KEY) == {
        "runway/gen4_turbo": "runway",
        "gen3a_turbo": "preview",
    }


def test_vidgen_routes_wins_over_the_default_even_when_it_names_an_alias(tmp_path: Path) -> None:
    assert routing(tmp_path, runwayml_api_secret=KEY, routes={"gen4_turbo": "preview"}) == {
        "runway/gen4_turbo": "preview",
        "gen3a_turbo": "preview",
    }
    assert routing(tmp_path, runwayml_api_secret=KEY, routes={"gen3a_turbo": "runway"}) == {
        "runway/gen4_turbo": "runway",
        "gen3a_turbo": "runway",
    }


SUBSTITUTE_PROBLEMS = {
    "an unknown substitute": ({"gen3a_turbo": "acme/v9"}, "'acme/v9' is not a known model"),
    "an unknown retired model": ({"acme/v0": "runway/gen4_turbo"}, "'acme/v0' is not a known"),
    "a model that is not retired": (
        {"runway/gen4_turbo": "gen4.5"},
        "'runway/gen4_turbo' is not retired",
    ),
    "a substitute retired where it is routed": (
        {"gen3a_turbo": "runway/gen4_aleph"},
        "'runway/gen4_aleph' is itself retired at 'runway'",
    ),
}


@pytest.mark.parametrize(
    ("substitutes", "message"), SUBSTITUTE_PROBLEMS.values(), ids=list(SUBSTITUTE_PROBLEMS)
)
def test_a_substitute_that_cannot_work_stops_start_up_saying_why(
    tmp_path: Path, substitutes: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match="VIDGEN_MODEL_SUBSTITUTES") as stopped:
        routing(
            tmp_path,
            runwayml_api_secret=KEY,
            routes={"gen3a_turbo": "runway", "runway/gen4_aleph": "runway"},
            model_substitutes=substitutes,
        )
    assert message in str(stopped.value)


def test_a_substitute_for_a_retired_model_starts(tmp_path: Path) -> None:
    assert routing(
        tmp_path,
        runwayml_api_secret=KEY,
        routes={"gen3a_turbo": "runway"},
        model_substitutes={"gen3a_turbo": "runway/gen4_turbo"},
    ) == {"runway/gen4_turbo": "runway", "gen3a_turbo": "runway"}


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


def test_models_only_the_aimlapi_upstream_knows_are_added_and_routed_to_it(
    tmp_path: Path,
) -> None:
    catalog, engines = check_configuration(
        make_settings(
            tmp_path,
            aimlapi_models=["acme/loop-2", "gen4_turbo"],
            upstream_url="https://gw.example",
            upstream_key="k",
        )
    )
    spec = catalog.get("acme/loop-2")
    assert spec.passthrough and catalog.engine_for(spec.id) == "aimlapi"
    assert spec.price(5) == 25
    # An id the catalog has (here by alias) keeps its own entry and route.
    assert not catalog.get("gen4_turbo").passthrough
    assert catalog.engine_for("runway/gen4_turbo") == "preview"
    assert set(engines) == {"preview", "aimlapi"}


def test_vidgen_aimlapi_models_without_an_upstream_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"VIDGEN_AIMLAPI_MODELS.*VIDGEN_UPSTREAM_URL"):
        check_configuration(make_settings(tmp_path, aimlapi_models=["acme/loop-2"]))

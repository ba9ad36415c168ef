"""Which engine serves which model, checked at start-up.

A model routed to an engine that is not installed or not configured stops the process here,
with the variable to set, instead of failing at the first request. ``vidgen serve``,
``vidgen worker`` and the wiring all check through ``check_configuration``.
"""

from __future__ import annotations

from collections.abc import Collection

from vidgen.core.catalog import (
    DEFAULT_MODELS,
    PROVIDER_MODELS,
    Catalog,
    CatalogFileError,
    ModelSpec,
)
from vidgen.core.engine import Engine
from vidgen.engines.aimlapi_models import read_upstream_models
from vidgen.engines.registry import UnknownEngine, build_engines, engine_class
from vidgen.settings import Settings

__all__ = [
    "KEYED_ENGINES",
    "ConfigurationError",
    "check_configuration",
    "default_routes",
    "served_models",
]


class ConfigurationError(RuntimeError):
    """The settings cannot work; the message says what to change."""


#: The engines that a provider key turns on: engine, its Settings field, its variable.
KEYED_ENGINES: tuple[tuple[str, str, str], ...] = (
    ("runway", "runwayml_api_secret", "RUNWAYML_API_SECRET"),
    ("replicate", "replicate_api_token", "REPLICATE_API_TOKEN"),
    ("fal", "fal_key", "FAL_KEY"),
    ("gemini", "gemini_api_key", "GEMINI_API_KEY"),
)


def default_routes(settings: Settings) -> dict[str, str]:
    """The routing before ``VIDGEN_ROUTES``: with a provider's key set (``RUNWAYML_API_SECRET``,
    ``REPLICATE_API_TOKEN``, ``FAL_KEY``, ``GEMINI_API_KEY``), every model that provider's engine
    can serve goes to it; the rest (and everything without a key) keeps its catalog default,
    ``preview``. A host's models (``PROVIDER_MODELS``) are listed only when routed."""
    routes: dict[str, str] = {}
    for name, field, variable in KEYED_ENGINES:
        if getattr(settings, field) is None:
            continue
        try:
            engine = engine_class(name)(settings)
        except UnknownEngine as exc:
            raise ConfigurationError(f"{variable} is set, but {exc}") from exc
        routes |= {
            spec.id: name
            for spec in (*DEFAULT_MODELS, *PROVIDER_MODELS)
            if spec.id not in routes
            and engine.routes_by_default(spec)
            # A key does not route a model to the engine its provider retired it at: it stays
            # on its default, where seed clients that name it keep working.
            and (spec.retired is None or spec.retired.engine != name)
        }
    return routes


def served_models(catalog: Catalog, models: Collection[str]) -> list[ModelSpec]:
    """The catalog entries that ``models`` names (ids or aliases)."""
    found = {name: catalog.find(name) for name in models}
    unknown = sorted(name for name, spec in found.items() if spec is None)
    if unknown:
        known = ", ".join(spec.id for spec in catalog)
        raise ConfigurationError(f"unknown model(s) {', '.join(unknown)}; known: {known}")
    return list({spec.id: spec for spec in found.values() if spec is not None}.values())


def _substitutes(settings: Settings, catalog: Catalog) -> list[ModelSpec]:
    """The models ``VIDGEN_MODEL_SUBSTITUTES`` serves in place of retired ones, each checked:
    it replaces a known model that has a retirement, and is itself known and not retired where
    it is routed."""
    problems: list[str] = []
    found: list[ModelSpec] = []
    for name, substitute in settings.model_substitutes.items():
        retired, spec = catalog.find(name), catalog.find(substitute)
        if retired is None:
            problems.append(f"{name!r} is not a known model")
        elif retired.retired is None:
            problems.append(f"{name!r} is not retired, so a substitute would never be used")
        if spec is None:
            problems.append(f"substitute {substitute!r} is not a known model")
        elif (retirement := catalog.retired_here(spec.id)) is not None:
            problems.append(
                f"substitute {substitute!r} is itself retired at {retirement.engine!r} "
                f"(since {retirement.on}), where it is routed"
            )
        else:
            found.append(spec)
    if problems:
        raise ConfigurationError("VIDGEN_MODEL_SUBSTITUTES: " + "; ".join(problems))
    return found


def check_configuration(
    settings: Settings, models: Collection[str] | None = None
) -> tuple[Catalog, dict[str, Engine]]:
    """Build the catalog and the routed engines (only those of ``models``, when given), or
    raise ConfigurationError saying what to set."""
    if (settings.aimlapi_models or settings.aimlapi_read_models) and not settings.upstream_url:
        variable = (
            "VIDGEN_AIMLAPI_MODELS" if settings.aimlapi_models else "VIDGEN_AIMLAPI_READ_MODELS"
        )
        raise ConfigurationError(
            f"{variable} names models of the aimlapi upstream, but none is configured: "
            "set VIDGEN_UPSTREAM_URL and VIDGEN_UPSTREAM_KEY"
        )
    passthrough = list(settings.aimlapi_models)
    if settings.aimlapi_read_models:
        passthrough += read_upstream_models(settings)
    try:
        # VIDGEN_ROUTES comes last, so it wins over a default (even when it names an alias).
        catalog = Catalog.build(
            routes=default_routes(settings) | settings.routes,
            files=settings.catalog_files,
            passthrough=passthrough,
        )
    except ConfigurationError:
        raise
    except CatalogFileError as exc:
        raise ConfigurationError(f"VIDGEN_CATALOG_FILES: {exc}") from exc
    except Exception as exc:
        raise ConfigurationError(f"VIDGEN_ROUTES: {exc}") from exc
    served = list(catalog) if models is None else served_models(catalog, models)
    substitutes = _substitutes(settings, catalog)
    served += [spec for spec in substitutes if spec not in served]
    names = {catalog.engine_for(spec.id) for spec in served}
    try:
        engines = build_engines(settings, names)
    except UnknownEngine as exc:
        raise ConfigurationError(f"VIDGEN_ROUTES: {exc}") from exc
    problems = [
        f"engine {name!r} (serving {', '.join(s.id for s in served if catalog.engine_for(s.id) == name)}): {problem}"
        for name, engine in engines.items()
        if (problem := engine.configuration_problem()) is not None
    ]
    for spec in served:
        name = catalog.engine_for(spec.id)
        problem = engines[name].model_problem(spec)
        if problem is not None:
            problems.append(
                f"model {spec.id!r} is routed to {name!r}, which cannot serve it: {problem}"
            )
    if problems:
        raise ConfigurationError("; ".join(problems))
    return catalog, engines

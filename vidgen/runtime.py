"""Wiring: build every component from one ``Settings``, in the order they depend on each other.

``vidgen serve`` (API + in-process workers), ``vidgen serve --no-worker`` and ``vidgen worker`` all
start a ``Runtime``; they differ only in whether it runs a ``Worker`` and whether an app serves
HTTP on top. Start-up is where configuration is checked: a model routed to an engine that is not
installed or not configured stops the process here, with the variable to set, instead of failing
at the first request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from vidgen.core.catalog import DEFAULT_MODELS, Catalog
from vidgen.core.service import GenerationService
from vidgen.engines.base import Engine
from vidgen.engines.registry import UnknownEngine, build_engines, engine_class
from vidgen.media.capture import ImageCapture
from vidgen.media.fetch import SafeFetcher
from vidgen.settings import Settings
from vidgen.storage.base import Storage, open_storage
from vidgen.storage.links import LinkSigner
from vidgen.store.db import Database
from vidgen.store.jobs import JobStore
from vidgen.store.keys import ApiKey, KeyStore
from vidgen.store.notify import Wakeup

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    """The settings cannot work; the message says what to change."""


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keys: KeyStore
    jobs: JobStore
    storage: Storage
    catalog: Catalog
    engines: dict[str, Engine]
    fetcher: SafeFetcher
    service: GenerationService
    links: LinkSigner
    created_keys: list[tuple[ApiKey, str]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        catalog, engines = check_configuration(settings)
        db = Database(settings.resolved_database_url)
        if migrate:
            await db.migrate()
        wakeup = Wakeup()
        await wakeup.start()
        jobs = JobStore(db, wakeup)
        keys = KeyStore(db)
        storage = open_storage(settings.resolved_storage_url)
        fetcher = SafeFetcher.from_settings(settings)
        service = GenerationService(
            jobs=jobs,
            catalog=catalog,
            engines=engines,
            capture_image=ImageCapture(fetcher, settings),
            settings=settings,
        )
        runtime = cls(
            settings=settings,
            db=db,
            keys=keys,
            jobs=jobs,
            storage=storage,
            catalog=catalog,
            engines=engines,
            fetcher=fetcher,
            service=service,
            links=LinkSigner(settings.link_secret(), settings.link_ttl_seconds),
        )
        for index, secret in enumerate(settings.api_keys, start=1):
            await keys.ensure(secret, name=f"env-{index}", source="env")
        return runtime

    async def ensure_first_key(self) -> tuple[ApiKey, str] | None:
        """With no key at all, create one so a new user can start at once."""
        if await self.keys.count() > 0:
            return None
        created = await self.keys.create("default", source="auto")
        self.created_keys.append(created)
        return created

    def routing(self) -> dict[str, str]:
        return {spec.id: self.catalog.engine_for(spec.id) for spec in self.catalog}

    async def aclose(self) -> None:
        for engine in self.engines.values():
            await engine.aclose()
        await self.fetcher.aclose()
        await self.storage.aclose()
        await self.jobs.wakeup.aclose()
        await self.db.dispose()


def default_routes(settings: Settings) -> dict[str, str]:
    """The routing before ``VIDGEN_ROUTES``: with ``RUNWAYML_API_SECRET`` set, every model the
    ``runway`` engine can serve goes to Runway; the rest (and everything without a key) keeps
    its catalog default, ``preview``."""
    if settings.runwayml_api_secret is None:
        return {}
    try:
        runway = engine_class("runway")(settings)
    except UnknownEngine as exc:
        raise ConfigurationError(f"RUNWAYML_API_SECRET is set, but {exc}") from exc
    return {spec.id: "runway" for spec in DEFAULT_MODELS if runway.model_problem(spec) is None}


def check_configuration(settings: Settings) -> tuple[Catalog, dict[str, Engine]]:
    """Build the catalog and the routed engines, or raise ConfigurationError saying what to set."""
    try:
        # VIDGEN_ROUTES comes last, so it wins over a default (even when it names an alias).
        catalog = Catalog.build(routes=default_routes(settings) | settings.routes)
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(f"VIDGEN_ROUTES: {exc}") from exc
    names = {catalog.engine_for(spec.id) for spec in catalog}
    try:
        engines = build_engines(settings, names)
    except UnknownEngine as exc:
        raise ConfigurationError(f"VIDGEN_ROUTES: {exc}") from exc
    problems = [
        f"engine {name!r} (serving {', '.join(s.id for s in catalog if catalog.engine_for(s.id) == name)}): {problem}"
        for name, engine in engines.items()
        if (problem := engine.configuration_problem()) is not None
    ]
    for spec in catalog:
        name = catalog.engine_for(spec.id)
        problem = engines[name].model_problem(spec)
        if problem is not None:
            problems.append(
                f"model {spec.id!r} is routed to {name!r}, which cannot serve it: {problem}"
            )
    if problems:
        raise ConfigurationError("; ".join(problems))
    return catalog, engines

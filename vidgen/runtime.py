"""Wiring: build every component from one ``Settings``, in the order they depend on each other.

``vidgen serve`` (API + in-process workers), ``vidgen serve --no-worker`` and ``vidgen worker`` all
start a ``Runtime``; they differ only in whether it runs a ``Worker`` and whether an app serves
HTTP on top. Start-up is where configuration is checked: a model routed to an engine that is not
installed or not configured stops the process here, with the variable to set, instead of failing
at the first request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from vidgen.core.catalog import DEFAULT_MODELS, Catalog, ModelSpec
from vidgen.core.engine import Engine
from vidgen.core.keys import ApiKey
from vidgen.core.models import Generation
from vidgen.core.service import GenerationService
from vidgen.core.storage import Storage, remove_outputs, webp_thumbnail_key
from vidgen.engines.registry import UnknownEngine, build_engines, engine_class
from vidgen.media.capture import ImageCapture
from vidgen.media.fetch import FetchError, SafeFetcher
from vidgen.media.video import jpeg_to_webp
from vidgen.settings import Settings
from vidgen.storage.links import LinkSigner
from vidgen.store.db import Database
from vidgen.store.generations import GenerationStore
from vidgen.store.jobs import JobStore
from vidgen.store.keys import KeyStore
from vidgen.store.notify import Wakeup
from vidgen.store.pg_notify import PgWakeup
from vidgen.store.webhooks import WebhookStore
from vidgen.webhooks.dispatch import WebhookDispatcher
from vidgen.webhooks.signing import webhook_secret

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    """The settings cannot work; the message says what to change."""


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keys: KeyStore
    jobs: JobStore
    generations: GenerationStore
    webhooks: WebhookStore
    storage: Storage
    catalog: Catalog
    engines: dict[str, Engine]
    fetcher: SafeFetcher
    service: GenerationService
    links: LinkSigner
    created_keys: list[tuple[ApiKey, str]] = field(default_factory=list)

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        migrate: bool = True,
        models: Collection[str] | None = None,
    ) -> Runtime:
        """Connect and check everything. ``models`` (a ``vidgen worker --models`` list) builds
        only the engines those models need, so a GPU worker needs no provider's API key."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        catalog, engines = check_configuration(settings, models)
        db = Database(settings.resolved_database_url)
        if migrate:
            await db.migrate()
        # A worker starts the listener (Worker.run); an API-only process never holds one.
        wakeup = (
            PgWakeup(settings.resolved_database_url)
            if not db.is_sqlite and settings.pg_listen
            else Wakeup()
        )
        generations = GenerationStore(db, wakeup)
        storage = open_storage(settings.resolved_storage_url, settings)
        fetcher = SafeFetcher.from_settings(settings)

        async def check_webhook_url(url: str) -> str | None:
            try:
                await fetcher.check_url(url, subject="webhook")
            except FetchError as exc:
                return exc.message
            return None

        service = GenerationService(
            generations=generations,
            catalog=catalog,
            engines=engines,
            capture_image=ImageCapture(fetcher, settings),
            check_webhook_url=check_webhook_url,
            remove_outputs=functools.partial(remove_outputs, storage),
            settings=settings,
        )
        runtime = cls(
            settings=settings,
            db=db,
            keys=KeyStore(db),
            jobs=JobStore(db, wakeup),
            generations=generations,
            webhooks=WebhookStore(db),
            storage=storage,
            catalog=catalog,
            engines=engines,
            fetcher=fetcher,
            service=service,
            links=LinkSigner(settings.link_secret(), settings.link_ttl_seconds),
        )
        for index, secret in enumerate(settings.api_keys, start=1):
            await runtime.keys.ensure(secret, name=f"env-{index}", source="env")
        return runtime

    def webhook_secret(self, key_id: str) -> str:
        """The secret that signs this key's webhook deliveries."""
        return webhook_secret(self.settings.link_secret(), key_id)

    async def file_url(
        self, generation: Generation, base_url: str, thumbnail: bool = False
    ) -> tuple[str, int] | None:
        """A download URL for the generation's video (or thumbnail) and its expiry (unix
        seconds): presigned by the store itself, or a signed ``/files`` link under
        ``base_url``. None while there is no such file."""
        if generation.video is None:
            return None
        key = generation.video.thumbnail_key if thumbnail else generation.video.key
        if key is None:
            return None
        ttl = self.settings.link_ttl_seconds
        filename = f"{generation.id}.{key.rsplit('.', 1)[-1]}"
        media_type = "image/jpeg" if thumbnail else generation.video.media_type
        presigned = await self.storage.presigned_url(
            key, ttl_seconds=ttl, filename=filename, media_type=media_type
        )
        if presigned is not None:
            return presigned
        token, expires = self.links.sign(generation_id=generation.id, key=key)
        return f"{base_url.rstrip('/')}/files/{quote(key)}?_jwt={token}", expires

    async def webp_thumbnail(self, generation: Generation) -> str | None:
        """The storage key of the generation's thumbnail as WebP, or None while it has none.

        Made from the JPEG thumbnail on the first request and stored beside it, so later
        requests only stream it: re-encoding costs a few milliseconds of CPU per request, and
        storing a WebP for every job would cost a write for every job although only clients of
        the OpenAI dialect ever ask for one. Two first requests at once both write the same
        bytes (a put is atomic)."""
        source = generation.video.thumbnail_key if generation.video else None
        if source is None:
            return None
        key = webp_thumbnail_key(generation.id)
        if await self.storage.exists(key):
            return key
        info = await self.storage.stat(source)
        if info is None:
            return None
        jpeg = b"".join(
            [chunk async for chunk in self.storage.read_range(source, 0, info.size - 1)]
        )
        webp = await asyncio.to_thread(jpeg_to_webp, jpeg)
        with tempfile.TemporaryDirectory(prefix="vidgen-webp-") as scratch:
            path = Path(scratch) / "thumbnail.webp"
            path.write_bytes(webp)
            await self.storage.put_file(key, path, "image/webp", consume=True)
        return key

    def webhook_dispatcher(self) -> WebhookDispatcher:
        return WebhookDispatcher(
            store=self.webhooks,
            generations=self.generations,
            fetcher=self.fetcher,
            secret_for=self.webhook_secret,
            file_url=self.file_url,
            public_url=self.settings.public_url,
        )

    async def ensure_first_key(self) -> tuple[ApiKey, str] | None:
        """With no key at all, create one so a new user can start at once."""
        if await self.keys.count() > 0:
            return None
        created = await self.keys.create_if_none("default", source="auto")
        if created is not None:
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


def served_models(catalog: Catalog, models: Collection[str]) -> list[ModelSpec]:
    """The catalog entries that ``models`` names (ids or aliases)."""
    found = {name: catalog.find(name) for name in models}
    unknown = sorted(name for name, spec in found.items() if spec is None)
    if unknown:
        known = ", ".join(spec.id for spec in catalog)
        raise ConfigurationError(f"unknown model(s) {', '.join(unknown)}; known: {known}")
    return list({spec.id: spec for spec in found.values() if spec is not None}.values())


def check_configuration(
    settings: Settings, models: Collection[str] | None = None
) -> tuple[Catalog, dict[str, Engine]]:
    """Build the catalog and the routed engines (only those of ``models``, when given), or
    raise ConfigurationError saying what to set."""
    try:
        # VIDGEN_ROUTES comes last, so it wins over a default (even when it names an alias).
        catalog = Catalog.build(routes=default_routes(settings) | settings.routes)
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(f"VIDGEN_ROUTES: {exc}") from exc
    served = list(catalog) if models is None else served_models(catalog, models)
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


def open_storage(url: str, settings: Settings | None = None) -> Storage:
    """Build the store that ``VIDGEN_STORAGE_URL`` names."""
    if url.startswith("file://"):
        from vidgen.storage.local import LocalStorage

        return LocalStorage.from_url(url)
    if url.startswith("s3://"):
        from vidgen.settings import Settings
        from vidgen.storage.s3 import S3Storage

        return S3Storage.from_settings(url, settings or Settings())
    raise ValueError(f"unsupported VIDGEN_STORAGE_URL scheme: {url!r} (expected file:// or s3://)")

"""Wiring: build every component from one ``Settings``, in the order they depend on each other,
and nothing else. This is the one module that knows every adapter: it opens the database
(``vidgen.store``), the storage (``vidgen.storage``), the fetcher (``vidgen.media``) and the
routed engines (``vidgen.engines``), and composes them into the ``Service`` (the API's only
door), the worker and the webhook dispatcher, which see only the ports (``vidgen.core.ports``).

``vidgen serve`` (API + in-process workers), ``vidgen serve --no-worker`` and ``vidgen worker``
all start a ``Runtime``; they differ only in whether it runs a ``Worker`` and whether an app
serves HTTP on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field

from vidgen.configuration import check_configuration
from vidgen.core.catalog import Catalog
from vidgen.core.engine import Engine
from vidgen.core.keys import ApiKey
from vidgen.core.storage import Storage, remove_outputs
from vidgen.engines.upstream import UpstreamEngine
from vidgen.media.capture import VideoCapture
from vidgen.media.fetch import FetchError, SafeFetcher
from vidgen.service import (
    Access,
    Admin,
    GenerationService,
    Links,
    Live,
    ProviderHooks,
    Service,
    Uploads,
    UsageService,
)
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
from vidgen.worker.runner import Sweep, Worker, reap_expired_leases

__all__ = ["Runtime", "open_storage"]

log = logging.getLogger(__name__)


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
    service: Service
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
        jobs = JobStore(db, wakeup)
        keys = KeyStore(db)
        storage = open_storage(settings.resolved_storage_url, settings)
        fetcher = SafeFetcher.from_settings(settings)

        async def check_webhook_url(url: str) -> str | None:
            try:
                await fetcher.check_url(url, subject="webhook")
            except FetchError as exc:
                return exc.message
            return None

        server_secret = settings.link_secret()
        videos = VideoCapture(fetcher, settings)
        uploads = Uploads(storage, server_secret.encode(), settings.max_video_bytes)
        generation_service = GenerationService(
            generations=generations,
            catalog=catalog,
            engines=engines,
            capture_image=videos.images,
            capture_video=videos,
            capture_media=videos.media,
            check_webhook_url=check_webhook_url,
            remove_outputs=functools.partial(remove_outputs, storage),
            settings=settings,
            uploads=uploads,
        )
        service = Service(
            generations=generation_service,
            live=Live(generations, poll_interval=settings.live_poll_interval),
            links=Links(
                storage,
                LinkSigner(server_secret, settings.link_ttl_seconds),
                settings.link_ttl_seconds,
            ),
            access=Access(keys, functools.partial(webhook_secret, server_secret)),
            admin=Admin(keys, functools.partial(webhook_secret, server_secret)),
            usage=UsageService(generations),
            catalog=catalog,
            settings=settings,
            queue=jobs,
            checks={"database": db.ping, "storage": storage.check},
            uploads=uploads,
            hooks=ProviderHooks(
                jobs,
                server_secret,
                {
                    name: engine.verify_hook
                    for name, engine in engines.items()
                    if isinstance(engine, UpstreamEngine) and engine.receives_hooks
                },
            ),
        )
        runtime = cls(
            settings=settings,
            db=db,
            keys=keys,
            jobs=jobs,
            generations=generations,
            webhooks=WebhookStore(db),
            storage=storage,
            catalog=catalog,
            engines=engines,
            fetcher=fetcher,
            service=service,
        )
        for index, secret in enumerate(settings.api_keys, start=1):
            await runtime.keys.ensure(secret, name=f"env-{index}", source="env")
        for index, secret in enumerate(settings.admin_keys, start=1):
            await runtime.keys.ensure(secret, name=f"env-admin-{index}", source="env", role="admin")
        return runtime

    def _upload_sweep(self) -> Sweep | None:
        """What removes expired uploads, for every process's periodic work (none where this
        server keeps no uploads)."""
        return self.service.uploads.sweep if self.service.uploads else None

    def worker(
        self,
        *,
        name: str | None = None,
        models: Collection[str] | None = None,
        concurrency: int | None = None,
    ) -> Worker:
        return Worker(
            store=self.jobs,
            storage=self.storage,
            engines=self.engines,
            settings=self.settings,
            webhooks=self.webhooks,
            sweep_uploads=self._upload_sweep(),
            name=name,
            models=models,
            concurrency=concurrency,
        )

    def webhook_dispatcher(self) -> WebhookDispatcher:
        return WebhookDispatcher(
            store=self.webhooks,
            generations=self.generations,
            fetcher=self.fetcher,
            secret_for=functools.partial(webhook_secret, self.settings.link_secret()),
            file_url=self.service.links.file_url,
            public_url=self.settings.public_url,
        )

    @contextlib.asynccontextmanager
    async def beside_api(self) -> AsyncIterator[None]:
        """What a ``vidgen serve`` process runs beside its API while it serves: a ``Worker``
        with ``VIDGEN_WORKER_CONCURRENCY`` slots (or, with ``--no-worker``, the lease reaper
        alone) and the webhook dispatcher. On exit the worker gets
        ``VIDGEN_SHUTDOWN_GRACE_SECONDS`` to finish its jobs; the others stop at once."""
        settings = self.settings
        worker: Worker | None = None
        worker_task: asyncio.Task[None] | None = None
        reaper_task: asyncio.Task[None] | None = None
        stop_reaping = asyncio.Event()
        if settings.run_worker:
            worker = self.worker()
            worker_task = asyncio.create_task(worker.run())
        else:
            # No worker here (scale-out): still reap expired leases, so that a job whose
            # worker died reads queued again even while no worker is alive.
            reaper_task = asyncio.create_task(
                reap_expired_leases(
                    self.jobs,
                    self.storage,
                    settings.lease_seconds,
                    stop_reaping,
                    sweep_uploads=self._upload_sweep(),
                )
            )
        dispatcher = self.webhook_dispatcher()
        dispatcher_task = asyncio.create_task(dispatcher.run())
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                await worker.shutdown(settings.shutdown_grace_seconds)
                await worker_task
            if reaper_task is not None:
                stop_reaping.set()
                await reaper_task
            dispatcher.stop()
            await dispatcher_task

    async def ensure_first_key(self) -> tuple[ApiKey, str] | None:
        """With no key at all, create one so a new user can start at once."""
        if await self.keys.count() > 0:
            return None
        created = await self.keys.create_if_none("default", source="auto")
        if created is not None:
            self.created_keys.append(created)
        return created

    async def aclose(self) -> None:
        for engine in self.engines.values():
            await engine.aclose()
        await self.fetcher.aclose()
        await self.storage.aclose()
        await self.jobs.wakeup.aclose()
        await self.db.dispose()


def open_storage(url: str, settings: Settings | None = None) -> Storage:
    """Build the store that ``VIDGEN_STORAGE_URL`` names."""
    if url.startswith("file://"):
        from vidgen.storage.local import LocalStorage

        return LocalStorage.from_url(url)
    if url.startswith("s3://"):
        from vidgen.storage.s3 import S3Storage

        return S3Storage.from_settings(url, settings or Settings())
    raise ValueError(f"unsupported VIDGEN_STORAGE_URL scheme: {url!r} (expected file:// or s3://)")

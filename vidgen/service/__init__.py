"""The service: the only door into vidgen for every HTTP dialect and every other client of the
core. It uses the ports (``vidgen.core.ports``) and never an adapter; ``vidgen.wiring`` builds
it from the adapters that the settings choose.

    service.generations   submit, get, list, cancel, delete
    service.live          queue places and ETAs, Prefer: wait, the event stream
    service.links         download links, and the files they open
    service.access        API keys: who is calling
    service.admin         API keys managed over HTTP, by admin keys
    service.usage         usage summed from the credit ledger and the jobs
    service.catalog       the models, their rules and prices, and the routing in force
    service.hooks         providers' webhooks (fal, Replicate): they wake a job's poll
"""

from __future__ import annotations

from dataclasses import dataclass

from vidgen.core.catalog import Catalog
from vidgen.core.ports import JobQueue, Ping
from vidgen.service.access import Access
from vidgen.service.admin import Admin, NewKey
from vidgen.service.generations import GenerationService, Submission
from vidgen.service.links import Download, Links
from vidgen.service.live import Live, LiveEvent, QueueEstimate
from vidgen.service.provider_hooks import ProviderHooks
from vidgen.service.uploads import Uploads
from vidgen.service.usage import UsageService
from vidgen.settings import Settings

__all__ = [
    "Access",
    "Admin",
    "Download",
    "GenerationService",
    "Links",
    "Live",
    "LiveEvent",
    "NewKey",
    "ProviderHooks",
    "QueueEstimate",
    "Service",
    "Submission",
    "Uploads",
    "UsageService",
]


@dataclass
class Service:
    generations: GenerationService
    live: Live
    links: Links
    access: Access
    admin: Admin
    usage: UsageService
    catalog: Catalog
    settings: Settings
    queue: JobQueue
    #: What ``/ready`` checks, by name: the database and the storage.
    checks: dict[str, Ping]
    #: Ephemeral uploads (Runway's ``runway://`` URIs); None where a server has none.
    uploads: Uploads | None = None
    #: Providers' webhooks; None where a server was built without them (tests).
    hooks: ProviderHooks | None = None

    def routing(self) -> dict[str, str]:
        """Each model id and the engine that serves it."""
        return {spec.id: self.catalog.engine_for(spec.id) for spec in self.catalog}

    async def queue_depth(self) -> dict[str, int]:
        return await self.queue.queue_depth()

"""Best-effort ``started`` and ``progress`` webhooks for a running job.

Final events are not sent from here: the store writes them in the transaction that ends the job.
"""

from __future__ import annotations

import logging
import time

from vidgen.core.models import Generation, Status
from vidgen.core.ports import WebhookOutbox

__all__ = ["ProgressEvents"]

log = logging.getLogger(__name__)


class ProgressEvents:
    """Best-effort ``started`` and ``progress`` webhooks for one job, throttled so that a fast
    engine does not flood the receiver: at most one every ``MIN_INTERVAL`` seconds, and only
    when progress moved by ``MIN_STEP``. Final events are not sent from here: the store writes
    them in the transaction that ends the job."""

    MIN_INTERVAL = 2.0
    MIN_STEP = 0.1

    def __init__(self, webhooks: WebhookOutbox | None, generation: Generation) -> None:
        wanted = generation.facts.wants("started") or generation.facts.wants("progress")
        self.webhooks = webhooks if wanted else None
        self.generation = generation
        self.started = generation.status is not Status.QUEUED and generation.progress > 0
        self.last_progress = generation.progress
        self.last_sent = 0.0

    async def engine_ran(self) -> None:
        """The engine has worked on the job and returned or raised: make sure ``started`` was
        queued before the final event, even when the job took less than one heartbeat."""
        if self.webhooks is None or self.started:
            return
        try:
            await self._started()
        except Exception:
            log.warning("could not queue a started webhook", exc_info=True)

    async def _started(self) -> None:
        assert self.webhooks is not None
        gen = self.generation
        self.started = True
        await self.webhooks.enqueue(gen.id, gen.key_id, gen.facts, "started", {})

    async def update(self, progress: float, waiting: bool) -> None:
        if self.webhooks is None or waiting:
            return
        gen = self.generation
        try:
            if not self.started:
                await self._started()
            now = time.monotonic()
            if (
                progress - self.last_progress >= self.MIN_STEP
                and now - self.last_sent >= self.MIN_INTERVAL
            ):
                self.last_progress, self.last_sent = progress, now
                await self.webhooks.enqueue(
                    gen.id, gen.key_id, gen.facts, "progress", {"progress": round(progress, 4)}
                )
        except Exception:
            log.warning("could not queue a progress webhook", exc_info=True)

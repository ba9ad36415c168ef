"""The webhook dispatcher: deliver what the outbox holds, signed, with retries.

Every vidgen process that runs a ``Runtime`` (``serve`` and ``worker``) runs one dispatcher. It
claims due events in small batches with a short lease, POSTs each through the SSRF-safe fetcher
(no redirects, the address checked again at delivery), and settles it:

- 2xx: delivered.
- 410 Gone: the receiver asks us to stop; given up.
- anything else, or no answer: retried with exponential backoff and jitter (5 s, 10 s, … capped
  at 1 h) until the event expires (24 h for final events, 2 min for progress).

The payload is vidgen's own event format, the same for every API dialect::

    {"id": "<event id, stable across retries>", "type": "generation.completed",
     "created_at": "…", "generation": {"id", "status", "model", "progress", "video": {…}, …}}

Headers: ``x-webhook-id``, ``x-webhook-event``, ``x-webhook-timestamp`` and
``x-webhook-signature: sha256=<hex>``, and the Standard Webhooks ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64>`` (see ``webhooks.signing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from vidgen.core.events import WebhookEvent
from vidgen.core.models import Generation
from vidgen.core.ports import GenerationRepository, WebhookOutbox
from vidgen.errors import ServiceUnavailable
from vidgen.media.fetch import FetchError, SafeFetcher
from vidgen.webhooks.signing import signature_headers

__all__ = ["FileUrl", "WebhookDispatcher", "backoff", "render_payload"]

log = logging.getLogger(__name__)

#: (generation, base_url, thumbnail) → (signed URL, expiry) or None
FileUrl = Callable[[Generation, str, bool], Awaitable[tuple[str, int] | None]]

MAX_BACKOFF_SECONDS = 3600.0
DELIVERY_TIMEOUT_SECONDS = 10.0


def backoff(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based): 5, 10, 20, … ≤ 1 h, with jitter."""
    ceiling = min(MAX_BACKOFF_SECONDS, 5.0 * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


async def render_payload(
    event: WebhookEvent, generation: Generation | None, *, base_url: str | None, file_url: FileUrl
) -> dict[str, Any]:
    data: dict[str, Any] = {"id": event.job_id}
    if generation is not None:
        video = await file_url(generation, base_url, False) if base_url else None
        thumbnail = await file_url(generation, base_url, True) if base_url else None
        data = {
            "id": generation.id,
            "status": generation.status.value,
            "model": generation.model,
            "progress": round(max(generation.progress, float(event.data.get("progress", 0))), 4),
            "prompt": generation.prompt,
            "aspect_ratio": generation.aspect_ratio,
            "duration": generation.duration,
            "seed": generation.seed,
            "credits": generation.credits,
            "video": {
                "url": video[0],
                "expires_at": _iso(datetime.fromtimestamp(video[1], UTC)),
                "duration": generation.video.duration if generation.video else None,
            }
            if video
            else None,
            "thumbnail_url": thumbnail[0] if thumbnail else None,
            "error": {"name": generation.error.name, "message": generation.error.message}
            if generation.error and generation.status.is_final
            else None,
            "created_at": _iso(generation.created_at),
            "completed_at": _iso(generation.finished_at) if generation.status.is_final else None,
        }
    return {
        "id": event.id,
        "type": event.type,
        "created_at": _iso(event.created_at),
        "generation": data,
    }


class WebhookDispatcher:
    def __init__(
        self,
        *,
        store: WebhookOutbox,
        generations: GenerationRepository,
        fetcher: SafeFetcher,
        secret_for: Callable[[str], str],
        file_url: FileUrl,
        public_url: str | None,
        poll_interval: float = 0.5,
        batch_size: int = 16,
    ) -> None:
        self.store = store
        self.generations = generations
        self.fetcher = fetcher
        self.secret_for = secret_for
        self.file_url = file_url
        self.public_url = public_url
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Deliver until ``stop()``. Database trouble is logged and retried, never fatal."""
        failures = 0
        while not self._stop.is_set():
            try:
                delivered = await self.deliver_due()
                failures = 0
            except Exception as exc:
                # One traceback per outage, then a line per pass: an outage must not flood
                # the log (a pass runs every poll interval).
                failures += 1
                log.warning(
                    "webhook dispatch pass failed",
                    exc_info=failures == 1 and not isinstance(exc, ServiceUnavailable),
                    extra={"error": repr(exc), "failures": failures},
                )
                delivered = 0
            if delivered < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll_interval)

    def stop(self) -> None:
        self._stop.set()

    async def deliver_due(self) -> int:
        """One pass: claim what is due and deliver it concurrently. Returns how many."""
        lease = DELIVERY_TIMEOUT_SECONDS * 3
        events = await self.store.claim_due(limit=self.batch_size, lease_seconds=lease)
        await asyncio.gather(*(self._deliver(event) for event in events))
        return len(events)

    async def _deliver(self, event: WebhookEvent) -> None:
        generation = await self.generations.get(event.job_id, include_deleted=True)
        base_url = self.public_url or (generation.facts.base_url if generation else None)
        payload = await render_payload(event, generation, base_url=base_url, file_url=self.file_url)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "content-type": "application/json",
            "user-agent": "vidgen-webhooks",
            "x-webhook-event": event.type,
            **signature_headers(self.secret_for(event.key_id), event.id, int(time.time()), body),
        }
        status: int | None = None
        try:
            status = await self.fetcher.post_json(
                event.url, body, headers, subject="webhook", deadline=DELIVERY_TIMEOUT_SECONDS
            )
            error = f"HTTP {status}"
        except FetchError as exc:
            error = exc.message
        extra = {"event": event.type, "event_id": event.id, "generation_id": event.job_id}
        if status is not None and 200 <= status < 300:
            await self.store.delivered(event.id, status)
            log.info("webhook delivered", extra={**extra, "status": status})
            return
        attempt = event.attempts + 1
        delay = backoff(attempt)
        expired = time.time() + delay > event.expires_at.timestamp()
        if status == 410 or expired:
            await self.store.give_up(event.id, status=status, error=error)
            log.warning("webhook given up", extra={**extra, "error": error, "attempts": attempt})
        else:
            await self.store.retry_later(event.id, delay_seconds=delay, status=status, error=error)
            log.info(
                "webhook delivery failed; will retry",
                extra={**extra, "error": error, "retry_in": round(delay, 1)},
            )

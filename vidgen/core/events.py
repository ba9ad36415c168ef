"""The events a generation's webhook can carry, and one delivery as the outbox holds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["ALL_EVENTS", "FINAL_EVENTS", "WebhookEvent"]

#: The events that end a generation: stored in the transaction that ends it, retried for a day.
FINAL_EVENTS = ("completed", "failed", "cancelled")
ALL_EVENTS = ("started", "progress", *FINAL_EVENTS)


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    job_id: str
    key_id: str
    url: str
    type: str
    final: bool
    data: dict[str, Any]
    attempts: int
    created_at: datetime
    expires_at: datetime

"""The webhook outbox: every statement that stores, claims and settles a webhook delivery.

A job that asked for webhooks carries them in its facts (``JobFacts.webhook``: url, events). Final events
(``generation.completed``, ``.failed``, ``.cancelled``) are inserted by ``enqueue_event`` inside
the transaction that ends the job, so they exist exactly when the state change does. Progress
events are best effort: throttled by the worker and given up after a short while.

A dispatcher in any vidgen process claims due events with a short lease (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, the single writer on SQLite), delivers them, and settles each one:
delivered, retried later with backoff, or given up when it expires. Delivery is therefore at
least once; receivers deduplicate on the event id, which stays the same across retries.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from vidgen.core.events import FINAL_EVENTS, WebhookEvent
from vidgen.core.facts import JobFacts
from vidgen.store.db import Database
from vidgen.store.tables import webhook_events

__all__ = ["FINAL_EVENT_LIFETIME", "PROGRESS_EVENT_LIFETIME", "WebhookStore", "enqueue_event"]

#: How long a final event is retried before it is given up; progress events live briefly.
FINAL_EVENT_LIFETIME = timedelta(hours=24)
PROGRESS_EVENT_LIFETIME = timedelta(minutes=2)


def _to_event(row: Any) -> WebhookEvent:
    return WebhookEvent(
        id=row.id,
        job_id=row.job_id,
        key_id=row.key_id,
        url=row.url,
        type=row.type,
        final=row.final,
        data=dict(row.data or {}),
        attempts=row.attempts,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def enqueue_event(
    conn: Connection,
    *,
    job_id: str,
    key_id: str,
    facts: JobFacts,
    event: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> str | None:
    """Add an event to the outbox if the job subscribed to it, in the caller's transaction.
    Returns the event id, or None when the job has no webhook for this event."""
    hook = facts.webhook
    if hook is None or not hook.wants(event):
        return None
    final = event in FINAL_EVENTS
    event_id = str(uuid.uuid4())
    conn.execute(
        insert(webhook_events).values(
            id=event_id,
            job_id=job_id,
            key_id=key_id,
            url=hook.url,
            type=f"generation.{event}",
            final=final,
            data=data or {},
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            expires_at=now + (FINAL_EVENT_LIFETIME if final else PROGRESS_EVENT_LIFETIME),
        )
    )
    return event_id


_PENDING = and_(webhook_events.c.delivered_at.is_(None), webhook_events.c.gave_up_at.is_(None))


class WebhookStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(
        self, job_id: str, key_id: str, facts: JobFacts, event: str, data: dict[str, Any]
    ) -> str | None:
        now = self.db.now()
        return await self.db.write(
            lambda conn: enqueue_event(
                conn, job_id=job_id, key_id=key_id, facts=facts, event=event, data=data, now=now
            )
        )

    async def claim_due(self, *, limit: int, lease_seconds: float) -> list[WebhookEvent]:
        """Take up to ``limit`` events that are due, oldest first, for ``lease_seconds``."""
        now = self.db.now()
        due = (
            select(webhook_events.c.id)
            .where(
                _PENDING,
                webhook_events.c.next_attempt_at <= now,
                or_(webhook_events.c.lease_until.is_(None), webhook_events.c.lease_until < now),
            )
            .order_by(webhook_events.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(webhook_events)
            .where(webhook_events.c.id.in_(due.scalar_subquery()))
            .values(lease_until=now + timedelta(seconds=lease_seconds))
            .returning(*webhook_events.c)
        )

        def run(conn: Connection) -> list[WebhookEvent]:
            return [_to_event(row) for row in conn.execute(claim)]

        return await self.db.write(run)

    async def delivered(self, event_id: str, status: int) -> None:
        await self._settle(
            event_id, delivered_at=self.db.now(), last_status=status, lease_until=None
        )

    async def retry_later(
        self, event_id: str, *, delay_seconds: float, status: int | None, error: str
    ) -> None:
        await self._settle(
            event_id,
            attempts=webhook_events.c.attempts + 1,
            next_attempt_at=self.db.now() + timedelta(seconds=delay_seconds),
            last_status=status,
            last_error=error[:1000],
            lease_until=None,
        )

    async def give_up(self, event_id: str, *, status: int | None, error: str) -> None:
        await self._settle(
            event_id,
            attempts=webhook_events.c.attempts + 1,
            gave_up_at=self.db.now(),
            last_status=status,
            last_error=error[:1000],
            lease_until=None,
        )

    async def _settle(self, event_id: str, **values: Any) -> None:
        statement = (
            update(webhook_events).where(webhook_events.c.id == event_id, _PENDING).values(**values)
        )
        await self.db.write(lambda conn: conn.execute(statement))

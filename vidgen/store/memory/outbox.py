"""The webhook outbox in memory: ``WebhookOutbox`` as ``store.webhooks.WebhookStore`` keeps it.
Final events enter it in the same step as the state change that causes them (``State``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from vidgen.core.events import WebhookEvent
from vidgen.core.facts import JobFacts
from vidgen.store.memory.state import EventRow, State

__all__ = ["MemoryOutbox"]


class MemoryOutbox:
    def __init__(self, state: State) -> None:
        self._state = state

    async def enqueue(
        self, job_id: str, key_id: str, facts: JobFacts, event: str, data: dict[str, Any]
    ) -> str | None:
        state = self._state
        async with state.lock:
            state.check_available()
            return state.enqueue_for(job_id, key_id, facts, event, data)

    async def claim_due(self, *, limit: int, lease_seconds: float) -> list[WebhookEvent]:
        """Up to ``limit`` due events, oldest due first, leased for ``lease_seconds``."""
        state = self._state
        async with state.lock:
            state.check_available()
            now = state.clock()
            due = sorted(
                (
                    e
                    for e in state.events.values()
                    if e.pending
                    and e.next_attempt_at <= now
                    and (e.lease_until is None or e.lease_until < now)
                ),
                key=lambda e: (e.next_attempt_at, e.seq),
            )[:limit]
            for event in due:
                event.lease_until = now + timedelta(seconds=lease_seconds)
            return [_to_event(e) for e in due]

    async def delivered(self, event_id: str, status: int) -> None:
        async with self._state.lock:
            event = self._pending(event_id)
            if event is not None:
                event.delivered_at = self._state.clock()
                event.last_status = status
                event.lease_until = None

    async def retry_later(
        self, event_id: str, *, delay_seconds: float, status: int | None, error: str
    ) -> None:
        async with self._state.lock:
            event = self._pending(event_id)
            if event is not None:
                event.attempts += 1
                event.next_attempt_at = self._state.clock() + timedelta(seconds=delay_seconds)
                event.last_status, event.last_error = status, error[:1000]
                event.lease_until = None

    async def give_up(self, event_id: str, *, status: int | None, error: str) -> None:
        async with self._state.lock:
            event = self._pending(event_id)
            if event is not None:
                event.attempts += 1
                event.gave_up_at = self._state.clock()
                event.last_status, event.last_error = status, error[:1000]
                event.lease_until = None

    def _pending(self, event_id: str) -> EventRow | None:
        self._state.check_available()
        event = self._state.events.get(event_id)
        return event if event is not None and event.pending else None


def _to_event(row: EventRow) -> WebhookEvent:
    return WebhookEvent(
        id=row.id,
        job_id=row.job_id,
        key_id=row.key_id,
        url=row.url,
        type=row.type,
        final=row.final,
        data=dict(row.data),
        attempts=row.attempts,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )

"""Following a generation live: its queue place and ETA, holding a create's answer
(``Prefer: wait``), and the event stream of ``GET /v1/generations/{id}/events``.

Everything here reads the repository, never a process's memory, so it sees the jobs that
workers in other processes run. It reads a generation again every ``VIDGEN_LIVE_POLL_INTERVAL``
(0.25 s): one primary-key read, the same as a client's poll, made by the server instead.

**Event ids.** Each event's id is ``<n>:<status>:<progress ‰>:<queue position>``: ``n`` counts
the events sent for the generation to this client, across its reconnections, and the rest is
the state that event showed. A client that reconnects with ``Last-Event-ID`` gets ``n + 1`` next,
so ids only grow for it, and the stream sends the current state only if it differs from the
state that id names: nothing is sent twice and no change is skipped. A ``Last-Event-ID`` that
is not of this form is ignored (the stream starts over at 1, with the current state).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from vidgen.core.jobs import QueuePlace
from vidgen.core.keys import ApiKey
from vidgen.core.models import Generation, Status
from vidgen.core.ports import GenerationRepository
from vidgen.errors import ServiceUnavailable

__all__ = ["Live", "LiveEvent", "QueueEstimate", "estimate"]


@dataclass(frozen=True)
class QueueEstimate:
    position: int
    #: None until one job of the model has completed (nothing is measured yet).
    eta_seconds: int | None

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "eta_seconds": self.eta_seconds}


def estimate(place: QueuePlace) -> QueueEstimate:
    """The ETA of a queued job: the jobs up to and including it, each taking its model's mean
    run time, run as many at a time as run now (at least one). An estimate: the jobs ahead may
    be of other models, and a worker may serve only some models."""
    if place.mean_run_seconds is None:
        return QueueEstimate(place.position, None)
    parallel = max(1, place.running)
    eta = math.ceil(place.position * place.mean_run_seconds / parallel)
    return QueueEstimate(place.position, eta)


@dataclass(frozen=True)
class LiveEvent:
    #: ``status`` (the status changed, and the first event), ``progress``, ``queue``, or the
    #: final ``completed``, ``failed`` or ``cancelled``, after which the stream ends.
    type: str
    id: str
    data: dict[str, Any]


def _state(generation: Generation, queue: QueueEstimate | None) -> tuple[str, int, int]:
    return (
        generation.status.value,
        round(generation.progress * 1000),
        queue.position if queue else 0,
    )


def _parse_event_id(value: str | None) -> tuple[int, tuple[str, int, int]] | None:
    if not value:
        return None
    parts = value.split(":")
    if len(parts) != 4 or parts[1] not in {s.value for s in Status}:
        return None
    try:
        return int(parts[0]), (parts[1], int(parts[2]), int(parts[3]))
    except ValueError:
        return None


class Live:
    def __init__(self, repository: GenerationRepository, *, poll_interval: float) -> None:
        self.repository = repository
        self.poll_interval = poll_interval

    async def queue(self, generation: Generation) -> QueueEstimate | None:
        """A queued generation's place and ETA; None for any other."""
        if generation.status is not Status.QUEUED:
            return None
        place = await self.repository.queue_place(generation.id)
        return estimate(place) if place is not None else None

    async def wait(self, key: ApiKey, generation: Generation, seconds: float) -> Generation:
        """The generation once it has ended, or as it is after ``seconds``."""
        deadline = time.monotonic() + seconds
        while not generation.status.is_final:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(self.poll_interval, left))
            try:
                latest = await self.repository.get(generation.id, key_id=key.id)
            except ServiceUnavailable:
                continue  # a database outage: the wait goes on; the answer is the last seen
            if latest is None:  # deleted meanwhile: answered as it was last seen
                break
            generation = latest
        return generation

    async def follow(
        self, key: ApiKey, generation: Generation, last_event_id: str | None = None
    ) -> AsyncIterator[LiveEvent]:
        """Events for each change of ``generation`` (status, progress step, queue place) until
        it ends (the final event is the last) or is deleted (the stream just ends)."""
        resumed = _parse_event_id(last_event_id)
        count, seen = resumed if resumed is not None else (0, None)
        current: Generation | None = generation
        last_queue: QueueEstimate | None = None
        while current is not None:
            try:
                queue = await self.queue(current)
            except ServiceUnavailable:
                # The place is unknown for now: as last sent (the status still goes out).
                queue = last_queue if current.status is Status.QUEUED else None
            last_queue = queue
            state = _state(current, queue)
            if state != seen:
                count += 1
                yield LiveEvent(
                    type=_event_type(current, seen),
                    id=f"{count}:{state[0]}:{state[1]}:{state[2]}",
                    data=_event_data(current, queue),
                )
                seen = state
            if current.status.is_final:
                return
            current = await self._next(current, key)

    async def _next(self, current: Generation, key: ApiKey) -> Generation | None:
        """The generation read again after a poll interval; through a database outage, read
        again until it answers (the stream sends keep-alives meanwhile), as a client's poll
        would be retried."""
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                return await self.repository.get(current.id, key_id=key.id)
            except ServiceUnavailable:
                continue


def _event_type(generation: Generation, seen: tuple[str, int, int] | None) -> str:
    if generation.status.is_final:
        return generation.status.value
    if seen is None or seen[0] != generation.status.value:
        return "status"
    if seen[1] != round(generation.progress * 1000):
        return "progress"
    return "queue"


def _event_data(generation: Generation, queue: QueueEstimate | None) -> dict[str, Any]:
    error = generation.failure
    return {
        "id": generation.id,
        "status": generation.status.value,
        "progress": round(generation.progress, 4),
        "queue": queue.to_json() if queue else None,
        "error": {"name": error.name, "message": error.message} if error else None,
    }

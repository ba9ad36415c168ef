"""``GET /v1/generations/{id}/events``: a generation's progress as Server-Sent Events
(``sse-starlette``), so that a client follows a job without polling.

The events, their ids and resumption are ``service.live``'s; this module only turns them into
SSE. The generation is looked up before the stream starts, so an unknown id (or another key's)
is an ordinary 404, not an empty stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from vidgen.api.deps import CurrentKey, ServiceDep
from vidgen.api.dialect import ServiceRoute

__all__ = ["router"]

router = APIRouter(tags=["events"], route_class=ServiceRoute)

_EXAMPLE = (
    "id: 1:queued:0:2\nevent: status\n"
    'data: {"id": "…", "status": "queued", "progress": 0.0, '
    '"queue": {"position": 2, "eta_seconds": 14}, "error": null}\n\n'
    "id: 2:generating:0:0\nevent: status\ndata: {…}\n\n"
    "id: 3:generating:400:0\nevent: progress\ndata: {…}\n\n"
    "id: 4:completed:1000:0\nevent: completed\ndata: {…}\n\n"
)


@router.get(
    "/v1/generations/{generation_id}/events",
    summary="Follow a generation: Server-Sent Events until it ends",
    description="One event on every status change (`status`), progress step (`progress`) and "
    "queue-place change (`queue`), then the final `completed`, `failed` or `cancelled`, after "
    "which the stream closes. Each event's `data` is the generation's `id`, `status`, "
    "`progress` (0 to 1), `queue` (`position`, `eta_seconds`; null unless queued) and `error`. "
    "Reconnect with `Last-Event-ID` to resume: nothing is sent twice. A comment line keeps an "
    "idle stream alive every 15 s.",
    responses={
        200: {"content": {"text/event-stream": {"example": _EXAMPLE}}},
        401: {"description": "Missing, unknown or revoked API key."},
        404: {"description": "No such generation for this key."},
    },
    response_class=EventSourceResponse,
)
async def generation_events(
    request: Request,
    generation_id: Annotated[str, Path(max_length=100)],
    key: CurrentKey,
    service: ServiceDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=200)] = None,
) -> EventSourceResponse:
    generation = await service.generations.get(key, generation_id)
    events = service.live.follow(key, generation, last_event_id)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        async for event in events:
            yield ServerSentEvent(data=_json(event.data), event=event.type, id=event.id)

    return EventSourceResponse(stream(), ping=service.settings.events_keepalive_seconds)


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))

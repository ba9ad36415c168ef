"""``POST /hooks/{provider}/{job id}?token=…``: where fal and Replicate call back when a job's
upstream request ends (only when ``VIDGEN_PUBLIC_URL`` is set; see ``service.provider_hooks``).

Translation only: a genuine hook is answered 204 at once (its worker polls the provider, not
this request); anything else 404, the same body whether or not the job exists. Hidden from the
OpenAPI document: the callers are providers, given the URL by vidgen itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from vidgen.api.deps import ServiceDep
from vidgen.api.dialect import ServiceRoute

__all__ = ["router"]

# ServiceRoute renders what a route raises (a path too long, a database outage) in the default
# error shape, as every other route does.
router = APIRouter(include_in_schema=False, route_class=ServiceRoute)


@router.post("/hooks/{provider}/{job_id}")
async def provider_hook(
    request: Request,
    provider: Annotated[str, Path(max_length=40)],
    job_id: Annotated[str, Path(max_length=100)],
    service: ServiceDep,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    hooks = service.hooks
    body = await request.body()
    if hooks is not None and await hooks.receive(
        provider, job_id, token, body, dict(request.headers)
    ):
        return Response(status_code=204)
    return JSONResponse({"error": "Not found."}, status_code=404)

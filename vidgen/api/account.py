"""``GET /v1/account``: what a key can learn about itself (balance, webhook secret)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from vidgen.api.deps import CurrentKey, ServiceDep
from vidgen.api.dialect import ServiceRoute

__all__ = ["router"]

router = APIRouter(tags=["account"], route_class=ServiceRoute)


class Account(BaseModel):
    id: str
    name: str
    credits: int | None = Field(..., description="Remaining credits; null means unlimited.")
    max_concurrency: int | None = Field(..., description="Jobs this key may run at once.")
    priority: int = Field(
        ..., description="Queue priority: higher is served first; equal keys take turns."
    )
    webhook_secret: str = Field(
        ..., description="Verifies `x-webhook-signature` on this key's webhook deliveries."
    )


@router.get(
    "/v1/account",
    response_model=Account,
    summary="This key's balance and webhook signing secret",
    responses={401: {"description": "Missing, unknown or revoked API key."}},
)
async def account(key: CurrentKey, service: ServiceDep) -> Account:
    current = await service.access.current(key)
    return Account(
        id=current.id,
        name=current.name,
        credits=current.credits,
        max_concurrency=current.max_concurrency,
        priority=current.priority,
        webhook_secret=service.access.webhook_secret(current),
    )

"""``GET /v1/account``: what a key can learn about itself (role, balance, limits, webhook
secret)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from vidgen.api.deps import CurrentKey, ServiceDep
from vidgen.api.dialect import ServiceRoute

__all__ = ["router"]

router = APIRouter(tags=["account"], route_class=ServiceRoute)


class Account(BaseModel):
    id: str
    name: str
    role: Literal["admin", "client"] = Field(
        ..., description="`admin` keys manage keys (`/v1/admin/keys`) and see every key's usage."
    )
    credits: int | None = Field(..., description="Remaining credits; null means unlimited.")
    max_concurrency: int | None = Field(..., description="Jobs this key may run at once.")
    priority: int = Field(
        ..., description="Queue priority: higher is served first; equal keys take turns."
    )
    rate_limit_per_minute: int | None = Field(
        ..., description="Creates per minute; null: the server's limit."
    )
    monthly_credit_limit: int | None = Field(
        ..., description="Net credits the key may spend per calendar month (UTC); null: any."
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
        role=current.role,
        credits=current.credits,
        max_concurrency=current.max_concurrency,
        priority=current.priority,
        rate_limit_per_minute=current.rate_limit_per_minute,
        monthly_credit_limit=current.monthly_credit_limit,
        webhook_secret=service.access.webhook_secret(current),
    )

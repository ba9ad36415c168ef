"""``/v1/admin/keys``: API keys managed over HTTP, by admin keys only (a client key gets 403).
Errors take the shape of vidgen's own routes (``/v1/account``'s)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from vidgen.api.deps import CurrentKey, ServiceDep
from vidgen.api.dialect import ServiceRoute
from vidgen.core.keys import ApiKey, KeyStatus

__all__ = ["KeyView", "router"]

router = APIRouter(tags=["admin"], route_class=ServiceRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Validation failed: each field at fault is named."},
    401: {"description": "Missing, unknown or revoked API key."},
    403: {"description": "Not an admin key."},
    404: {"description": "No such key."},
    409: {"description": "The key cannot take this change (unlimited credits, or itself)."},
}
KeyId = Annotated[str, Path(max_length=64, description="The key's id, as listed.")]
Priority = Annotated[int, Field(ge=-1000, le=1000)]
Positive = Annotated[int, Field(ge=1, le=2**31 - 1)]
Credits = Annotated[int, Field(ge=0, le=2**53)]


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: Priority | None = Field(
        None, description="Queue priority: higher is served first; equal keys take turns."
    )
    max_concurrency: Positive | None = Field(None, description="Jobs the key may run at once.")
    rate_limit_per_minute: Annotated[int, Field(ge=0, le=1_000_000)] | None = Field(
        None,
        description="Creates per minute, overriding VIDGEN_RATE_LIMIT_PER_MINUTE (0: none).",
    )
    monthly_credit_limit: Credits | None = Field(
        None, description="Net credits the key may spend per calendar month (UTC)."
    )


class NewKeyBody(Limits):
    name: str = Field(..., min_length=1, max_length=200, description="A label for the key.")
    credits: Credits | None = Field(None, description="Starting balance; unlimited if omitted.")
    role: Literal["admin", "client"] = Field("client", description="`admin` manages keys.")


class KeyView(BaseModel):
    id: str
    name: str
    prefix: str = Field(..., description="The secret's first characters, to recognise it.")
    role: Literal["admin", "client"]
    credits: int | None = Field(..., description="Balance; null means unlimited.")
    priority: int
    max_concurrency: int | None
    rate_limit_per_minute: int | None = Field(..., description="Null: the server's limit.")
    monthly_credit_limit: int | None
    source: str = Field(..., description="cli, env, auto or api: where the key was made.")
    active: bool
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyView:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            role=key.role,
            credits=key.credits,
            priority=key.priority,
            max_concurrency=key.max_concurrency,
            rate_limit_per_minute=key.rate_limit_per_minute,
            monthly_credit_limit=key.monthly_credit_limit,
            source=key.source,
            active=key.active,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class KeyListed(KeyView):
    last_used_at: datetime | None = Field(..., description="When it last created a generation.")
    spent_this_month: int = Field(..., description="Net credits spent this calendar month.")

    @classmethod
    def of_status(cls, status: KeyStatus) -> KeyListed:
        view = KeyView.of(status.key).model_dump()
        return cls(
            **view, last_used_at=status.last_used_at, spent_this_month=status.spent_this_month
        )


class CreatedKey(KeyView):
    key: str = Field(..., description="The secret: shown this once, never again.")
    webhook_secret: str = Field(..., description="Verifies this key's webhook deliveries.")


class KeyList(BaseModel):
    data: list[KeyListed]


class CreditBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[int, Field(ge=-(2**53), le=2**53)] = Field(
        ..., description="Credits to add; negative takes away (never below zero)."
    )
    reason: str = Field(..., min_length=1, max_length=500, description="Kept in the ledger.")


class Balance(BaseModel):
    id: str
    credits: int


@router.post(
    "/v1/admin/keys",
    response_model=CreatedKey,
    status_code=201,
    responses=ERRORS,
    summary="Create a key (its secret is answered once)",
)
async def create_key(body: NewKeyBody, key: CurrentKey, service: ServiceDep) -> CreatedKey:
    limits = body.model_dump(include=set(Limits.model_fields), exclude_none=True)
    made = await service.admin.create(
        key, body.name, credits=body.credits, role=body.role, limits=limits
    )
    view = KeyView.of(made.key).model_dump()
    return CreatedKey(**view, key=made.secret, webhook_secret=made.webhook_secret)


@router.get(
    "/v1/admin/keys",
    response_model=KeyList,
    responses=ERRORS,
    summary="Every key, with its balance, limits and last use",
)
async def list_keys(key: CurrentKey, service: ServiceDep) -> KeyList:
    return KeyList(data=[KeyListed.of_status(s) for s in await service.admin.list(key)])


@router.get("/v1/admin/keys/{key_id}", response_model=KeyView, responses=ERRORS, summary="One key")
async def get_key(key_id: KeyId, key: CurrentKey, service: ServiceDep) -> KeyView:
    return KeyView.of(await service.admin.get(key, key_id))


@router.patch(
    "/v1/admin/keys/{key_id}",
    response_model=KeyView,
    responses=ERRORS,
    summary="Change a key's limits",
    description="Only the fields sent change; `null` clears a limit (the server's rate limit "
    "applies again, or no cap). New jobs get a new priority; queued ones keep theirs.",
)
async def update_key(key_id: KeyId, body: Limits, key: CurrentKey, service: ServiceDep) -> KeyView:
    changes = body.model_dump(exclude_unset=True)
    return KeyView.of(await service.admin.update(key, key_id, changes))


@router.post(
    "/v1/admin/keys/{key_id}/credits",
    response_model=Balance,
    responses=ERRORS,
    summary="Add or take away credits, with a reason kept in the ledger",
)
async def credit_key(
    key_id: KeyId, body: CreditBody, key: CurrentKey, service: ServiceDep
) -> Balance:
    balance = await service.admin.credit(key, key_id, body.amount, body.reason)
    return Balance(id=key_id, credits=balance)


@router.delete(
    "/v1/admin/keys/{key_id}",
    response_model=KeyView,
    responses=ERRORS,
    summary="Revoke a key (it stops working on every process within 2 s)",
)
async def revoke_key(key_id: KeyId, key: CurrentKey, service: ServiceDep) -> KeyView:
    return KeyView.of(await service.admin.revoke(key, key_id))

"""An API key as the core sees it: who is calling, with what role, balance, limits and priority.
Secrets and their hashes stay in the store (``vidgen.store.keys``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "LIMIT_FIELDS",
    "ROLES",
    "ApiKey",
    "CreditOutcome",
    "CreditResult",
    "KeyStatus",
    "Role",
]

Role = Literal["admin", "client"]
ROLES: tuple[Role, ...] = ("admin", "client")
#: The limits an operator may change on a key (``KeyAdmin.update_limits``); None clears one.
LIMIT_FIELDS = ("priority", "max_concurrency", "rate_limit_per_minute", "monthly_credit_limit")


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    credits: int | None  # None: unlimited
    max_concurrency: int | None
    source: str
    created_at: datetime
    revoked_at: datetime | None
    priority: int = 0  # higher is claimed first; keys of one priority take turns
    #: An admin key manages keys over HTTP (``/v1/admin/…``) and sees every key's usage.
    role: Role = "client"
    #: Creates per minute; None: the server's ``VIDGEN_RATE_LIMIT_PER_MINUTE``.
    rate_limit_per_minute: int | None = None
    #: Net credits (charges less refunds) the key may spend per UTC calendar month; None: any.
    monthly_credit_limit: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class KeyStatus:
    """A key as an operator lists it: with its last use (its latest generation) and what it
    spent this month."""

    key: ApiKey
    last_used_at: datetime | None
    spent_this_month: int


CreditOutcome = Literal["applied", "unlimited", "below_zero", "unknown_key"]


@dataclass(frozen=True)
class CreditResult:
    """What an operator's credit adjustment did: ``applied`` (``balance`` is the new one), or
    refused because the key is unlimited, the balance would drop below zero (``balance`` is
    the current one), or there is no such key."""

    outcome: CreditOutcome
    balance: int | None = None

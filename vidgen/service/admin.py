"""Key management over HTTP, for admin keys only: create, list, change limits, credit, revoke.

Every method takes the calling key first and refuses (``Forbidden``) unless it is an admin
key, so that no route can forget the check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from vidgen.core.keys import LIMIT_FIELDS, ApiKey, KeyStatus, Role
from vidgen.core.ports import KeyAdmin
from vidgen.core.validation import text_problem
from vidgen.errors import Conflict, Forbidden, InvalidRequest, NotFound
from vidgen.service.generations import month_start

__all__ = ["Admin", "NewKey"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # shown once: only its hash is stored
    webhook_secret: str


class Admin:
    def __init__(self, keys: KeyAdmin, webhook_secret: Callable[[str], str]) -> None:
        self.keys = keys
        self._webhook_secret = webhook_secret

    @staticmethod
    def require(caller: ApiKey) -> None:
        if not caller.is_admin:
            raise Forbidden(
                "This route needs an admin key (VIDGEN_ADMIN_KEYS, or `vidgen keys "
                "create --admin`)."
            )

    async def create(
        self,
        caller: ApiKey,
        name: str,
        *,
        credits: int | None = None,
        role: Role = "client",
        limits: dict[str, int | None] | None = None,
    ) -> NewKey:
        self.require(caller)
        if (problem := text_problem(name)) is not None:
            raise InvalidRequest.single("name", problem)
        limits = limits or {}
        key, secret = await self.keys.create(
            name,
            credits=credits,
            source="api",
            role=role,
            priority=limits.get("priority") or 0,
            max_concurrency=limits.get("max_concurrency"),
            rate_limit_per_minute=limits.get("rate_limit_per_minute"),
            monthly_credit_limit=limits.get("monthly_credit_limit"),
        )
        log.info("key created", extra={"key_id": key.id, "by": caller.id, "role": role})
        return NewKey(key, secret, self._webhook_secret(key.id))

    async def list(self, caller: ApiKey, *, now: datetime | None = None) -> list[KeyStatus]:
        self.require(caller)
        return await self.keys.overview(month_start(now or datetime.now(UTC)))

    async def get(self, caller: ApiKey, key_id: str) -> ApiKey:
        self.require(caller)
        _check_id(key_id)
        key = await self.keys.get(key_id)
        if key is None:
            raise _no_key(key_id)
        return key

    async def update(self, caller: ApiKey, key_id: str, changes: dict[str, int | None]) -> ApiKey:
        """Set the limits named in ``changes`` (None clears one; a priority cannot be cleared)."""
        self.require(caller)
        if set(changes) - set(LIMIT_FIELDS):  # pragma: no cover - the route names them
            raise ValueError(f"not a limit: {sorted(set(changes) - set(LIMIT_FIELDS))}")
        if "priority" in changes and changes["priority"] is None:
            raise InvalidRequest.single("priority", "must be a whole number (0 is the default)")
        _check_id(key_id)
        key = await self.keys.update_limits(key_id, changes)
        if key is None:
            raise _no_key(key_id)
        log.info("key limits changed", extra={"key_id": key_id, "by": caller.id})
        return key

    async def credit(self, caller: ApiKey, key_id: str, amount: int, reason: str) -> int:
        """Add ``amount`` credits (negative takes away) to a limited key; the new balance. A
        balance never goes below zero: such an amount is refused, not cut short, so that the
        ledger holds exactly what the operator asked for."""
        self.require(caller)
        _check_id(key_id)
        if (problem := text_problem(reason)) is not None:
            raise InvalidRequest.single("reason", problem)
        result = await self.keys.adjust_credits(key_id, amount, reason)
        if result.outcome == "unknown_key":
            raise _no_key(key_id)
        if result.outcome == "unlimited":
            raise Conflict(
                f"Key {key_id!r} has unlimited credits, so no balance to adjust (a key's "
                "balance is set when it is created: make a key with credits to meter one)."
            )
        if result.outcome == "below_zero":
            raise InvalidRequest.single(
                "amount",
                f"would take the balance ({result.balance}) below zero; at most "
                f"-{result.balance} may be taken",
            )
        assert result.balance is not None
        log.info("key credited", extra={"key_id": key_id, "by": caller.id, "amount": amount})
        return result.balance

    async def revoke(self, caller: ApiKey, key_id: str) -> ApiKey:
        """Revoke a key (its generations are kept). A key cannot revoke itself: that would lock
        out an operator whose only admin key it is."""
        self.require(caller)
        if key_id == caller.id:
            raise Conflict("A key cannot revoke itself; revoke it with another admin key.")
        _check_id(key_id)
        key = await self.keys.get(key_id)
        if key is None:
            raise _no_key(key_id)
        await self.keys.revoke(key_id)
        log.info("key revoked", extra={"key_id": key_id, "by": caller.id})
        return await self.keys.get(key_id) or key


def _check_id(key_id: str) -> None:
    """An id with text no database can store (a NUL: PostgreSQL refuses it in any query) names
    no key: 404 without asking the database, the same on SQLite."""
    if text_problem(key_id) is not None:
        raise _no_key(key_id)


def _no_key(key_id: str) -> NotFound:
    return NotFound(f"Key {key_id!r} not found.")

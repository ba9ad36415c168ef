"""API keys in memory: ``KeyAdmin`` (which includes ``KeyRepository``), plus the grant and
configure that the CLI uses, as ``store.keys.KeyStore`` does them. Authentication answers are not
cached (the SQL store caches them for ``AUTH_CACHE_SECONDS``): there is no round trip to save."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from vidgen.core.keys import LIMIT_FIELDS, ApiKey, CreditResult, KeyStatus, Role
from vidgen.store.keys import hash_secret, new_secret
from vidgen.store.memory.state import KeyRow, LedgerEntry, State

__all__ = ["MemoryKeys"]


class MemoryKeys:
    def __init__(self, state: State) -> None:
        self._state = state

    async def create(
        self,
        name: str,
        *,
        credits: int | None = None,
        source: str = "cli",
        secret: str | None = None,
        max_concurrency: int | None = None,
        priority: int = 0,
        role: Role = "client",
        rate_limit_per_minute: int | None = None,
        monthly_credit_limit: int | None = None,
    ) -> tuple[ApiKey, str]:
        """A key and its secret; a limited key's credits are granted in the ledger."""
        state = self._state
        secret = secret or new_secret()
        async with state.lock:
            state.check_available()
            key_hash = hash_secret(secret)
            if any(row.key_hash == key_hash for row in state.keys.values()):
                raise ValueError("a key with this secret exists already")
            now = state.clock()
            key = ApiKey(
                id=uuid.uuid4().hex,
                name=name,
                prefix=secret[:10],
                credits=credits,
                max_concurrency=max_concurrency,
                priority=priority,
                role=role,
                rate_limit_per_minute=rate_limit_per_minute,
                monthly_credit_limit=monthly_credit_limit,
                source=source,
                created_at=now,
                revoked_at=None,
            )
            state.keys[key.id] = KeyRow(key, key_hash)
            if credits:
                state.ledger.append(LedgerEntry(key.id, None, credits, "grant", now))
            return key, secret

    async def authenticate(self, secret: str) -> ApiKey | None:
        state = self._state
        key_hash = hash_secret(secret)
        async with state.lock:
            state.check_available()
            for row in state.keys.values():
                if row.key_hash == key_hash:
                    return row.key if row.key.active else None
            return None

    async def get(self, key_id: str) -> ApiKey | None:
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.keys.get(key_id)
            return row.key if row is not None else None

    async def grant(self, key_id: str, amount: int) -> int | None:
        """Add credits to a limited key; the new balance (None: unlimited, or no such key)."""
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.keys.get(key_id)
            if row is None or row.key.credits is None:
                return None
            row.key = replace(row.key, credits=row.key.credits + amount)
            state.ledger.append(LedgerEntry(key_id, None, amount, "grant", state.clock()))
            return row.key.credits

    async def adjust_credits(self, key_id: str, amount: int, note: str) -> CreditResult:
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.keys.get(key_id)
            if row is None:
                return CreditResult("unknown_key")
            if row.key.credits is None:
                return CreditResult("unlimited")
            if row.key.credits + amount < 0:
                return CreditResult("below_zero", row.key.credits)
            row.key = replace(row.key, credits=row.key.credits + amount)
            state.ledger.append(
                LedgerEntry(key_id, None, amount, "adjustment", state.clock(), note=note)
            )
            return CreditResult("applied", row.key.credits)

    async def configure(
        self,
        key_id: str,
        *,
        priority: int | None = None,
        max_concurrency: int | None = None,
        unlimited_concurrency: bool = False,
    ) -> ApiKey | None:
        """Change a key's priority or concurrency limit (jobs already queued keep theirs)."""
        changes: dict[str, int | None] = {}
        if priority is not None:
            changes["priority"] = priority
        if unlimited_concurrency:
            changes["max_concurrency"] = None
        elif max_concurrency is not None:
            changes["max_concurrency"] = max_concurrency
        return await self.update_limits(key_id, changes)

    async def update_limits(self, key_id: str, changes: dict[str, int | None]) -> ApiKey | None:
        unknown = set(changes) - set(LIMIT_FIELDS)
        if unknown:
            raise ValueError(f"not a key limit: {sorted(unknown)}")
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.keys.get(key_id)
            if row is None:
                return None
            row.key = replace(row.key, **changes)  # type: ignore[arg-type]
            return row.key

    async def overview(self, month_start: datetime) -> list[KeyStatus]:
        state = self._state
        async with state.lock:
            state.check_available()
            statuses = []
            for row in sorted(state.keys.values(), key=lambda r: (r.key.created_at, r.key.id)):
                mine = [j.created_at for j in state.jobs.values() if j.key_id == row.key.id]
                spent = -sum(
                    e.delta
                    for e in state.ledger
                    if e.key_id == row.key.id
                    and e.job_id is not None
                    and e.created_at >= month_start
                )
                statuses.append(KeyStatus(row.key, max(mine, default=None), spent))
            return statuses

    async def revoke(self, key_id: str) -> bool:
        state = self._state
        async with state.lock:
            state.check_available()
            row = state.keys.get(key_id)
            if row is None or row.key.revoked_at is not None:
                return False
            row.key = replace(row.key, revoked_at=state.clock())
            return True

"""API keys and their credit balances.

Only a SHA-256 of each secret is stored. Keys are 256-bit random tokens, so a fast hash is the
right tool (a slow password hash protects low-entropy secrets, and would cost every request).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from vidgen.core.keys import LIMIT_FIELDS, ApiKey, CreditResult, KeyStatus, Role
from vidgen.store.db import Database
from vidgen.store.tables import api_keys, credit_ledger, jobs

__all__ = ["SECRET_PREFIX", "KeyStore", "hash_secret", "new_secret"]

SECRET_PREFIX = "vg_"  # noqa: S105 (a prefix, not a secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _insert_key(
    conn: Connection,
    secret: str,
    name: str,
    credits: int | None,
    max_concurrency: int | None,
    source: str,
    *,
    now: datetime,
    priority: int = 0,
    role: Role = "client",
    rate_limit_per_minute: int | None = None,
    monthly_credit_limit: int | None = None,
) -> ApiKey:
    """Store a key (only its hash) and, for a limited key, the grant in the credit ledger."""
    key_id = uuid.uuid4().hex
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            name=name,
            key_hash=hash_secret(secret),
            key_prefix=secret[:10],
            credits=credits,
            max_concurrency=max_concurrency,
            priority=priority,
            role=role,
            rate_limit_per_minute=rate_limit_per_minute,
            monthly_credit_limit=monthly_credit_limit,
            source=source,
            created_at=now,
        )
    )
    if credits:
        conn.execute(
            insert(credit_ledger).values(
                key_id=key_id, delta=credits, reason="grant", created_at=now
            )
        )
    return _to_key(conn.execute(select(api_keys).where(api_keys.c.id == key_id)).one())


def _to_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.key_prefix,
        credits=row.credits,
        max_concurrency=row.max_concurrency,
        priority=row.priority,
        role=row.role,
        rate_limit_per_minute=row.rate_limit_per_minute,
        monthly_credit_limit=row.monthly_credit_limit,
        source=row.source,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


#: How long an authentication answer is reused. Polls authenticate thousands of times a second;
#: the price is that a key revoked from another process keeps working for up to this long. The
#: promise is 2 s (README, "Keys over HTTP"), and 2 s keeps it: an answer's lifetime is counted
#: from before its read began, so a key read as active before a revoke is forgotten less than
#: 2 s after it. The process that revokes or changes a key forgets its answers at once.
AUTH_CACHE_SECONDS = 2.0
#: Serialises "create the first key" across processes on PostgreSQL (any constant works).
_FIRST_KEY_LOCK = 0x7669646B
_BY_HASH = select(api_keys).where(api_keys.c.key_hash == bindparam("key_hash"))


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._auth_cache: dict[str, tuple[float, ApiKey | None]] = {}

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
        """Create a key; returns it with its secret, which is never retrievable again."""
        secret = secret or new_secret()
        key = await self.db.write(
            lambda conn: _insert_key(
                conn,
                secret,
                name,
                credits,
                max_concurrency,
                source,
                now=self.db.now(),
                priority=priority,
                role=role,
                rate_limit_per_minute=rate_limit_per_minute,
                monthly_credit_limit=monthly_credit_limit,
            )
        )
        return key, secret

    async def ensure(self, secret: str, *, name: str, source: str, role: Role = "client") -> ApiKey:
        """Make sure a bootstrap key exists (unlimited credits) with this role. Idempotent; a
        key that was revoked stays revoked."""
        existing = await self._one(api_keys.c.key_hash == hash_secret(secret))
        if existing is not None:
            if existing.role != role:
                # The environment says what a bootstrap key is: moving a secret from
                # VIDGEN_API_KEYS to VIDGEN_ADMIN_KEYS (or back) changes its role.
                await self.db.write(
                    lambda conn: conn.execute(
                        update(api_keys).where(api_keys.c.id == existing.id).values(role=role)
                    )
                )
                self._auth_cache.clear()
                return await self.get(existing.id) or existing
            return existing
        try:
            key, _ = await self.create(name, source=source, secret=secret, role=role)
        except IntegrityError:
            # Another process (API or worker) starting at the same moment stored it first.
            again = await self._one(api_keys.c.key_hash == hash_secret(secret))
            if again is None:
                raise
            return again
        return key

    async def create_if_none(self, name: str, *, source: str) -> tuple[ApiKey, str] | None:
        """Create a first key when there is none at all, atomically: of several API processes
        that start together on an empty database, one creates it (PostgreSQL: an advisory
        lock; SQLite: the single writer)."""
        created = await self.db.write(
            lambda conn: self._create_first(conn, name, source) if self._no_keys(conn) else None
        )
        return created

    def _no_keys(self, conn: Connection) -> bool:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_FIRST_KEY_LOCK)))
        return int(conn.execute(select(func.count()).select_from(api_keys)).scalar_one()) == 0

    def _create_first(self, conn: Connection, name: str, source: str) -> tuple[ApiKey, str]:
        secret = new_secret()
        return _insert_key(conn, secret, name, None, None, source, now=self.db.now()), secret

    async def authenticate(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None. Answers are cached for a moment."""
        key_hash = hash_secret(secret)
        now = time.monotonic()
        cached = self._auth_cache.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]

        def read(conn: Connection) -> ApiKey | None:
            row = conn.execute(_BY_HASH, {"key_hash": key_hash}).first()
            return _to_key(row) if row else None

        key = await self.db.read(read, point=True)
        answer = key if key is not None and key.active else None
        if len(self._auth_cache) > 10_000:  # bounded: unknown keys must not grow it forever
            self._auth_cache.clear()
        self._auth_cache[key_hash] = (now + AUTH_CACHE_SECONDS, answer)
        return answer

    async def get(self, key_id: str) -> ApiKey | None:
        return await self._one(api_keys.c.id == key_id)

    async def _one(self, condition: Any) -> ApiKey | None:
        def read(conn: Connection) -> ApiKey | None:
            row = conn.execute(select(api_keys).where(condition)).first()
            return _to_key(row) if row else None

        return await self.db.read(read, point=True)

    async def all(self) -> list[ApiKey]:
        def read(conn: Connection) -> list[ApiKey]:
            return [
                _to_key(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.created_at))
            ]

        return await self.db.read(read)

    async def count(self) -> int:
        return await self.db.read(
            lambda conn: int(conn.execute(select(func.count()).select_from(api_keys)).scalar_one())
        )

    async def find(self, ident: str) -> list[ApiKey]:
        """Keys matching an id, a name, a listed prefix, or the full secret."""
        query = select(api_keys).where(
            or_(
                api_keys.c.id == ident,
                api_keys.c.name == ident,
                api_keys.c.key_prefix == ident,
                api_keys.c.key_hash == hash_secret(ident),
            )
        )
        return await self.db.read(lambda conn: [_to_key(r) for r in conn.execute(query)])

    async def configure(
        self,
        key_id: str,
        *,
        priority: int | None = None,
        max_concurrency: int | None = None,
        unlimited_concurrency: bool = False,
    ) -> ApiKey | None:
        """Change a key's priority or concurrency limit; None if there is no such key. Jobs
        already queued keep the priority they were created with."""
        values: dict[str, int | None] = {}
        if priority is not None:
            values["priority"] = priority
        if unlimited_concurrency:
            values["max_concurrency"] = None
        elif max_concurrency is not None:
            values["max_concurrency"] = max_concurrency
        return await self.update_limits(key_id, values)

    async def update_limits(self, key_id: str, changes: dict[str, int | None]) -> ApiKey | None:
        """Set the named limits (``core.keys.LIMIT_FIELDS``; None clears one, but a priority
        is never None); None if there is no such key."""
        unknown = set(changes) - set(LIMIT_FIELDS)
        if unknown:
            raise ValueError(f"not a key limit: {sorted(unknown)}")

        def configure(conn: Connection) -> ApiKey | None:
            if changes:
                conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**changes))
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
            return _to_key(row) if row else None

        self._auth_cache.clear()
        return await self.db.write(configure)

    async def overview(self, month_start: datetime) -> list[KeyStatus]:
        """Every key, oldest first, with its latest generation and its net spending since
        ``month_start``."""
        last_used = (
            select(jobs.c.key_id, func.max(jobs.c.created_at).label("last"))
            .group_by(jobs.c.key_id)
            .subquery()
        )
        spent = (
            select(credit_ledger.c.key_id, func.sum(credit_ledger.c.delta).label("delta"))
            .where(credit_ledger.c.job_id.is_not(None), credit_ledger.c.created_at >= month_start)
            .group_by(credit_ledger.c.key_id)
            .subquery()
        )
        query = (
            select(api_keys, last_used.c.last, spent.c.delta)
            .outerjoin(last_used, last_used.c.key_id == api_keys.c.id)
            .outerjoin(spent, spent.c.key_id == api_keys.c.id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )

        def read(conn: Connection) -> list[KeyStatus]:
            return [
                KeyStatus(_to_key(row), row.last, -int(row.delta or 0))
                for row in conn.execute(query)
            ]

        return await self.db.read(read)

    async def adjust_credits(self, key_id: str, amount: int, note: str) -> CreditResult:
        """Add ``amount`` to a limited key (negative takes away), never below zero: the update
        is its own guard, as a charge's is (``store.credits.take_credits``)."""
        now = self.db.now()

        def adjust(conn: Connection) -> CreditResult:
            balance = conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.id == key_id,
                    api_keys.c.credits.is_not(None),
                    api_keys.c.credits + amount >= 0,
                )
                .values(credits=api_keys.c.credits + amount)
                .returning(api_keys.c.credits)
            ).scalar_one_or_none()
            if balance is not None:
                conn.execute(
                    insert(credit_ledger).values(
                        key_id=key_id, delta=amount, reason="adjustment", note=note, created_at=now
                    )
                )
                return CreditResult("applied", int(balance))
            row = conn.execute(select(api_keys.c.credits).where(api_keys.c.id == key_id)).first()
            if row is None:
                return CreditResult("unknown_key")
            if row.credits is None:
                return CreditResult("unlimited")
            return CreditResult("below_zero", int(row.credits))

        return await self.db.write(adjust)

    async def revoke(self, key_id: str) -> bool:
        statement = (
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=self.db.now())
        )
        self._auth_cache.clear()
        return await self.db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def grant(self, key_id: str, amount: int) -> int | None:
        """Add credits to a limited key; returns the new balance (None: the key is unlimited)."""
        now = self.db.now()

        def grant(conn: Connection) -> int | None:
            balance = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.credits.is_not(None))
                .values(credits=api_keys.c.credits + amount)
                .returning(api_keys.c.credits)
            ).scalar_one_or_none()
            if balance is None:
                return None
            conn.execute(
                insert(credit_ledger).values(
                    key_id=key_id, delta=amount, reason="grant", created_at=now
                )
            )
            return int(balance)

        return await self.db.write(grant)

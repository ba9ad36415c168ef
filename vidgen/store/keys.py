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

from vidgen.core.keys import ApiKey
from vidgen.store.db import Database
from vidgen.store.tables import api_keys, credit_ledger

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
        source=row.source,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


#: How long an authentication answer is reused. Polls authenticate thousands of times a second;
#: the price is that a key revoked from another process keeps working for up to this long.
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
            )
        )
        return key, secret

    async def ensure(self, secret: str, *, name: str, source: str) -> ApiKey:
        """Make sure a bootstrap key exists (unlimited credits). Idempotent; a key that was
        revoked stays revoked."""
        existing = await self._one(api_keys.c.key_hash == hash_secret(secret))
        if existing is not None:
            return existing
        try:
            key, _ = await self.create(name, source=source, secret=secret)
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

        def configure(conn: Connection) -> ApiKey | None:
            if values:
                conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
            return _to_key(row) if row else None

        self._auth_cache.clear()
        return await self.db.write(configure)

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

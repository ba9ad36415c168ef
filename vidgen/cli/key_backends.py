"""Where ``vidgen keys`` finds the keys: the local database (``LocalKeys``, through the store)
or a server's admin routes (``RemoteKeys``: ``--base-url`` and an admin key in
``VIDGEN_ADMIN_KEY``). Both answer with the same ``ApiKey``s, so every command prints the same
thing either way."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from vidgen.core.keys import ApiKey, Role

if TYPE_CHECKING:
    from vidgen.store.keys import KeyStore

__all__ = ["ADMIN_KEY_ENV", "KeyBackend", "LocalKeys", "RemoteKeys"]

ADMIN_KEY_ENV = "VIDGEN_ADMIN_KEY"
err = Console(stderr=True)


class KeyBackend(Protocol):
    async def create(
        self,
        name: str,
        *,
        credits: int | None,
        max_concurrency: int | None,
        priority: int,
        role: Role,
        rate_limit_per_minute: int | None,
        monthly_credit_limit: int | None,
    ) -> tuple[ApiKey, str, str]:
        """The key, its secret and its webhook secret."""
        ...

    async def all(self) -> list[ApiKey]: ...

    async def find(self, ident: str) -> list[ApiKey]: ...

    async def configure(self, key_id: str, changes: dict[str, int | None]) -> ApiKey: ...

    async def revoke(self, key_id: str) -> None: ...

    async def credit(self, key_id: str, amount: int, reason: str) -> int | None:
        """Add ``amount`` (negative: take away; never below zero) with ``reason`` in the ledger;
        the new balance, None for an unlimited key."""
        ...


class LocalKeys:
    def __init__(self, store: KeyStore, webhook_secret: str) -> None:
        self.store = store
        self._server_secret = webhook_secret

    async def create(
        self,
        name: str,
        *,
        credits: int | None,
        max_concurrency: int | None,
        priority: int,
        role: Role,
        rate_limit_per_minute: int | None,
        monthly_credit_limit: int | None,
    ) -> tuple[ApiKey, str, str]:
        from vidgen.webhooks.signing import webhook_secret

        key, secret = await self.store.create(
            name,
            credits=credits,
            max_concurrency=max_concurrency,
            priority=priority,
            role=role,
            rate_limit_per_minute=rate_limit_per_minute,
            monthly_credit_limit=monthly_credit_limit,
        )
        return key, secret, webhook_secret(self._server_secret, key.id)

    async def all(self) -> list[ApiKey]:
        return await self.store.all()

    async def find(self, ident: str) -> list[ApiKey]:
        return await self.store.find(ident)

    async def configure(self, key_id: str, changes: dict[str, int | None]) -> ApiKey:
        key = await self.store.update_limits(key_id, changes)
        assert key is not None  # found just before, and keys are never deleted
        return key

    async def revoke(self, key_id: str) -> None:
        await self.store.revoke(key_id)

    async def credit(self, key_id: str, amount: int, reason: str) -> int | None:
        # The same adjustment the server's admin route makes, so the ledger reads the same.
        result = await self.store.adjust_credits(key_id, amount, reason)
        if result.outcome == "below_zero":
            _fail(
                f"amount: would take the balance ({result.balance}) below zero; at most "
                f"-{result.balance} may be taken",
                1,
            )
        return result.balance if result.outcome == "applied" else None


class RemoteKeys:
    """The same operations through ``/v1/admin/keys``."""

    def __init__(self, base_url: str, admin_key: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=30,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            answer = await self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            _fail(f"cannot reach {self.client.base_url}: {exc}", 7)
        if answer.status_code >= 400:
            try:
                message = str(answer.json().get("message") or answer.text)
            except ValueError:
                message = answer.text
            # 401/403: the key is wrong or not an admin's (the exit status of `vidgen status`).
            _fail(f"{message} ({answer.status_code})", 3 if answer.status_code in (401, 403) else 1)
        return answer.json()

    async def create(
        self,
        name: str,
        *,
        credits: int | None,
        max_concurrency: int | None,
        priority: int,
        role: Role,
        rate_limit_per_minute: int | None,
        monthly_credit_limit: int | None,
    ) -> tuple[ApiKey, str, str]:
        body = {
            "name": name,
            "credits": credits,
            "max_concurrency": max_concurrency,
            "priority": priority,
            "role": role,
            "rate_limit_per_minute": rate_limit_per_minute,
            "monthly_credit_limit": monthly_credit_limit,
        }
        made = await self._call("POST", "/v1/admin/keys", body)
        return _key(made), made["key"], made["webhook_secret"]

    async def all(self) -> list[ApiKey]:
        listed = await self._call("GET", "/v1/admin/keys")
        return [_key(item) for item in listed["data"]]

    async def find(self, ident: str) -> list[ApiKey]:
        """As the store's ``find``, but a whole secret is not looked up: the server lists no
        hashes."""
        return [k for k in await self.all() if ident in (k.id, k.name, k.prefix)]

    async def configure(self, key_id: str, changes: dict[str, int | None]) -> ApiKey:
        return _key(await self._call("PATCH", f"/v1/admin/keys/{key_id}", changes))

    async def revoke(self, key_id: str) -> None:
        await self._call("DELETE", f"/v1/admin/keys/{key_id}")

    async def credit(self, key_id: str, amount: int, reason: str) -> int | None:
        key = _key(await self._call("GET", f"/v1/admin/keys/{key_id}"))
        if key.credits is None:
            return None
        body = {"amount": amount, "reason": reason}
        answer = await self._call("POST", f"/v1/admin/keys/{key_id}/credits", body)
        return int(answer["credits"])


def _key(item: dict[str, Any]) -> ApiKey:
    revoked = item.get("revoked_at")
    return ApiKey(
        id=item["id"],
        name=item["name"],
        prefix=item["prefix"],
        credits=item["credits"],
        max_concurrency=item["max_concurrency"],
        priority=item["priority"],
        role=item["role"],
        rate_limit_per_minute=item["rate_limit_per_minute"],
        monthly_credit_limit=item["monthly_credit_limit"],
        source=item["source"],
        created_at=datetime.fromisoformat(item["created_at"]),
        revoked_at=datetime.fromisoformat(revoked) if revoked else None,
    )


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code)

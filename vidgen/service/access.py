"""Who is calling: API keys checked, and what a key may know about itself."""

from __future__ import annotations

from collections.abc import Callable

from vidgen.core.keys import ApiKey
from vidgen.core.ports import KeyRepository
from vidgen.errors import Unauthorized

__all__ = ["Access"]


class Access:
    def __init__(self, keys: KeyRepository, webhook_secret: Callable[[str], str]) -> None:
        self.keys = keys
        self._webhook_secret = webhook_secret

    async def authenticate(self, secret: str) -> ApiKey:
        """The active key with this secret; ``Unauthorized`` for none, or an unknown or revoked
        one."""
        secret = secret.strip()
        if not secret:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'.")
        key = await self.keys.authenticate(secret)
        if key is None:
            raise Unauthorized("Invalid or revoked API key.")
        return key

    async def current(self, key: ApiKey) -> ApiKey:
        """The key as it is now: authentication answers are cached for a moment, so the key a
        request carries may show a balance from a moment ago."""
        return await self.keys.get(key.id) or key

    def webhook_secret(self, key: ApiKey) -> str:
        """The secret that signs this key's webhook deliveries."""
        return self._webhook_secret(key.id)

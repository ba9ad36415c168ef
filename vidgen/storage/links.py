"""Signed, expiring download links: ``/files/<key>?_jwt=<HS256 token>``.

The token names the generation and the exact object it opens, and expires (24 h by default), so
a link can be shared for a while but never widened to another file or renewed by editing it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import jwt

from vidgen.errors import LinkRefused

__all__ = ["LinkSigner"]

ALGORITHM = "HS256"
AUDIENCE = "vidgen-download"


@dataclass(frozen=True)
class LinkSigner:
    secret: str
    ttl_seconds: int

    @property
    def granularity(self) -> int:
        """Expiries are rounded up to this step (1/24 of the lifetime, at least a minute), so
        every poll within one step gets the same token and signing can be cached. A link
        therefore lives between ``ttl`` and ``ttl + granularity`` seconds."""
        return max(60, self.ttl_seconds // 24)

    def sign(self, *, generation_id: str, key: str, now: float | None = None) -> tuple[str, int]:
        """A token for ``key``; returns it with its expiry (unix seconds)."""
        at = now if now is not None else time.time()
        step = self.granularity
        expires = int(-(-(at + self.ttl_seconds) // step) * step)
        return _signed(self.secret, generation_id, key, expires), expires

    def verify(self, token: str | None, *, key: str) -> str:
        """Check ``token`` opens ``key``; returns the generation id it was issued for."""
        if not token:
            raise LinkRefused("missing _jwt token")
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "sub", "obj"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise LinkRefused("the link has expired") from exc
        except jwt.PyJWTError as exc:
            raise LinkRefused("invalid link token") from exc
        if claims.get("obj") != key:
            raise LinkRefused("the token is for another file")
        return str(claims["sub"])


@lru_cache(maxsize=4096)
def _signed(secret: str, generation_id: str, key: str, expires: int) -> str:
    claims = {"sub": generation_id, "obj": key, "aud": AUDIENCE, "exp": expires}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)

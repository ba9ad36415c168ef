"""fal's webhook signature, checked as fal's webhook docs publish it (late 2026).

fal signs each delivery with ED25519 and sends::

    X-Fal-Webhook-Request-Id   the queue request's id
    X-Fal-Webhook-User-Id      the account's id
    X-Fal-Webhook-Timestamp    Unix seconds
    X-Fal-Webhook-Signature    hex of the signature over
                               "{request id}\\n{user id}\\n{timestamp}\\n{sha256 hex of the raw body}"

The public keys are a JWKS (``VIDGEN_FAL_WEBHOOK_JWKS_URL``, fal's
``https://rest.fal.ai/.well-known/jwks.json`` by default): OKP/Ed25519 keys with no ``kid`` in the
headers, so every key is tried. fal says the set may be cached for up to 24 hours and that
deliveries more than five minutes away from the receiver's clock are to be refused.

A delivery whose signature no cached key checks makes vidgen read the set again (keys rotate),
at most once a minute; only a hook that already carried its URL's token (``core.provider_hooks``)
gets this far, so a stranger cannot make vidgen fetch the set at will.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Final

import httpx
import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["FAL_JWKS_URL", "TIMESTAMP_TOLERANCE", "FalHookVerifier", "signed_message"]

log = logging.getLogger(__name__)

FAL_JWKS_URL: Final = "https://rest.fal.ai/.well-known/jwks.json"
#: Seconds a delivery's timestamp may be away from now, either way (fal's docs: ±5 minutes).
TIMESTAMP_TOLERANCE: Final = 300
#: How long a read key set is trusted (fal's docs: up to 24 hours).
_KEYS_TTL: Final = 24 * 3600.0
#: The least time between two reads forced by a signature no cached key checks.
_REFRESH_GAP: Final = 60.0
#: A key set is a few hundred bytes; anything far larger is not one.
_MAX_JWKS_BYTES: Final = 64 * 1024
_TIMEOUT: Final = httpx.Timeout(10.0, connect=5.0)
_HEADERS: Final = (
    "x-fal-webhook-request-id",
    "x-fal-webhook-user-id",
    "x-fal-webhook-timestamp",
    "x-fal-webhook-signature",
)


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    """The bytes fal signs for one delivery."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()


class FalHookVerifier:
    """Checks fal's signature on a delivery against fal's public keys, read and cached."""

    def __init__(self, jwks_url: str) -> None:
        self.jwks_url = jwks_url
        self._keys: list[Ed25519PublicKey] = []
        self._read_at: float | None = None  # monotonic, of the last read that worked
        self._tried_at: float | None = None  # monotonic, of the last read, worked or not

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether ``body`` with ``headers`` (lower-case names) is a delivery fal signed
        within the last five minutes."""
        values = [headers.get(name, "") for name in _HEADERS]
        if not all(values):
            return False
        request_id, user_id, timestamp, signature_hex = values
        try:
            signature = bytes.fromhex(signature_hex)
            sent_at = int(timestamp)
        except ValueError:
            return False
        if abs(time.time() - sent_at) > TIMESTAMP_TOLERANCE:
            return False
        message = signed_message(request_id, user_id, timestamp, body)
        stale = self._read_at is None or time.monotonic() - self._read_at >= _KEYS_TTL
        if stale and self._may_read():
            await self._read_keys()
        if self._checks(signature, message):
            return True
        if self._may_read():  # a key fal has rotated in since the last read
            await self._read_keys()
            return self._checks(signature, message)
        return False

    def _may_read(self) -> bool:
        return self._tried_at is None or time.monotonic() - self._tried_at >= _REFRESH_GAP

    def _checks(self, signature: bytes, message: bytes) -> bool:
        for key in self._keys:
            try:
                key.verify(signature, message)
            except InvalidSignature:
                continue
            return True
        return False

    async def _read_keys(self) -> None:
        """Read the key set; on failure keep the keys held (and refuse what they cannot
        check): the job's next poll comes anyway."""
        self._tried_at = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as client:
                response = await client.get(self.jwks_url)
            response.raise_for_status()
            if len(response.content) > _MAX_JWKS_BYTES:
                raise ValueError(f"{len(response.content)} bytes is no key set")
            document = response.json()
            if not isinstance(document, dict):
                raise ValueError("the key set is not a JSON object")
            key_set = jwt.PyJWKSet.from_dict(document)
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            log.warning(
                "fal's webhook keys could not be read",
                extra={"engine": "fal", "url": self.jwks_url, "error": str(exc)[:300]},
            )
            return
        self._keys = [k.key for k in key_set.keys if isinstance(k.key, Ed25519PublicKey)]
        self._read_at = time.monotonic()

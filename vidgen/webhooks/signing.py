"""Webhook signatures: ``x-webhook-signature: sha256=<hex HMAC-SHA256 of the raw body>``.

Each API key has its own webhook secret, derived from the server's secret and the key's id, so a
customer can verify deliveries without learning anything that would let them forge another
customer's. ``GET /v1/account`` shows a key its secret; ``vidgen keys create`` prints it too.

Verifying, in a receiver::

    expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, request.headers["x-webhook-signature"])
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify", "webhook_secret"]

SIGNATURE_HEADER = "x-webhook-signature"


def webhook_secret(server_secret: str, key_id: str) -> str:
    digest = hmac.new(server_secret.encode(), f"webhook:{key_id}".encode(), hashlib.sha256)
    return "whsec_" + digest.hexdigest()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)

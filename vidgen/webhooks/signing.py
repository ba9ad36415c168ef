"""Webhook signatures, in two forms on every delivery.

- vidgen's own, kept for existing receivers: ``x-webhook-signature: sha256=<hex HMAC-SHA256 of
  the raw body>``, keyed with the whole secret string (``whsec_…``) as UTF-8.
- `Standard Webhooks <https://www.standardwebhooks.com>`_ (what Svix-style receivers and the
  ``standardwebhooks`` libraries verify unchanged): ``webhook-id`` (the event id, stable across
  retries), ``webhook-timestamp`` (unix seconds) and ``webhook-signature: v1,<base64 HMAC>`` of
  ``"<id>.<timestamp>.<body>"``, keyed with the base64 decoding of the secret after ``whsec_``.

One secret serves both: it is ``whsec_`` and 64 hex digits, and hex digits are base64 too (64
characters decode to a 48-byte key), so ``standardwebhooks.Webhook(secret)`` takes it as it is.

Each API key has its own webhook secret, derived from the server's secret and the key's id, so a
customer can verify deliveries without learning anything that would let them forge another
customer's. ``GET /v1/account`` shows a key its secret; ``vidgen keys create`` prints it too.

Verifying, in a receiver::

    standardwebhooks.Webhook(secret).verify(raw_body, request.headers)
    # or, vidgen's own form:
    expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, request.headers["x-webhook-signature"])
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

__all__ = ["SIGNATURE_HEADER", "sign", "signature_headers", "verify", "webhook_secret"]

SIGNATURE_HEADER = "x-webhook-signature"


def webhook_secret(server_secret: str, key_id: str) -> str:
    digest = hmac.new(server_secret.encode(), f"webhook:{key_id}".encode(), hashlib.sha256)
    return "whsec_" + digest.hexdigest()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)


def signature_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Both forms of signature for one delivery, with the headers each one signs."""
    # Imported here: `vidgen.cli.keys` imports this module for ``webhook_secret``, and the
    # client commands load it in an SDK-only install, which has no standardwebhooks.
    from standardwebhooks import Webhook

    at = datetime.fromtimestamp(timestamp, UTC)
    return {
        "x-webhook-id": event_id,
        "x-webhook-timestamp": str(timestamp),
        SIGNATURE_HEADER: sign(secret, body),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
    }

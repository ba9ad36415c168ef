"""Provider webhooks: the callback URL vidgen gives a provider, and the token in it.

A provider's webhook (fal's, Replicate's) is a hint, never a result: it only wakes the job's
poll, and the worker reads the status again from the provider's API. So a forged or replayed
hook can at most cause one extra poll. The URL still carries a token, so that a stranger who
guesses a job id cannot make vidgen poll a provider at will::

    {VIDGEN_PUBLIC_URL}/hooks/{provider}/{job id}?token={HMAC-SHA256(server secret, …)}

The key is derived from the server's signing secret (the one download links use) for this
purpose only, as the per-key webhook secrets are, so a token opens nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final
from urllib.parse import quote

__all__ = ["HOOK_PROVIDERS", "hook_token", "hook_url", "token_matches"]

#: The providers whose webhooks vidgen receives (Gemini and Runway have none).
HOOK_PROVIDERS: Final = frozenset({"fal", "replicate"})


def hook_token(server_secret: str, provider: str, job_id: str) -> str:
    """The token that opens ``provider``'s hook for ``job_id``."""
    key = hmac.new(server_secret.encode(), b"provider-hook", hashlib.sha256).digest()
    return hmac.new(key, f"{provider}:{job_id}".encode(), hashlib.sha256).hexdigest()


def token_matches(server_secret: str, provider: str, job_id: str, token: str) -> bool:
    # As bytes: compare_digest refuses a str with characters beyond ASCII, which a URL can hold.
    expected = hook_token(server_secret, provider, job_id).encode()
    return hmac.compare_digest(expected, token.encode("utf-8", "replace"))


def hook_url(public_url: str, server_secret: str, provider: str, job_id: str) -> str:
    """The callback URL for ``job_id`` at ``provider``."""
    token = hook_token(server_secret, provider, job_id)
    return f"{public_url.rstrip('/')}/hooks/{provider}/{quote(job_id, safe='')}?token={token}"

"""Providers' webhooks (fal's, Replicate's): the rule for receiving one.

A hook is a hint, never a result (``core.provider_hooks``): a genuine one counts a poke on the
job (``JobQueue.poke``), which its worker's heartbeat reads to wake the engine's poll at once,
in whatever process the worker runs; the status and the output still come from the provider's
API. What a hook must show before it counts:

- the token of its URL, which only vidgen can make for that provider and job;
- the provider's own signature, where the engine can check one (Replicate's Standard Webhooks,
  fal's ED25519).

Anything else is refused the same way (the API answers 404), whether or not the job exists, and
costs neither a database write nor a call to the provider's API (only a hook with a valid token
may make the fal engine read fal's public keys). A hook for a job that already ended
or whose worker died is accepted and changes nothing: a resumed attempt polls first anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from vidgen.core.ports import JobQueue
from vidgen.core.provider_hooks import token_matches

__all__ = ["HookVerifier", "ProviderHooks"]

log = logging.getLogger(__name__)

#: An engine's check of its provider's signature on a hook's raw body and headers.
HookVerifier = Callable[[bytes, Mapping[str, str]], Awaitable[bool]]


class ProviderHooks:
    def __init__(
        self, queue: JobQueue, server_secret: str, verifiers: Mapping[str, HookVerifier]
    ) -> None:
        self.queue = queue
        self.server_secret = server_secret
        #: Per engine name, for the routed engines whose providers send hooks.
        self.verifiers = dict(verifiers)

    async def receive(
        self, provider: str, job_id: str, token: str, body: bytes, headers: Mapping[str, str]
    ) -> bool:
        """Wake ``job_id``'s poll if the hook is genuine; False (and nothing done) otherwise."""
        verify = self.verifiers.get(provider)
        if verify is None or not token_matches(self.server_secret, provider, job_id, token):
            return False
        if not await verify(body, headers):
            log.warning("a provider's webhook failed its signature check", extra={"job": job_id})
            return False
        await self.queue.poke(job_id)
        return True

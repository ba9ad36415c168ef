"""The upstream policy: which provider answers are worth retrying and what the others are called.

Every proxy engine (runway, aimlapi, replicate, fal, gemini) reads a provider's HTTP answer
through ``http_error`` and a failed connection through ``transport_error``, so one rule holds for
all of them, and ``UpstreamEngine._retrying`` applies it:

=============================  ===========================  ====================================
upstream answer                job error                    retried?
=============================  ===========================  ====================================
429, 502, 503, 504, timeout,   (none while retrying), then  in place, with backoff, until the
no connection                  ``UpstreamUnavailable``      job's time limit; then the attempt
                                                            fails as retryable
other 5xx                      ``UpstreamError``            by the worker's next attempt, which
                                                            resumes a saved task id
401                            ``UpstreamUnauthorized``     never (names the variable to check)
402, or a body saying quota    ``QuotaExceeded``            never
403                            ``UpstreamForbidden``        never
404                            ``UpstreamNotFound``         never
a safety or content refusal    ``SafetyRefused``            never
400, 409, 413, 422, other 4xx  ``UpstreamRejected``         never (the provider's own words)
=============================  ===========================  ====================================

A task that the provider itself reports FAILED is never retried either (``UpstreamEngine``):
a second try is a second paid request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from vidgen.errors import EngineError, RetryableEngineError

__all__ = [
    "INVALID_INPUT",
    "QUOTA_EXCEEDED",
    "RETRYABLE_STATUSES",
    "SAFETY_REFUSED",
    "Provider",
    "TransientUpstreamError",
    "backoff_delay",
    "http_error",
    "parse_retry_after",
    "transport_error",
]

#: Answers retried in place; every other status is final for the call.
RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
#: The job error names a user sees for the three refusals every provider has.
SAFETY_REFUSED: Final = "SafetyRefused"
INVALID_INPUT: Final = "UpstreamRejected"
QUOTA_EXCEEDED: Final = "QuotaExceeded"
#: Longest wait between two retries, whatever the backoff says.
_MAX_BACKOFF: Final = 30.0
#: A Retry-After longer than this is not believed (a misconfigured proxy can say an hour).
_MAX_RETRY_AFTER: Final = 60.0


class TransientUpstreamError(Exception):
    """An answer worth retrying after a pause: 429, 502, 503, 504, or no answer at all.
    ``retry_after`` is the upstream's own ``Retry-After``, in seconds, when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Provider:
    """Who an engine talks to, in the words its errors use."""

    name: str  # "Runway", "the upstream gateway": starts a sentence once capitalised
    credential: str  # the variable an operator checks after a 401
    thing: str = "task"  # what the provider calls one job: task, prediction, request, operation

    @property
    def subject(self) -> str:
        return self.name[:1].upper() + self.name[1:]


def transport_error(provider: Provider, doing: str, *, timed_out: bool) -> TransientUpstreamError:
    """No answer at all: always worth another try."""
    if timed_out:
        return TransientUpstreamError(f"{provider.name} did not answer in time ({doing})")
    return TransientUpstreamError(f"could not reach {provider.name} ({doing})")


def http_error(
    provider: Provider,
    status: int,
    detail: str,
    doing: str,
    *,
    retry_after: float | None = None,
    safety: bool = False,
    quota: bool = False,
) -> Exception:
    """The exception for an HTTP error answer. ``detail`` is the provider's own message;
    ``safety`` and ``quota`` say that its body (which only the engine can read) called the
    request a content refusal or an exhausted balance."""
    who = provider.subject
    if status in RETRYABLE_STATUSES and not quota:
        return TransientUpstreamError(
            f"{provider.name} answered HTTP {status} ({doing})", retry_after=retry_after
        )
    if status == 401:
        return EngineError(
            f"{who} refused vidgen's API key (HTTP 401); the operator must check "
            f"{provider.credential}.",
            name="UpstreamUnauthorized",
        )
    if safety:
        return EngineError(
            f"{who} refused the request as unsafe: {detail or f'HTTP {status}'}",
            name=SAFETY_REFUSED,
        )
    if status == 402 or quota:
        return EngineError(
            f"{who} refused the request: the operator's account is out of credit or quota "
            f"({detail or f'HTTP {status}'}).",
            name=QUOTA_EXCEEDED,
        )
    if status == 404:
        return EngineError(
            f"{who} has no such {provider.thing} (HTTP 404, {doing}); it may have been deleted.",
            name="UpstreamNotFound",
        )
    if 400 <= status < 500:
        # 400/422 is a request the provider will not take (a bad image, a field out of range);
        # 403 is usually the account's access to the model.
        return EngineError(
            f"{who} refused the request: {detail or f'HTTP {status}'}",
            name="UpstreamForbidden" if status == 403 else INVALID_INPUT,
        )
    # Another 5xx (500): this attempt fails, and the worker's next one resumes the saved task
    # (or, if the create itself failed, creates one).
    return RetryableEngineError(
        f"{who} failed ({detail or f'HTTP {status}'}, {doing}).", name="UpstreamError"
    )


def backoff_delay(base: float, failures: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: about ``base``·2^(failures-1), capped at 30 s, drawn
    from the upper half of that window so that retries spread out but never come too early;
    never less than a believable ``Retry-After``."""
    ceiling = min(_MAX_BACKOFF, base * 2 ** max(0, failures - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None and 0 < retry_after <= _MAX_RETRY_AFTER:
        delay = max(delay, retry_after)
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (the HTTP-date form is rare for
    APIs and ignored: the backoff applies instead)."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None

"""Where the client connects, with which key, and how it paces itself.

- ``base_url``: the argument, else ``VIDGEN_BASE_URL``, else ``http://127.0.0.1:8000``.
- ``api_key``: the argument, else ``VIDGEN_API_KEY``; else ``AIMLAPI_KEY``, but only when the base
  URL is AI/ML API's (``https://api.aimlapi.com``), so that key is never sent anywhere else.
- ``PollPolicy``: how often ``wait`` polls: from 0.5 s, growing ×1.5 per poll, up to 5 s.
- ``RetryPolicy``: how transient failures (429, 5xx, connection errors) are retried.
- ``Clock``: time and sleep; the tests pass a fake one so that minutes of waiting take none.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from vidgen import __version__

__all__ = [
    "AIMLAPI_BASE_URL",
    "DEFAULT_BASE_URL",
    "DEFAULT_FRAME_RATE_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_PERFORMANCE_MODEL",
    "DEFAULT_TEXT_MODEL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPSCALE_MODEL",
    "DEFAULT_VIDEO_MODEL",
    "DEFAULT_WAIT",
    "USER_AGENT",
    "Clock",
    "PollPolicy",
    "RetryPolicy",
    "SystemClock",
    "default_model",
    "resolve_api_key",
    "resolve_base_url",
]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
AIMLAPI_BASE_URL = "https://api.aimlapi.com"
#: The model of a create that names none and gives a first image (image to video).
DEFAULT_MODEL = "runway/gen4_turbo"
#: ... that gives neither an image nor a video: a prompt alone (what vidgen's own catalog picks
#: for one, ``Catalog.default_for``). gen4_turbo makes no video without an image.
DEFAULT_TEXT_MODEL = "runway/gen4.5"
#: ... that gives an input video (video to video): Runway's current one; gen4_aleph, which
#: aimlapi still serves, was retired from Runway's API. It takes no reference images.
DEFAULT_VIDEO_MODEL = "runway/aleph2"
#: ... that gives a character (character performance): Runway's Act-Two.
DEFAULT_PERFORMANCE_MODEL = "runway/act_two"
#: ... that gives an input video and an upscale ``resolution``.
DEFAULT_UPSCALE_MODEL = "magnific/video_upscaler_creative"
#: ... that gives an input video and a ``target_framerate``.
DEFAULT_FRAME_RATE_MODEL = "runway/enhance_frame_rate"
#: Per request. A create can take a while: the server fetches an image URL before it answers.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
#: How long ``wait`` and ``generate`` wait by default (what aimlapi's sample program waits).
DEFAULT_WAIT = 600.0
USER_AGENT = f"vidgen-python/{__version__} httpx/{httpx.__version__}"


def default_model(
    *,
    has_image: bool,
    has_video: bool,
    has_character: bool = False,
    upscales: bool = False,
    retimes: bool = False,
) -> str:
    """The model of a create that names none, by its inputs: a character is a character
    performance; a video with a ``target_framerate`` a frame-rate change, with a ``resolution``
    an upscale, else video to video; an image image to video; a prompt alone text to video.

    >>> default_model(has_image=False, has_video=False)
    'runway/gen4.5'
    >>> default_model(has_image=False, has_video=True, retimes=True)
    'runway/enhance_frame_rate'
    """
    if has_character:
        return DEFAULT_PERFORMANCE_MODEL
    if has_video:
        if retimes:
            return DEFAULT_FRAME_RATE_MODEL
        return DEFAULT_UPSCALE_MODEL if upscales else DEFAULT_VIDEO_MODEL
    return DEFAULT_MODEL if has_image else DEFAULT_TEXT_MODEL


def resolve_base_url(base_url: str | None = None) -> str:
    """The server's base URL, without a trailing slash.

    >>> resolve_base_url("https://video.example.com/")
    'https://video.example.com'
    """
    url = base_url or os.environ.get("VIDGEN_BASE_URL") or DEFAULT_BASE_URL
    return url.rstrip("/")


def is_aimlapi(base_url: str) -> bool:
    """True for AI/ML API's own hosts (``aimlapi.com`` and its subdomains)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "aimlapi.com" or host.endswith(".aimlapi.com")


def resolve_api_key(api_key: str | None, base_url: str) -> str | None:
    """The API key to send, or None (the server will then answer 401 where it needs one)."""
    if api_key:
        return api_key
    if key := os.environ.get("VIDGEN_API_KEY"):
        return key
    if is_aimlapi(base_url):
        return os.environ.get("AIMLAPI_KEY") or None
    return None


@dataclass(frozen=True)
class PollPolicy:
    """How ``wait`` paces its polls: ``initial`` seconds, times ``factor`` each poll, at most
    ``maximum``. A ``Retry-After`` from the server takes precedence when it asks for longer.

    >>> PollPolicy(initial=1, factor=2, maximum=3).intervals(4)
    [1, 2, 3, 3]
    """

    initial: float = 0.5
    factor: float = 1.5
    maximum: float = 5.0

    def next_interval(self, interval: float) -> float:
        return min(self.maximum, interval * self.factor)

    def intervals(self, count: int) -> list[float]:
        """The first ``count`` intervals (for documentation and tests)."""
        out, interval = [], self.initial
        for _ in range(count):
            out.append(interval)
            interval = self.next_interval(interval)
        return out


@dataclass(frozen=True)
class RetryPolicy:
    """How one request is retried after a transient failure.

    Reads (get, list, cancel, models, downloads) are retried on 408, 429, 500, 502, 503, 504 and
    connection errors. A create carries an ``Idempotency-Key`` against vidgen, which stores and
    charges it once however often it arrives, so it is retried like a read. Against gateways not
    known to honour the header it is retried only where the server cannot have stored it (429,
    503, a connection that was never made): after a 500/502/504 or a broken connection it might
    have landed, and retrying could pay twice, so that error is raised instead.

    The delay is the server's ``Retry-After`` when it sends one, else ``backoff`` seconds doubled
    per attempt up to ``max_backoff``, jittered (between half and all of it) so that many clients
    do not retry in step. A ``Retry-After`` above ``max_retry_after`` is not waited out: the error
    is raised at once, with ``retry_after`` set.
    """

    max_retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 120.0
    jitter: bool = True

    def delay(self, attempt: int) -> float:
        """The backoff before retry number ``attempt`` (0-based)."""
        delay: float = min(self.max_backoff, self.backoff * 2**attempt)
        return random.uniform(delay / 2, delay) if self.jitter else delay


class Clock(Protocol):
    """Monotonic time and sleeping, in seconds."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    async def sleep_async(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def sleep_async(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

"""The aimlapi upstream's own model list (``VIDGEN_AIMLAPI_READ_MODELS``): which video models it
serves, read once when a process starts.

aimlapi publishes ``GET https://api.aimlapi.com/models`` without a key: a JSON array of
``{id, type, info, features, endpoints}`` (docs.aimlapi.com, "Complete model list"; a newer
``/v1/models`` wraps the same entries in ``{object: "list", data: […]}``, and both shapes are
read). A video model is one whose ``type`` is ``video`` or whose ``endpoints`` name
``/v2/video/generations``, the route the ``aimlapi`` engine creates through. Another vidgen
serves the same list at ``/models`` (``api.aimlapi_models``), so one vidgen can read another's.

Start-up must neither hang nor fail because the upstream is down: the read is bounded (a connect
timeout, a deadline for the whole answer, a size cap), and any failure is a warning, after which
the process serves ``VIDGEN_AIMLAPI_MODELS`` alone. Read at start-up, not per request: the list
is the catalog, and the catalog is fixed for a process's life (a restart reads it again).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from typing import Any, Final

import httpx

from vidgen.engines.aimlapi import ROUTE
from vidgen.settings import Settings

__all__ = ["MODELS_ROUTE", "read_upstream_models", "video_model_ids"]

log = logging.getLogger(__name__)

MODELS_ROUTE: Final = "/models"
#: aimlapi's whole list (every kind of model, about 500) is a few hundred kilobytes.
MAX_LIST_BYTES: Final = 8 * 1024 * 1024
MAX_MODELS: Final = 2000
#: Seconds for the whole read, connect included: start-up waits at most this long.
READ_DEADLINE: Final = 10.0
_TIMEOUT: Final = httpx.Timeout(READ_DEADLINE, connect=3.0)
#: An id vidgen can list, store and send on: no spaces, no control characters.
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")


def video_model_ids(answer: Any) -> list[str]:
    """The video models' ids in a model list, in its order, each once. ValueError when the
    answer is no list of models."""
    items = answer.get("data") if isinstance(answer, dict) else answer
    if not isinstance(items, list):
        raise ValueError("the answer is not a list of models")
    ids: dict[str, None] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        model_id, kind, endpoints = item.get("id"), item.get("type"), item.get("endpoints")
        video = kind == "video" or (isinstance(endpoints, list) and ROUTE in endpoints)
        if video and isinstance(model_id, str) and _MODEL_ID.fullmatch(model_id):
            ids[model_id] = None
    return list(ids)[:MAX_MODELS]


def read_upstream_models(settings: Settings) -> list[str]:
    """The upstream's video models, or none (logged as a warning) when its list cannot be read
    within ``READ_DEADLINE`` seconds. Synchronous: it runs while a process starts."""
    url = (settings.upstream_url or "").rstrip("/") + MODELS_ROUTE
    key = None if settings.upstream_key is None else settings.upstream_key.get_secret_value()
    return list(_read(url, key))


# Once per process and upstream, whatever it answered: `vidgen serve` checks its configuration
# before it starts the app, which checks it again, and a down upstream must cost start-up one
# deadline, not two.
@functools.cache
def _read(url: str, key: str | None) -> tuple[str, ...]:
    headers = {"User-Agent": "vidgen", "Accept": "application/json"}
    if key is not None:
        # aimlapi's list needs no key; a gateway that wants one for it gets vidgen's.
        headers["Authorization"] = f"Bearer {key}"
    deadline = time.monotonic() + READ_DEADLINE
    try:
        # No redirects: one would carry the key wherever it points.
        with (
            httpx.Client(timeout=_TIMEOUT, follow_redirects=False) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_LIST_BYTES:
                    raise ValueError(f"the list is larger than {MAX_LIST_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise ValueError(f"the list took longer than {READ_DEADLINE:g} s")
        ids = video_model_ids(json.loads(body))
    except (httpx.HTTPError, ValueError, RecursionError) as exc:
        log.warning(
            "the upstream's model list could not be read; serving VIDGEN_AIMLAPI_MODELS only",
            extra={"url": url, "error": str(exc) or type(exc).__name__},
        )
        return ()
    log.info("read the upstream's model list", extra={"url": url, "video_models": len(ids)})
    return tuple(ids)

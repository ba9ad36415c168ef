"""The fal engine: fal's queue API (https://queue.fal.run), spoken directly over httpx.

A job becomes one queue request (fal's queue docs, late 2026)::

    POST {queue}/{endpoint id}                            submit → {request_id, status_url, …}
    GET  {queue}/{owner}/{app}/requests/{id}/status?logs=1    IN_QUEUE (queue_position),
                                                          IN_PROGRESS (logs), COMPLETED (error?)
    GET  {queue}/{owner}/{app}/requests/{id}              the result: {"video": {"url": …}}
    PUT  {queue}/{owner}/{app}/requests/{id}/cancel       cancel (queued: removed; running:
                                                          the runner is told to stop)

The saved task id is ``{owner}/{app}/requests/{id}``, so an attempt after a crash needs nothing
else to resume. The loop around the calls (record, resume, retry, copy) is
``upstream.UpstreamEngine``; errors follow ``engines.policy``.

Why not the official ``fal-client`` (1.0): its submit is retried inside the client, up to ten
times, on timeouts, lost connections, 408, 409, 429 and 502–504, and nothing turns that off. A
submit whose answer was lost may already be queued (and paid); the client would queue another
that vidgen never learns of, so cannot cancel, and the retries would run outside the job's time
limit and cancel. Its queue host is also fixed when the module is imported. The queue API is
four documented calls, so vidgen speaks it with httpx, as the aimlapi engine does.

Webhooks: with ``VIDGEN_PUBLIC_URL`` set, the submit names vidgen's callback URL
(``?fal_webhook=``, what fal-client's ``webhook_url`` sends); fal POSTs ``{request_id, status:
OK|ERROR, payload}`` there when the request is done, which only wakes the poll
(``upstream.UpstreamEngine``). A hook must carry its URL's token (which binds it to the job) and
fal's ED25519 signature, checked against fal's published keys (``engines.fal_hooks``).

Progress: fal reports a queue position (shown as ``queued``) and runner logs, not a fraction;
new log lines go to vidgen's log with the request id. A request that fails reports ``error`` on
its COMPLETED status; ``error_type: content_policy_violation`` is ``SafetyRefused``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final

import httpx
from pydantic import SecretStr

from vidgen.core.models import CapturedImage
from vidgen.engines.base import EngineJob
from vidgen.engines.fal_hooks import FalHookVerifier
from vidgen.engines.hosted import HostedEngine
from vidgen.engines.policy import (
    SAFETY_REFUSED,
    Provider,
    TransientUpstreamError,
    http_error,
    parse_retry_after,
    transport_error,
)
from vidgen.engines.upstream import Phase, TaskStatus
from vidgen.errors import EngineError
from vidgen.media.data_uri import to_data_uri
from vidgen.settings import Settings

__all__ = ["FalEngine", "fal_input", "queue_status"]

log = logging.getLogger(__name__)

FAL: Final = Provider("fal", credential="FAL_KEY", thing="request")
#: fal takes an image as a data URI; its docs advise a URL for large files.
MAX_DATA_URI_CHARS: Final = 4_000_000
_TIMEOUT: Final = httpx.Timeout(60.0, connect=5.0)
#: fal's error types that mean a content refusal.
_SAFETY_TYPES: Final = frozenset({"content_policy_violation"})


class FalEngine(HostedEngine):
    """Proxies jobs to fal's queue. See the module docstring."""

    name = "fal"
    description = "fal's queue API (FAL_KEY); each video copied into vidgen."
    host = FAL
    client_module = "httpx"  # no extra client: see the module docstring
    client_package = "httpx"
    receives_hooks = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._client: httpx.AsyncClient | None = None
        self._logged: dict[str, int] = {}  # request → log lines already passed on
        self._hooks = FalHookVerifier(settings.fal_webhook_jwks_url)

    def credential(self) -> SecretStr | None:
        return self.settings.fal_key

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.settings.fal_queue_url.rstrip("/"),
                headers={"Authorization": f"Key {self.secret()}", "User-Agent": "vidgen"},
                timeout=_TIMEOUT,
                # A redirect would carry the key to wherever it points.
                follow_redirects=False,
            )
        return self._client

    async def close_client(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def verify_hook(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return await self._hooks.verify(body, headers)

    async def create_task(self, job: EngineJob) -> str:
        endpoint = self.endpoint(job)
        body = await asyncio.to_thread(fal_input, job, endpoint, self.duration(job))
        hook = self.hook_url(job.id)
        answer = await self._call(
            "POST",
            f"/{endpoint}",
            f"submitting to {endpoint}",
            json=body,
            params={"fal_webhook": hook} if hook else None,
        )
        request_id = answer.get("request_id") if isinstance(answer, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise EngineError("fal accepted the request but returned no id.", name="BadUpstream")
        owner, app = endpoint.split("/")[:2]
        return f"{owner}/{app}/requests/{request_id}"

    async def get_task(self, task_id: str) -> TaskStatus:
        answer = await self._call(
            "GET", f"/{task_id}/status", f"reading {task_id}", params={"logs": "1"}
        )
        if not isinstance(answer, dict):
            raise TransientUpstreamError("fal answered a status poll with no object")
        self._pass_on_logs(task_id, answer.get("logs"))
        status = queue_status(answer)
        if status.phase in (Phase.FAILED, Phase.CANCELLED):
            self._logged.pop(task_id, None)
        if status.phase is not Phase.SUCCEEDED:
            return status
        result = await self._call("GET", f"/{task_id}", f"reading the result of {task_id}")
        self._logged.pop(task_id, None)
        video = result.get("video") if isinstance(result, dict) else None
        url = video.get("url") if isinstance(video, dict) else None
        return TaskStatus(Phase.SUCCEEDED, output_url=url if isinstance(url, str) else None)

    async def cancel_task(self, task_id: str) -> None:
        self._logged.pop(task_id, None)
        try:
            await self._call("PUT", f"/{task_id}/cancel", f"cancelling {task_id}")
        except EngineError as exc:
            # 400 ALREADY_COMPLETED: nothing left to stop.
            log.info("fal did not cancel", extra={"engine": self.name, "error": exc.message})

    def _pass_on_logs(self, task_id: str, logs: object) -> None:
        if not isinstance(logs, list):
            return
        seen = self._logged.get(task_id, 0)
        for line in logs[seen:]:
            message = line.get("message") if isinstance(line, dict) else None
            if isinstance(message, str) and message:
                log.info(
                    "fal: %s",
                    message[:500],
                    extra={"engine": self.name, "upstream_task_id": task_id},
                )
        self._logged[task_id] = len(logs)

    async def _call(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            response = await self.client.request(method, path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise transport_error(FAL, doing, timed_out=True) from exc
        except httpx.TransportError as exc:
            raise transport_error(FAL, doing, timed_out=False) from exc
        if 200 <= response.status_code < 300:
            try:
                return response.json()
            except ValueError as exc:
                raise TransientUpstreamError(f"fal answered with no JSON ({doing})") from exc
        detail, kind = _error_detail(response)
        raise http_error(
            FAL,
            response.status_code,
            detail,
            doing,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            safety=kind in _SAFETY_TYPES,
            quota="exhausted balance" in detail.lower() or "locked" in detail.lower(),
        )


# -- translation (pure functions, unit-tested) -----------------------------------------------


def fal_input(job: EngineJob, endpoint: str, duration: int | str) -> dict[str, Any]:
    """The request body for ``job`` at ``endpoint``, in fal's field names. CPU work (data
    URIs): run it in a thread."""
    body: dict[str, Any] = {"prompt": job.prompt, "duration": duration}
    if job.first_image is not None:
        body["image_url"] = _inline(job.first_image)
    if endpoint.startswith("fal-ai/veo3.1"):
        body["aspect_ratio"] = job.aspect_ratio
        body["generate_audio"] = bool(job.options.get("audio", True))
        if job.first_image is None:
            body["seed"] = job.seed
    elif job.first_image is None:  # Kling's text to video; its image to video follows the image
        body["aspect_ratio"] = job.aspect_ratio
    negative = job.options.get("negative_prompt")
    if isinstance(negative, str) and negative:
        body["negative_prompt"] = negative
    return body


def _inline(image: CapturedImage) -> str:
    try:
        return to_data_uri(image, max_chars=MAX_DATA_URI_CHARS)
    except ValueError as exc:
        raise EngineError(f"The first image is too large to send to fal: {exc}.") from exc


def queue_status(answer: Mapping[str, Any]) -> TaskStatus:
    """A fal queue status in the words of ``upstream.Phase`` (SUCCEEDED still needs the result
    fetched)."""
    status = str(answer.get("status", "")).upper()
    if status == "IN_QUEUE":
        return TaskStatus(Phase.WAITING)
    if status == "IN_PROGRESS":
        return TaskStatus(Phase.RUNNING)
    if status == "COMPLETED":
        error = answer.get("error")
        if not error:
            return TaskStatus(Phase.SUCCEEDED)
        kind = answer.get("error_type")
        if kind == "request_cancelled":
            return TaskStatus(Phase.CANCELLED)
        return TaskStatus(
            Phase.FAILED,
            error_name=SAFETY_REFUSED if kind in _SAFETY_TYPES else "UpstreamFailed",
            error_message=str(error)[:1000],
        )
    raise EngineError(f"fal reported an unknown status {status[:40]!r}.", name="BadUpstream")


def _error_detail(response: httpx.Response) -> tuple[str, str | None]:
    """fal's error body: ``{"detail": "…"}`` or ``{"detail": [{"loc", "msg", "type"}]}``
    (FastAPI's shape). Returns the words and the first error type."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or f"HTTP {response.status_code}", None
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, str):
        return detail[:500], None
    if isinstance(detail, list):
        parts, kind = [], None
        for item in detail[:5]:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc") or [] if p != "body")
                message = str(item.get("msg", ""))
                parts.append(f"{where}: {message}" if where else message)
                kind = kind or item.get("type")
        return "; ".join(parts)[:500], kind if isinstance(kind, str) else None
    return str(body)[:300], None

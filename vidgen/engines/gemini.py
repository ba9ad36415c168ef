"""The gemini engine: Veo on Google's Gemini API (the Developer API, an API key), over httpx.

A job becomes one long-running operation (the Gemini API's video docs, late 2026)::

    POST {base}/v1beta/models/{model}:predictLongRunning    → {"name": "models/…/operations/…"}
    GET  {base}/v1beta/{operation name}                      {done, response | error}
    GET  {the video's uri}  with x-goog-api-key               the video (the key is required)

The saved task id is the operation's name. The loop around the calls (record, resume, retry,
copy) is ``upstream.UpstreamEngine``; errors follow ``engines.policy``.

Why not the official ``google-genai``: from 3.x its ``generate_videos`` raises "only supported in
Gemini Enterprise Agent Platform mode, not in Gemini Developer API mode" (checked in 3.6.1), so
it cannot start a Veo operation with an API key at all. The REST contract is three calls.

What the Gemini API does not offer, and what that means here:

- **No cancel.** A Veo operation cannot be cancelled: a cancelled job ends cancelled (and is
  refunded) at once, and the operation runs to its end at Google, billed to the operator.
- **No progress.** The operation says only done or not; the job shows ``generating``.
- **No idempotency key.** See the README's crash windows.

Outputs: the video's ``uri`` is a Gemini API file that is downloaded with the key, so the key is
sent only to the configured API's own origin; a redirect elsewhere (to storage) is followed
without it, through the SSRF-guarded fetcher. A finished operation with no video and a non-zero
``raiMediaFilteredCount`` is Google's safety filter: ``SafetyRefused`` with its reasons.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import SecretStr

from vidgen.core.models import CapturedImage
from vidgen.engines.base import EngineJob
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
from vidgen.media.fetch import FetchFailed, FetchRefused
from vidgen.settings import Settings

__all__ = ["GeminiEngine", "operation_status", "veo_request"]

log = logging.getLogger(__name__)

GEMINI: Final = Provider("the Gemini API", credential="GEMINI_API_KEY", thing="operation")
API_VERSION: Final = "v1beta"
#: The Gemini API's limit on one request is 20 MB; an image larger than this is refused.
MAX_IMAGE_BYTES: Final = 15_000_000
_TIMEOUT: Final = httpx.Timeout(60.0, connect=5.0)
_CHUNK: Final = 1 << 20


class GeminiEngine(HostedEngine):
    """Proxies jobs to Veo on the Gemini API. See the module docstring."""

    name = "gemini"
    description = "Veo on the Gemini API (GEMINI_API_KEY); each video copied into vidgen."
    host = GEMINI
    client_module = "httpx"  # no extra client: see the module docstring
    client_package = "httpx"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._client: httpx.AsyncClient | None = None

    def credential(self) -> SecretStr | None:
        return self.settings.gemini_api_key

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.settings.gemini_base_url.rstrip("/"),
                headers={"x-goog-api-key": self.secret(), "User-Agent": "vidgen"},
                timeout=_TIMEOUT,
                # A redirect would carry the key to wherever it points.
                follow_redirects=False,
            )
        return self._client

    async def close_client(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def create_task(self, job: EngineJob) -> str:
        model = self.endpoint(job)
        body = await asyncio.to_thread(veo_request, job)
        answer = await self._call(
            "POST",
            f"/{API_VERSION}/models/{model}:predictLongRunning",
            f"starting a {model} operation",
            json=body,
        )
        name = answer.get("name") if isinstance(answer, dict) else None
        if not isinstance(name, str) or not name:
            raise EngineError(
                "The Gemini API accepted the request but returned no operation.",
                name="BadUpstream",
            )
        return name

    async def get_task(self, task_id: str) -> TaskStatus:
        answer = await self._call("GET", f"/{API_VERSION}/{task_id}", f"reading {task_id}")
        if not isinstance(answer, dict):
            raise TransientUpstreamError("the Gemini API answered a poll with no object")
        return operation_status(answer)

    async def cancel_task(self, task_id: str) -> None:
        log.info(
            "the Gemini API cannot cancel a Veo operation; it runs to its end",
            extra={"engine": self.name, "upstream_task_id": task_id},
        )

    async def download_output(self, url: str, path: Path, seconds: float) -> None:
        target = httpx.URL(url)
        base = httpx.URL(self.settings.gemini_base_url)
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            # Not the API's own file: no key goes there.
            await super().download_output(url, path, seconds)
            return
        limit = self.settings.max_output_bytes
        fh = await asyncio.to_thread(path.open, "wb")
        try:
            async with asyncio.timeout(seconds), self.client.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    await asyncio.to_thread(fh.close)
                    location = str(response.url.join(response.headers["location"]))
                    await super().download_output(location, path, seconds)
                    return
                if response.status_code != 200:
                    raise FetchFailed(
                        "status",
                        f"the Gemini API answered HTTP {response.status_code} for the video",
                        retryable=response.status_code in (429, 500, 502, 503, 504),
                        status_code=response.status_code,
                    )
                written = 0
                async for chunk in response.aiter_bytes(_CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise FetchRefused("too_large", f"the video is larger than {limit} bytes")
                    await asyncio.to_thread(fh.write, chunk)
        except BaseException as exc:
            await asyncio.to_thread(fh.close)
            await asyncio.to_thread(path.unlink, True)
            if isinstance(exc, httpx.TransportError | TimeoutError):
                raise FetchFailed(
                    "network",
                    "the video could not be downloaded from the Gemini API",
                    retryable=True,
                ) from exc
            raise
        await asyncio.to_thread(fh.close)

    async def _call(
        self, method: str, path: str, doing: str, *, json: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            response = await self.client.request(method, path, json=json)
        except httpx.TimeoutException as exc:
            raise transport_error(GEMINI, doing, timed_out=True) from exc
        except httpx.TransportError as exc:
            raise transport_error(GEMINI, doing, timed_out=False) from exc
        if 200 <= response.status_code < 300:
            try:
                return response.json()
            except ValueError as exc:
                raise TransientUpstreamError(
                    f"the Gemini API answered with no JSON ({doing})"
                ) from exc
        message, reason, daily = _google_error(response)
        status = response.status_code
        if reason == "API_KEY_INVALID":  # Google answers a wrong key with a 400
            status = 401
        raise http_error(
            GEMINI,
            status,
            message,
            doing,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            safety="safety" in message.lower() or "responsible ai" in message.lower(),
            # A per-minute limit passes within the job's time limit; a per-day quota does not.
            quota=status == 429 and daily,
        )


# -- translation (pure functions, unit-tested) -----------------------------------------------


def veo_request(job: EngineJob) -> dict[str, Any]:
    """The ``predictLongRunning`` body for ``job``. CPU work (base64): run it in a thread."""
    instance: dict[str, Any] = {"prompt": job.prompt}
    if job.first_image is not None:
        instance["image"] = _inline(job.first_image)
    parameters: dict[str, Any] = {
        "aspectRatio": job.aspect_ratio,
        "durationSeconds": job.duration,
        "resolution": "720p",
        "seed": job.seed,
    }
    negative = job.options.get("negative_prompt")
    if isinstance(negative, str) and negative:
        parameters["negativePrompt"] = negative
    return {"instances": [instance], "parameters": parameters}


def _inline(image: CapturedImage) -> dict[str, str]:
    if len(image.data) > MAX_IMAGE_BYTES:
        raise EngineError(
            f"The first image is too large to send to the Gemini API ({len(image.data)} bytes)."
        )
    return {
        "bytesBase64Encoded": base64.b64encode(image.data).decode("ascii"),
        "mimeType": image.media_type,
    }


def operation_status(operation: Mapping[str, Any]) -> TaskStatus:
    """A long-running operation in the words of ``upstream.Phase``."""
    if not operation.get("done"):
        return TaskStatus(Phase.RUNNING)
    error = operation.get("error")
    if isinstance(error, dict):
        message = str(error.get("message") or "The Gemini API reported that the video failed.")
        if error.get("code") == 1:  # google.rpc.Code CANCELLED
            return TaskStatus(Phase.CANCELLED)
        return TaskStatus(Phase.FAILED, error_name="UpstreamFailed", error_message=message[:1000])
    response = operation.get("response")
    video_response = response.get("generateVideoResponse") if isinstance(response, dict) else None
    if not isinstance(video_response, dict):
        video_response = {}
    samples = video_response.get("generatedSamples")
    if isinstance(samples, list) and samples and isinstance(samples[0], dict):
        video = samples[0].get("video")
        uri = video.get("uri") if isinstance(video, dict) else None
        return TaskStatus(Phase.SUCCEEDED, output_url=uri if isinstance(uri, str) else None)
    reasons = video_response.get("raiMediaFilteredReasons")
    if video_response.get("raiMediaFilteredCount"):
        words = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""
        return TaskStatus(
            Phase.FAILED,
            error_name=SAFETY_REFUSED,
            error_message=f"Google's safety filters withheld the video: {words}"[:1000],
        )
    return TaskStatus(Phase.SUCCEEDED)  # no video: UpstreamEngine calls that BadOutput


def _google_error(response: httpx.Response) -> tuple[str, str | None, bool]:
    """Google's error body: ``{"error": {"code", "message", "status", "details": [{"reason"} |
    {"@type": "…QuotaFailure", "violations": [{"quotaId"}]}]}}``. Returns the message, the first
    ``reason``, and whether a daily quota is among the violations (``…PerDay…`` quota ids, such
    as ``GenerateRequestsPerDayPerProjectPerModel``)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or f"HTTP {response.status_code}", None, False
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return str(body)[:300], None, False
    reason, daily = None, False
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        if reason is None and isinstance(detail.get("reason"), str):
            reason = detail["reason"]
        violations = detail.get("violations")
        for violation in violations if isinstance(violations, list) else []:
            quota_id = violation.get("quotaId") if isinstance(violation, dict) else None
            daily = daily or (isinstance(quota_id, str) and "PerDay" in quota_id)
    return str(error.get("message", ""))[:500], reason, daily

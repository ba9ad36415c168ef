"""The aimlapi engine: forward a job to any server that speaks ``/v2/video/generations``.

That can be AI/ML API itself, another gateway selling the same API, or another vidgen, so one
vidgen can sit in front of another (API-NOTES §1)::

    POST   {VIDGEN_UPSTREAM_URL}/v2/video/generations                     create
    GET    {VIDGEN_UPSTREAM_URL}/v2/video/generations?generation_id=ID    poll
    DELETE {VIDGEN_UPSTREAM_URL}/v2/video/generations?generation_id=ID    cancel (vidgen's extension)

The loop around these calls (record the id, resume, retry, copy the output) is
``upstream.UpstreamEngine``. The body is the one our own clients send, with the images inline as
data URIs (the upstream cannot fetch what our clients fetched for us, and must not be sent our
clients' URLs twice). The create carries ``Idempotency-Key: <job id>``, so an upstream that
honours it (vidgen does) starts one generation however often a create is retried.

Plain httpx is right for the API calls (not the SafeFetcher): the upstream's address is the
operator's configuration, not a user's input. The output link the upstream hands back is not,
and is downloaded through the SafeFetcher, which trusts exactly the configured gateway's own
addresses (see ``output_fetcher``).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

import httpx

from vidgen.core.models import CapturedImage, CapturedVideo, Kind
from vidgen.engines.base import EngineJob
from vidgen.engines.policy import (
    Provider,
    TransientUpstreamError,
    http_error,
    parse_retry_after,
    transport_error,
)
from vidgen.engines.upstream import Phase, TaskStatus, UpstreamEngine
from vidgen.errors import EngineError
from vidgen.media.addresses import IPNetwork, parse_host, resolve_host
from vidgen.media.data_uri import to_data_uri
from vidgen.media.fetch import FetchPolicy, SafeFetcher
from vidgen.settings import Settings

__all__ = ["ROUTE", "AimlapiEngine", "aimlapi_request", "generation_status"]

log = logging.getLogger(__name__)

ROUTE: Final = "/v2/video/generations"
#: aimlapi's cap on an inline image is 5 MB (vidgen's default VIDGEN_MAX_DATA_URI_BYTES is
#: 5 MiB decoded); keeping the whole URI under 5 MB decimal fits every reading of that.
MAX_DATA_URI_CHARS: Final = 5_000_000
GATEWAY: Final = Provider(
    "the upstream gateway", credential="VIDGEN_UPSTREAM_KEY", thing="generation"
)
_TIMEOUT: Final = httpx.Timeout(60.0, connect=5.0)


class AimlapiEngine(UpstreamEngine):
    """Proxies jobs to an aimlapi-compatible upstream. See the module docstring."""

    name = "aimlapi"
    provider = "the upstream gateway"
    description = "An aimlapi-compatible gateway (VIDGEN_UPSTREAM_URL); videos copied into vidgen."

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._client: httpx.AsyncClient | None = None

    def configuration_problem(self) -> str | None:
        url = self.settings.upstream_url
        if not url:
            return "set VIDGEN_UPSTREAM_URL to the gateway's base URL, and VIDGEN_UPSTREAM_KEY"
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            return "VIDGEN_UPSTREAM_URL is not a valid URL"
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return "VIDGEN_UPSTREAM_URL must be an http(s) URL with a host"
        if self.settings.upstream_key is None:
            return "set VIDGEN_UPSTREAM_KEY to the API key vidgen should use at the gateway"
        return None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            url, key = self.settings.upstream_url, self.settings.upstream_key
            if not url or key is None:  # configuration_problem stops start-up before this
                raise EngineError("The upstream gateway is not configured.", name="NotConfigured")
            self._client = httpx.AsyncClient(
                base_url=url.rstrip("/"),
                headers={
                    "Authorization": f"Bearer {key.get_secret_value()}",
                    "User-Agent": "vidgen",
                },
                timeout=_TIMEOUT,
                # A redirect would carry our key to wherever it points.
                follow_redirects=False,
            )
        return self._client

    async def close_client(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def output_fetcher(self) -> SafeFetcher:
        """Outputs go through the SafeFetcher like any URL an upstream hands us, with one
        exception: the operator's own gateway is trusted exactly (its addresses, and plain http
        if that is how it was configured). A vidgen behind another on a private network would
        otherwise be refused as SSRF, in production, where relaxing the rules for everyone is
        not allowed."""
        if self._fetcher is None:
            policy = FetchPolicy.from_settings(self.settings)
            url = httpx.URL(self.settings.upstream_url or "")
            trusted = await _gateway_networks(url)
            self._fetcher = SafeFetcher(
                replace(
                    policy,
                    allow_http=policy.allow_http or url.scheme == "http",
                    allowed_networks=(*policy.allowed_networks, *trusted),
                )
            )
        return self._fetcher

    async def create_task(self, job: EngineJob) -> str:
        body = await asyncio.to_thread(aimlapi_request, job)
        answer = await self._call(
            "POST", "creating the generation", json=body, headers={"Idempotency-Key": job.id}
        )
        task_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise EngineError(
                "The upstream gateway accepted the generation but returned no id.",
                name="BadUpstream",
            )
        return task_id

    async def get_task(self, task_id: str) -> TaskStatus:
        answer = await self._call(
            "GET", f"reading generation {task_id}", params={"generation_id": task_id}
        )
        if not isinstance(answer, dict):
            raise TransientUpstreamError("the upstream gateway answered a poll with no object")
        return generation_status(answer)

    async def cancel_task(self, task_id: str) -> None:
        try:
            await self._call(
                "DELETE", f"cancelling generation {task_id}", params={"generation_id": task_id}
            )
        except EngineError as exc:
            # aimlapi.com itself has no cancel route (405 or 404): nothing more can be done.
            log.info("the upstream gateway did not cancel", extra={"error": exc.message})

    async def _call(
        self,
        method: str,
        doing: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            response = await self.client.request(
                method, ROUTE, json=json, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise transport_error(GATEWAY, doing, timed_out=True) from exc
        except httpx.TransportError as exc:
            raise transport_error(GATEWAY, doing, timed_out=False) from exc
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError as exc:
                raise TransientUpstreamError(
                    f"the upstream gateway answered with no JSON ({doing})"
                ) from exc
        # 403 from a gateway is usually vidgen's key there being out of credits.
        raise http_error(
            GATEWAY,
            status,
            _error_message(response),
            doing,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


async def _gateway_networks(url: httpx.URL) -> tuple[IPNetwork, ...]:
    """The configured gateway's addresses, each as a one-address network. Resolved once, when
    the first output is fetched; a gateway that cannot be resolved is trusted for nothing."""
    if not url.host:
        return ()
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        host = parse_host(url.host)
        addresses = [host] if not isinstance(host, str) else await resolve_host(host, port)
    except (ValueError, OSError):
        log.warning("the upstream gateway's host could not be resolved", extra={"host": url.host})
        return ()
    return tuple(ipaddress.ip_network(address) for address in addresses)


def aimlapi_request(job: EngineJob) -> dict[str, Any]:
    """The create body for ``job``: every field the client gave, nothing dropped, with the
    images and videos inline, under aimlapi's names (the aimlapi dialect's, read back). CPU
    work (data URIs): run it in a thread."""
    body: dict[str, Any] = {"model": job.model, "seed": job.seed}
    if job.kind in (Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO):
        body["aspect_ratio"] = job.aspect_ratio
        # The other kinds' length follows their input video; aimlapi's documents take none.
        body["duration"] = job.duration
    elif job.kind in (Kind.VIDEO_TO_VIDEO, Kind.CHARACTER_PERFORMANCE):
        # aimlapi's documents for these kinds (runway/gen4_aleph, runway/act_two) name the
        # output size in pixels, as frame_size, and have no aspect_ratio. An upscale's or a
        # frame-rate change's size follows its input: it sends neither.
        body["frame_size"] = f"{job.width}:{job.height}"
    if job.prompt:
        body["prompt"] = job.prompt
    if job.first_image is not None:
        body["image_url"] = _inline(job.first_image, "first image")
    if job.last_image is not None:
        body["tail_image_url"] = _inline(job.last_image, "last image")
    if job.video is not None:
        body["video_url"] = _inline(job.video, "input video")
    if job.references:
        body["references"] = [
            {"type": "image", "url": _inline(ref, f"reference image {n}")}
            for n, ref in enumerate(job.references)
        ]
    if job.character is not None:
        kind = "image" if isinstance(job.character, CapturedImage) else "video"
        body["character"] = {"type": kind, "url": _inline(job.character, "character")}
    if job.performance is not None:
        body["reference"] = {"type": "video", "url": _inline(job.performance, "performance")}
    if job.keyframes:
        raise EngineError("The upstream gateway's API takes no keyframes.", name="Unsupported")
    # A model's own fields: the canonical names are aimlapi's (snake_case) already.
    body.update(job.options)
    return body


def _inline(media: CapturedImage | CapturedVideo, what: str) -> str:
    if isinstance(media, CapturedVideo):
        # A video cannot be shrunk to fit as an image can: too large is an error.
        uri = f"data:{media.media_type};base64,{base64.b64encode(media.data).decode('ascii')}"
        if len(uri) > MAX_DATA_URI_CHARS:
            raise EngineError(
                f"The {what} is too large to send upstream inline "
                f"({len(uri)} characters; at most {MAX_DATA_URI_CHARS})."
            )
        return uri
    try:
        return to_data_uri(media, max_chars=MAX_DATA_URI_CHARS)
    except ValueError as exc:
        raise EngineError(f"The {what} is too large to send upstream: {exc}.") from exc


def generation_status(answer: Mapping[str, Any]) -> TaskStatus:
    """An aimlapi poll answer in the words of ``upstream.Phase``. The seed client treats
    ``waiting`` like ``queued``; vidgen adds ``meta.progress``; older answers give ``video`` as a
    list of URLs instead of ``{url}``."""
    status = str(answer.get("status", "")).lower()
    if status in ("queued", "waiting"):
        return TaskStatus(Phase.WAITING)
    if status == "generating":
        meta = answer.get("meta")
        progress = meta.get("progress") if isinstance(meta, dict) else None
        return TaskStatus(
            Phase.RUNNING, progress=float(progress) if isinstance(progress, int | float) else None
        )
    if status == "completed":
        return TaskStatus(Phase.SUCCEEDED, output_url=_video_url(answer.get("video")))
    if status == "error":
        error = answer.get("error")
        name = error.get("name") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if name == "Cancelled":
            return TaskStatus(Phase.CANCELLED)
        return TaskStatus(
            Phase.FAILED,
            error_name=name if isinstance(name, str) and name else "UpstreamFailed",
            error_message=message
            if isinstance(message, str) and message
            else "The upstream gateway reported that the generation failed.",
        )
    raise EngineError(
        f"The upstream gateway reported an unknown status {status[:40]!r}.", name="BadUpstream"
    )


def _video_url(video: object) -> str | None:
    if isinstance(video, dict):
        url = video.get("url")
        return url if isinstance(url, str) else None
    if isinstance(video, list) and video and isinstance(video[0], str):
        return video[0]
    if isinstance(video, str):
        return video
    return None


def _error_message(response: httpx.Response) -> str:
    """aimlapi's error body is ``{message, …}``; anything else is shown shortened."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or f"HTTP {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:500]
    return str(body)[:300]

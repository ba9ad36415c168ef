"""The replicate engine: Replicate's predictions, through its official client (``replicate``).

A job becomes one prediction of an official model::

    POST /v1/models/{owner}/{name}/predictions   {"input": {...}}    create (the id is saved)
    GET  /v1/predictions/{id}                                        poll
    POST /v1/predictions/{id}/cancel                                 cancel

The loop around them (record the id, resume, retry, copy the output) is
``upstream.UpstreamEngine``. Choices, and why:

- **No ``Prefer: wait``.** It holds the create open up to 60 s, and the prediction id is not known
  (so not saved) until it returns: a worker killed meanwhile would leave a paid prediction no
  later attempt can find. The create returns at once; the job polls.
- **No idempotency key**: Replicate documents none, so none is sent (see the README's crash
  windows). ``Cancel-After`` (the job's time limit × its attempts) bounds what a prediction left
  behind in such a window can cost.
- **The client's own retries are off.** Its transport retries GETs on 429/503/504 up to ten
  times; vidgen retries in one place (``engines.policy``), inside the job's time limit, where a
  cancel can interrupt the wait. Its creates (POST) it never retries.
- **Outputs** are ``replicate.delivery`` links that expire after an hour; the video is copied
  into vidgen's storage the moment the prediction succeeds.
- **Webhooks**: with ``VIDGEN_PUBLIC_URL`` set, the create names vidgen's callback URL
  (``webhook``) for the ``completed`` event only (``start`` fires at create, ``output`` and
  ``logs`` would cost a poll each). A hook only wakes the poll (``upstream.UpstreamEngine``);
  its Standard Webhooks signature is checked with the client's ``Webhooks.validate`` against the
  account's secret (``GET /v1/webhooks/default/secret``, read once and kept).
- **Progress** comes from the prediction's logs, parsed by the client (``Prediction.progress``:
  the last ``NN%|…| i/n`` bar a model prints).
- **Safety**: a prediction that fails with Replicate's E005 ("flagged as sensitive") ends as
  ``SafetyRefused``; any other failure as ``UpstreamFailed`` with Replicate's words.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

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
    transport_error,
)
from vidgen.engines.upstream import Phase, TaskStatus
from vidgen.errors import EngineError
from vidgen.media.data_uri import to_data_uri
from vidgen.settings import Settings

if TYPE_CHECKING:
    from replicate.client import Client as ReplicateClient
    from replicate.webhook import WebhookSigningSecret

__all__ = ["ReplicateEngine", "prediction_status", "replicate_input"]

log = logging.getLogger(__name__)

REPLICATE: Final = Provider("Replicate", credential="REPLICATE_API_TOKEN", thing="prediction")
#: Replicate takes a file input as a data URI; its docs advise a URL above a few MB, and vidgen
#: has no public URL to offer, so an image is re-encoded to stay well under that.
MAX_DATA_URI_CHARS: Final = 4_000_000
_TIMEOUT: Final = httpx.Timeout(60.0, connect=5.0)
#: How old a hook's timestamp may be, in seconds (the Standard Webhooks libraries' default).
_HOOK_TOLERANCE: Final = 300
#: Words of Replicate's content refusal (error code E005).
_SAFETY_MARKERS: Final = ("E005", "flagged as sensitive")

#: wan-2.5-t2v takes a frame size (``size``) where the others take a ratio.
_WAN_SIZES: Final = MappingProxyType({"16:9": "1280*720", "9:16": "720*1280"})


class ReplicateEngine(HostedEngine):
    """Proxies jobs to Replicate. See the module docstring."""

    name = "replicate"
    description = "Replicate's predictions (REPLICATE_API_TOKEN); each video copied into vidgen."
    host = REPLICATE
    client_module = "replicate"
    client_package = "replicate"
    receives_hooks = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._client: ReplicateClient | None = None
        self._hook_secret: WebhookSigningSecret | None = None

    def credential(self) -> SecretStr | None:
        return self.settings.replicate_api_token

    @property
    def client(self) -> ReplicateClient:
        if self._client is None:
            from replicate.client import Client, RetryTransport

            # Cancel-After bounds what a prediction nobody follows any more can cost (one left
            # behind in a crash window, see the README): Replicate cancels it once every
            # attempt the job may make has had its time. Sent on every call (the client has no
            # per-call headers); only a create reads it.
            lifetime = self.settings.job_timeout_seconds * self.settings.max_attempts
            client = Client(
                api_token=self.secret(),
                base_url=self.settings.replicate_base_url,
                timeout=_TIMEOUT,
                headers={"Cancel-After": f"{max(5, math.ceil(lifetime))}s"},
            )
            # The client wraps every transport in its RetryTransport; one attempt turns it
            # into a pass-through (see the module docstring).
            transport = client._async_client._transport
            if isinstance(transport, RetryTransport):
                transport.max_attempts = 1
            self._client = client
        return self._client

    async def close_client(self) -> None:
        if self._client is not None:
            await self._client._async_client.aclose()
            self._client = None

    async def create_task(self, job: EngineJob) -> str:
        body = await asyncio.to_thread(replicate_input, job, self.endpoint(job))
        hook = self.hook_url(job.id)
        with translate_errors(f"creating the {self.endpoint(job)} prediction"):
            if hook is None:
                prediction = await self.client.models.predictions.async_create(
                    model=self.endpoint(job), input=body
                )
            else:
                prediction = await self.client.models.predictions.async_create(
                    model=self.endpoint(job),
                    input=body,
                    webhook=hook,
                    webhook_events_filter=["completed"],
                )
        task_id = prediction.id
        if not isinstance(task_id, str) or not task_id:
            raise EngineError(
                "Replicate accepted the prediction but returned no id.", name="BadUpstream"
            )
        return task_id

    async def get_task(self, task_id: str) -> TaskStatus:
        with translate_errors(f"reading prediction {task_id}"):
            prediction = await self.client.predictions.async_get(task_id)
        progress = prediction.progress
        return prediction_status(
            prediction.status,
            output=prediction.output,
            error=prediction.error,
            progress=progress.percentage if progress is not None else None,
        )

    async def cancel_task(self, task_id: str) -> None:
        with translate_errors(f"cancelling prediction {task_id}"):
            await self.client.predictions.async_cancel(task_id)

    async def verify_hook(self, body: bytes, headers: Mapping[str, str]) -> bool:
        from replicate.webhook import Webhooks

        try:
            if self._hook_secret is None:
                with translate_errors("reading the webhook signing secret"):
                    self._hook_secret = await self.client.webhooks.default.async_secret()
            Webhooks.validate(
                headers=dict(headers),
                body=body.decode(),
                secret=self._hook_secret,
                tolerance=_HOOK_TOLERANCE,
            )
        except (EngineError, TransientUpstreamError) as exc:
            # Refused for now: the next poll (VIDGEN_WEBHOOK_POLL_INTERVAL) still comes.
            log.warning("Replicate's webhook secret could not be read", extra={"error": str(exc)})
            return False
        except ValueError:  # the client's WebhookValidationError, bad base64, not UTF-8
            # The secret may have been rotated: read it again for the next hook.
            self._hook_secret = None
            return False
        return True


@contextmanager
def translate_errors(doing: str) -> Iterator[None]:
    """Turn the client's exceptions into the policy's (``engines.policy``)."""
    from replicate.exceptions import ReplicateError

    try:
        yield
    except httpx.TimeoutException as exc:
        raise transport_error(REPLICATE, doing, timed_out=True) from exc
    except httpx.TransportError as exc:
        raise transport_error(REPLICATE, doing, timed_out=False) from exc
    except ReplicateError as exc:
        status = exc.status or 500
        detail = (exc.detail or exc.title or "").strip()[:500]
        raise http_error(
            REPLICATE,
            status,
            detail,
            doing,
            safety=any(marker in detail for marker in _SAFETY_MARKERS),
        ) from exc
    except ValueError as exc:  # an answer the client could not read (not JSON, no id)
        raise TransientUpstreamError(f"Replicate sent an unreadable answer ({doing})") from exc


# -- translation (pure functions, unit-tested) -----------------------------------------------


def replicate_input(job: EngineJob, endpoint: str) -> dict[str, Any]:
    """The prediction's ``input`` for ``job`` at ``endpoint``, in that model's field names.
    CPU work (data URIs): run it in a thread."""
    body: dict[str, Any] = {"prompt": job.prompt, "duration": job.duration}
    image = _inline(job.first_image) if job.first_image is not None else None
    if endpoint.startswith("kwaivgi/kling"):
        if image is not None:
            body["start_image"] = image  # the output takes the image's own ratio
        else:
            body["aspect_ratio"] = job.aspect_ratio
    elif endpoint.startswith("wan-video/") and "-i2v" in endpoint:
        body |= {"image": image, "resolution": "720p", "seed": job.seed}
    elif endpoint.startswith("wan-video/") and "-t2v" in endpoint:
        size = _WAN_SIZES.get(job.aspect_ratio)
        if size is None:
            raise EngineError(f"{endpoint} has no {job.aspect_ratio} size.", name="NotSupported")
        body |= {"size": size, "seed": job.seed}
    elif image is not None:
        # Another family (a catalog entry of the operator's): the names most of Replicate's
        # video models share (Veo, Seedance); a field the model lacks comes back as its 422.
        body["image"] = image
    else:
        body["aspect_ratio"] = job.aspect_ratio
    negative = job.options.get("negative_prompt")
    if isinstance(negative, str) and negative:
        body["negative_prompt"] = negative
    return body


def _inline(image: CapturedImage) -> str:
    try:
        return to_data_uri(image, max_chars=MAX_DATA_URI_CHARS)
    except ValueError as exc:
        raise EngineError(f"The first image is too large to send to Replicate: {exc}.") from exc


def prediction_status(
    status: str, *, output: object, error: object, progress: float | None
) -> TaskStatus:
    """A Replicate prediction in the words of ``upstream.Phase``."""
    if status == "starting":  # waiting for a machine (cold boot, queue)
        return TaskStatus(Phase.WAITING)
    if status == "processing":
        return TaskStatus(Phase.RUNNING, progress=progress)
    if status == "succeeded":
        url = output[0] if isinstance(output, list) and output else output
        return TaskStatus(Phase.SUCCEEDED, output_url=url if isinstance(url, str) else None)
    if status == "failed":
        message = str(error or "") or "Replicate reported that the prediction failed."
        safety = any(marker in message for marker in _SAFETY_MARKERS)
        return TaskStatus(
            Phase.FAILED,
            error_name=SAFETY_REFUSED if safety else "UpstreamFailed",
            error_message=message[:1000],
        )
    if status in ("canceled", "cancelled", "aborted"):
        return TaskStatus(Phase.CANCELLED)
    raise EngineError(
        f"Replicate reported an unknown prediction status {status[:40]!r}.", name="BadUpstream"
    )

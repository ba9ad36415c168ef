"""A stand-in for fal's queue API (queue.fal.run), written from fal's queue docs, on loopback
(``tests/fakes/host.py`` has what every stand-in shares and lets a test script).

- ``Authorization: Key <key>``, else 401 ``{"detail": …}``;
- ``POST /{endpoint id}``: the endpoint's known fields, its required ones and enums (durations
  are strings: ``"5"``, ``"8s"``), images as data URIs or https URLs; 422 with FastAPI's
  ``{"detail": [{"loc", "msg", "type"}]}`` otherwise; 200 ``{request_id, response_url,
  status_url, cancel_url, queue_position}``;
- ``GET /{owner}/{app}/requests/{id}/status?logs=1``: ``IN_QUEUE`` (``queue_position``) →
  ``IN_PROGRESS`` (``logs``, one more line a poll) → ``COMPLETED``; a failed request is
  COMPLETED with ``error`` and ``error_type`` (``content_policy_violation`` for a refusal);
  one cancelled by fal reads ``error_type: request_cancelled`` (the stand-in's reading);
- ``GET /{owner}/{app}/requests/{id}``: the result ``{"video": {"url", "content_type", …}}`` with
  a link that expires, or the request's error (422, 500), or 400 while it is unfinished;
- ``PUT /{owner}/{app}/requests/{id}/cancel``: 202 ``CANCELLATION_REQUESTED`` for an unfinished
  request, 400 ``ALREADY_COMPLETED`` for a finished one;
- webhooks: a submit with ``?fal_webhook=<url>`` has ``{request_id, gateway_request_id,
  status: "OK"|"ERROR", payload, error}`` POSTed there once the request is done, signed as fal
  signs (ED25519 over request id, user id, timestamp and the body's SHA-256, in the
  ``X-Fal-Webhook-*`` headers) with the stand-in's own key, whose JWKS it serves at
  ``GET /.well-known/jwks.json`` (fal's is at rest.fal.ai).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.host import FakeHost, FakeJob
from vidgen.engines.fal_hooks import signed_message

FAKE_FAL_KEY = "fal-key-id:0123456789abcdef0123456789abcdef"
_KLING_DURATIONS = ("5", "10")
_VEO_DURATIONS = ("4s", "6s", "8s")

#: Each endpoint's input schema: field → (required, allowed values or a type).
ENDPOINTS: dict[str, dict[str, tuple[bool, Any]]] = {
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": {
        "prompt": (True, str),
        "image_url": (True, "file"),
        "duration": (False, _KLING_DURATIONS),
        "negative_prompt": (False, str),
        "cfg_scale": (False, float),
    },
    "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": {
        "prompt": (True, str),
        "duration": (False, _KLING_DURATIONS),
        "aspect_ratio": (False, ("16:9", "9:16", "1:1")),
        "negative_prompt": (False, str),
        "cfg_scale": (False, float),
    },
    # A model vidgen's catalog does not ship: an operator's catalog entry adds it.
    "fal-ai/kling-video/v2.1/master/image-to-video": {
        "prompt": (True, str),
        "image_url": (True, "file"),
        "duration": (False, _KLING_DURATIONS),
        "negative_prompt": (False, str),
        "cfg_scale": (False, float),
    },
    "fal-ai/kling-video/v2.1/master/text-to-video": {
        "prompt": (True, str),
        "duration": (False, _KLING_DURATIONS),
        "aspect_ratio": (False, ("16:9", "9:16", "1:1")),
        "negative_prompt": (False, str),
        "cfg_scale": (False, float),
    },
    "fal-ai/veo3.1/image-to-video": {
        "prompt": (True, str),
        "image_url": (True, "file"),
        "aspect_ratio": (False, ("auto", "16:9", "9:16")),
        "duration": (False, _VEO_DURATIONS),
        "generate_audio": (False, bool),
        "resolution": (False, ("720p", "1080p")),
    },
    "fal-ai/veo3.1": {
        "prompt": (True, str),
        "aspect_ratio": (False, ("16:9", "9:16")),
        "duration": (False, _VEO_DURATIONS),
        "negative_prompt": (False, str),
        "enhance_prompt": (False, bool),
        "seed": (False, int),
        "generate_audio": (False, bool),
        "resolution": (False, ("720p", "1080p")),
    },
}
SAFETY_MESSAGE = "The content could not be processed because it violated our content policy."
FAKE_USER_ID = "fake-fal-user"


def input_errors(endpoint: str, body: object) -> list[dict[str, Any]]:
    """fal's (FastAPI's) validation errors for a submit body."""
    if not isinstance(body, dict):
        return [{"loc": ["body"], "msg": "Input should be an object", "type": "dict_type"}]
    schema = ENDPOINTS[endpoint]
    errors = [
        {"loc": ["body", name], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
        for name in body.keys() - schema
    ]
    for name, (required, rule) in schema.items():
        if name not in body:
            if required:
                errors.append({"loc": ["body", name], "msg": "Field required", "type": "missing"})
            continue
        value = body[name]
        if rule == "file":
            good = isinstance(value, str) and value.startswith(("data:image/", "https://"))
        elif isinstance(rule, tuple):
            good = value in rule
        elif rule is float:
            good = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            good = isinstance(value, rule) and not (rule is int and isinstance(value, bool))
        if not good:
            errors.append(
                {"loc": ["body", name], "msg": f"Invalid value {value!r}", "type": "value_error"}
            )
    return errors


class FakeFal(FakeHost):
    api_key = FAKE_FAL_KEY
    name = "fal"

    def __init__(self) -> None:
        super().__init__()
        self.signing_key = Ed25519PrivateKey.generate()
        self.jwks_reads = 0
        self.jwks_down = False  # the key set answers 503

    def reset(self) -> None:
        super().reset()
        self.jwks_reads = 0
        self.jwks_down = False

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    def hook_headers(
        self,
        request_id: str,
        body: bytes,
        *,
        key: Ed25519PrivateKey | None = None,
        timestamp: float | None = None,
    ) -> dict[str, str]:
        """The headers fal sends with a delivery of ``body``, signed with the stand-in's key
        (or ``key``) at ``timestamp`` (now by default)."""
        sent_at = str(int(time.time() if timestamp is None else timestamp))
        message = signed_message(request_id, FAKE_USER_ID, sent_at, body)
        signature = (key or self.signing_key).sign(message)
        return {
            "Content-Type": "application/json",
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": FAKE_USER_ID,
            "X-Fal-Webhook-Timestamp": sent_at,
            "X-Fal-Webhook-Signature": signature.hex(),
        }

    def routes(self) -> list[Route]:
        return [
            Route("/.well-known/jwks.json", self._jwks, methods=["GET"]),
            Route("/{owner}/{app}/requests/{job_id}/status", self._status, methods=["GET"]),
            Route("/{owner}/{app}/requests/{job_id}/cancel", self._cancel, methods=["PUT"]),
            Route("/{owner}/{app}/requests/{job_id}", self._result, methods=["GET"]),
            Route("/{endpoint:path}", self._submit, methods=["POST"]),
        ]

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Key {self.key}"

    def _urls(self, job: FakeJob) -> dict[str, str]:
        owner, app = job.model.split("/")[:2]
        base = f"{self.base_url}/{owner}/{app}/requests/{job.id}"
        return {
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        }

    async def _submit(self, request: Request) -> Response:
        refused, body = await self.gate(request)
        if refused is not None:
            return refused
        endpoint = request.path_params["endpoint"]
        if endpoint not in ENDPOINTS:
            return JSONResponse({"detail": f"Application {endpoint!r} not found"}, status_code=404)
        errors = input_errors(endpoint, body)
        if errors:
            return JSONResponse({"detail": errors}, status_code=422)
        job = self.create(
            endpoint,
            body,
            str(body.get("prompt", "")),
            hook=request.query_params.get("fal_webhook"),
        )
        return JSONResponse(
            {"request_id": job.id, **self._urls(job), "queue_position": 0, "status": "IN_QUEUE"}
        )

    def _job(self, request: Request) -> FakeJob | None:
        job = self.jobs.get(request.path_params["job_id"])
        owner, app = request.path_params["owner"], request.path_params["app"]
        if job is None or not job.model.startswith(f"{owner}/{app}"):
            return None
        return job

    async def _status(self, request: Request) -> Response:
        refused, _ = await self.gate(request)
        if refused is not None:
            return refused
        job = self._job(request)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        answer: dict[str, Any] = {"request_id": job.id, **self._urls(job)}
        if job.queued:
            answer |= {"status": "IN_QUEUE", "queue_position": 2}
        elif job.outcome == "running":
            answer |= {"status": "IN_PROGRESS"}
        else:
            answer |= {"status": "COMPLETED", "metrics": {"inference_time": 1.5}}
            error = {
                "failed": ("Internal error while generating", "runner_error"),
                "unsafe": (SAFETY_MESSAGE, "content_policy_violation"),
                "cancelled": ("The request was cancelled", "request_cancelled"),
            }.get(job.outcome)
            if error is not None:
                answer |= {"error": error[0], "error_type": error[1]}
        if request.query_params.get("logs") == "1":
            answer["logs"] = [
                {"message": f"step {k} of 3", "level": "INFO", "source": "user"}
                for k in range(1, min(job.step, 3) + 1)
            ]
        self.advance(job)
        return JSONResponse(answer)

    async def _result(self, request: Request) -> Response:
        refused, _ = await self.gate(request)
        if refused is not None:
            return refused
        job = self._job(request)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if job.outcome == "running":
            return JSONResponse({"detail": "Request is still in progress"}, status_code=400)
        if job.outcome == "unsafe":
            detail = [
                {
                    "loc": ["body", "prompt"],
                    "msg": SAFETY_MESSAGE,
                    "type": "content_policy_violation",
                }
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        if job.outcome != "succeeded":
            return JSONResponse({"detail": "Internal error while generating"}, status_code=500)
        return JSONResponse(
            {
                "video": {
                    "url": self.output_url(job),
                    "content_type": "video/mp4",
                    "file_name": "output.mp4",
                    "file_size": len(self.video_bytes()),
                }
            }
        )

    def send_hook(self, job: FakeJob) -> httpx.Response | None:
        assert job.hook is not None
        ok = job.outcome == "succeeded"
        payload: dict[str, Any] = (
            {"video": {"url": self.output_url(job), "content_type": "video/mp4"}}
            if ok
            else {"detail": [{"loc": ["body"], "msg": job.outcome, "type": job.outcome}]}
        )
        body = {
            "request_id": job.id,
            "gateway_request_id": job.id,
            "status": "OK" if ok else "ERROR",
            "payload": payload,
            "error": None if ok else f"The request ended {job.outcome}",
        }
        raw = json.dumps(body).encode()
        return httpx.post(job.hook, content=raw, headers=self.hook_headers(job.id, raw), timeout=10)

    async def _jwks(self, request: Request) -> Response:
        # Public, as fal's is: no key wanted.
        self.jwks_reads += 1
        if self.jwks_down:
            return JSONResponse({"detail": "Service Unavailable"}, status_code=503)
        key = OKPAlgorithm.to_jwk(self.signing_key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**key, "kid": "fake-fal-1"}]})

    async def _cancel(self, request: Request) -> Response:
        refused, _ = await self.gate(request)
        if refused is not None:
            return refused
        job = self._job(request)
        if job is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        if job.outcome != "running":
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)
        job.outcome = "cancelled"
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

"""A stand-in for Replicate's predictions API, written from its published HTTP contract, on
loopback (``tests/fakes/host.py`` has what every stand-in shares and lets a test script).

- ``Authorization: Bearer <token>``, else 401 with a problem-details body (RFC 7807:
  ``{title, detail, status}``), as every error here;
- ``POST /v1/models/{owner}/{name}/predictions`` ``{"input": {...}}``: the model's known fields
  only, its required ones, its enums (durations, sizes), file inputs as data URIs or https URLs;
  422 ``Input validation failed`` otherwise; 201 with the prediction;
- ``GET /v1/predictions/{id}``: ``starting`` → ``processing`` (logs with a progress bar: 25%,
  50%, 75%) → ``succeeded`` with ``output`` a link that expires (Replicate's, after an hour), or
  ``failed`` (``error``; a safety refusal reads E005), or ``canceled``;
- ``POST /v1/predictions/{id}/cancel``: cancels an unfinished prediction; 200 with it;
- webhooks: a create's ``webhook`` is POSTed the prediction JSON on the events of its
  ``webhook_events_filter`` (all four when absent; this stand-in sends ``completed`` only, when
  the prediction ends), signed with Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature``) under the account's secret, which ``GET /v1/webhooks/default/secret``
  returns as ``{"key": "whsec_…"}``.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.host import FakeHost, FakeJob

FAKE_TOKEN = "r8_" + "0123456789abcdefABCDEF" * 2
SAFETY_ERROR = (
    "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"
)
_DURATIONS = (5, 10)
_WAN_SIZES = ("832*480", "480*832", "1280*720", "720*1280", "1920*1080", "1080*1920")

#: Each model's input schema: field → (required, allowed values or a type).
MODELS: dict[str, dict[str, tuple[bool, Any]]] = {
    "kwaivgi/kling-v2.5-turbo-pro": {
        "prompt": (True, str),
        "start_image": (False, "file"),
        "aspect_ratio": (False, ("16:9", "9:16", "1:1")),
        "duration": (False, _DURATIONS),
        "negative_prompt": (False, str),
        "guidance_scale": (False, float),
    },
    "wan-video/wan-2.5-i2v": {
        "image": (True, "file"),
        "prompt": (True, str),
        "duration": (False, _DURATIONS),
        "resolution": (False, ("480p", "720p", "1080p")),
        "negative_prompt": (False, str),
        "seed": (False, int),
        "enable_prompt_expansion": (False, bool),
    },
    "wan-video/wan-2.5-t2v": {
        "prompt": (True, str),
        "size": (False, _WAN_SIZES),
        "duration": (False, _DURATIONS),
        "negative_prompt": (False, str),
        "seed": (False, int),
        "enable_prompt_expansion": (False, bool),
    },
}


def problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"title": title, "detail": detail, "status": status},
        status_code=status,
        media_type="application/problem+json",
    )


def input_problems(model: str, given: object) -> list[str]:
    """Replicate's checks on a prediction's input, one line per field at fault."""
    if not isinstance(given, dict):
        return ["input: Invalid type. Expected: object"]
    schema = MODELS[model]
    issues = [f"input: Additional property {name} is not allowed" for name in given.keys() - schema]
    for name, (required, rule) in schema.items():
        if name not in given:
            if required:
                issues.append(f"input: {name} is required")
            continue
        value = given[name]
        if rule == "file":
            if not isinstance(value, str) or not value.startswith(("data:image/", "https://")):
                issues.append(f"input.{name}: Does not match format 'uri'")
        elif isinstance(rule, tuple):
            if value not in rule:
                allowed = ", ".join(map(str, rule))
                issues.append(f"input.{name}: {name} must be one of the following: {allowed}")
        elif rule is float:
            if not isinstance(value, int | float) or isinstance(value, bool):
                issues.append(f"input.{name}: Invalid type. Expected: number")
        elif not isinstance(value, rule) or (rule is int and isinstance(value, bool)):
            issues.append(f"input.{name}: Invalid type. Expected: {rule.__name__}")
    return issues


class FakeReplicate(FakeHost):
    api_key = FAKE_TOKEN
    name = "Replicate"
    #: The account's webhook signing secret.
    hook_secret = "whsec_" + base64.b64encode(b"replicate stand-in signing key!!").decode()

    def routes(self) -> list[Route]:
        return [
            Route("/v1/webhooks/default/secret", self._signing_secret, methods=["GET"]),
            Route("/v1/models/{owner}/{model}/predictions", self._create, methods=["POST"]),
            Route("/v1/predictions/{job_id}", self._get, methods=["GET"]),
            Route("/v1/predictions/{job_id}/cancel", self._cancel, methods=["POST"]),
        ]

    def unauthorized(self) -> Response:
        return problem(401, "Unauthenticated", "You did not pass a valid authentication token")

    def prediction(self, job: FakeJob) -> dict[str, Any]:
        status = {
            "running": "starting" if job.queued else "processing",
            "succeeded": "succeeded",
            "failed": "failed",
            "unsafe": "failed",
            "cancelled": "canceled",
        }[job.outcome]
        bar = "#" * (job.step * 2)
        logs = "".join(
            f"{25 * k:3d}%|{bar:<8}| {k}/4 [00:0{k}<00:0{4 - k}]\n" for k in range(1, job.step + 1)
        )
        created = datetime.fromtimestamp(job.created_at, UTC).isoformat().replace("+00:00", "Z")
        return {
            "id": job.id,
            "model": job.model,
            "version": "hidden",
            "input": job.body,
            "logs": logs,
            "output": self.output_url(job) if job.outcome == "succeeded" else None,
            "error": {
                "failed": "Prediction failed for an unknown reason.",
                "unsafe": SAFETY_ERROR,
            }.get(job.outcome),
            "status": status,
            "created_at": created,
            "data_removed": False,
            "urls": {
                "get": f"{self.base_url}/v1/predictions/{job.id}",
                "cancel": f"{self.base_url}/v1/predictions/{job.id}/cancel",
            },
        }

    async def _create(self, request: Request) -> Response:
        refused, body = await self.gate(request)
        if refused is not None:
            return refused
        model = f"{request.path_params['owner']}/{request.path_params['model']}"
        if model not in MODELS:
            return problem(404, "Not found", f"The model {model} does not exist")
        given = body.get("input") if isinstance(body, dict) else None
        issues = input_problems(model, given)
        if issues:
            return problem(422, "Input validation failed", "\n".join(f"- {i}" for i in issues))
        assert isinstance(given, dict)
        hook = body.get("webhook")
        events = body.get("webhook_events_filter") or ["start", "output", "logs", "completed"]
        job = self.create(
            model,
            given,
            str(given.get("prompt", "")),
            hook=hook if isinstance(hook, str) and "completed" in events else None,
        )
        return JSONResponse(self.prediction(job), status_code=201)

    async def _signing_secret(self, request: Request) -> Response:
        refused, _ = await self.gate(request)
        if refused is not None:
            return refused
        return JSONResponse({"key": self.hook_secret})

    def send_hook(self, job: FakeJob) -> httpx.Response | None:
        assert job.hook is not None
        body = json.dumps(self.prediction(job))
        msg_id = f"msg_{uuid.uuid4().hex}"
        at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(self.hook_secret).sign(msg_id, at, body),
        }
        return httpx.post(job.hook, content=body, headers=headers, timeout=10)

    async def _get(self, request: Request) -> Response:
        refused, _ = await self.gate(request)
        if refused is not None:
            return refused
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return problem(404, "Not found", "Prediction not found")
        answer = self.prediction(job)
        self.advance(job)
        return JSONResponse(answer)

    async def _cancel(self, request: Request) -> Response:
        refused, _ = await self.gate(request)
        if refused is not None:
            return refused
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return problem(404, "Not found", "Prediction not found")
        if job.outcome == "running":
            job.outcome = "cancelled"
        return JSONResponse(self.prediction(job))

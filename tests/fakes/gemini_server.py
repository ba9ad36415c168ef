"""A stand-in for Veo on the Gemini API (the Developer API, v1beta), written from its published
REST contract, on loopback (``tests/fakes/host.py`` has what every stand-in shares).

- ``x-goog-api-key: <key>``; a wrong key is a 400 whose ``details`` give ``reason:
  API_KEY_INVALID``, as Google answers it; every error reads ``{"error": {code, message,
  status}}``;
- ``POST /v1beta/models/{model}:predictLongRunning`` ``{"instances": [{prompt, image?}],
  "parameters": {aspectRatio, durationSeconds, resolution, negativePrompt?, seed?}}``: Veo's enums
  (16:9/9:16; 4, 6 or 8 s; 720p/1080p), an image as ``{bytesBase64Encoded, mimeType}``; 400
  ``INVALID_ARGUMENT`` otherwise; 200 ``{"name": "models/{model}/operations/{id}"}``;
- ``GET /v1beta/models/{model}/operations/{id}``: ``done: false`` for three polls, then
  ``response.generateVideoResponse.generatedSamples[0].video.uri``, or ``error`` (``[fail]``), or
  no sample and ``raiMediaFilteredCount``/``Reasons`` (``[unsafe]``: the safety filter);
- the video's ``uri`` is served only with the key (403 without), and expires (``output_ttl``).
There is no cancel: Google offers none for Veo. ``quota_error(per)`` is the 429
``RESOURCE_EXHAUSTED`` body Google sends when a per-minute or a per-day quota is spent (a
``QuotaFailure`` naming the quota), for ``inject``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.host import FakeHost, FakeJob

FAKE_GEMINI_KEY = "AIza" + "0123456789abcdefghijABCDEFGHIJ01234"
MODELS = ("veo-3.1-generate-preview", "veo-3.1-fast-generate-preview")
SAFETY_REASON = (
    "Your prompt may violate our policies. The video was not generated. (Support code 29310472)"
)
_PARAMETERS: dict[str, tuple[Any, ...] | type] = {
    "aspectRatio": ("16:9", "9:16"),
    "durationSeconds": (4, 6, 8),
    "resolution": ("720p", "1080p"),
    "negativePrompt": str,
    "seed": int,
    "personGeneration": ("allow_all", "allow_adult", "dont_allow"),
}


def google_error(code: int, status: str, message: str, reason: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason is not None:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return JSONResponse({"error": error}, status_code=code)


def quota_error(per: str) -> dict[str, Any]:
    """Google's 429 for a spent quota, ``per`` "Minute" or "Day" (its quota ids' spelling)."""
    return {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing "
            "details. For more information on this error, head to: "
            "https://ai.google.dev/gemini-api/docs/rate-limits.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/"
                            "generate_requests_per_model",
                            "quotaId": f"GenerateRequestsPer{per}PerProjectPerModel",
                            "quotaDimensions": {"model": MODELS[0], "location": "global"},
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"},
            ],
        }
    }


def request_problem(body: object) -> str | None:
    """What Veo on the Gemini API would refuse in a ``predictLongRunning`` body."""
    if not isinstance(body, dict) or set(body) - {"instances", "parameters"}:
        return "Invalid JSON payload received."
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return "instances must hold exactly one instance."
    instance = instances[0]
    unknown = set(instance) - {"prompt", "image", "lastFrame"}
    if unknown:
        return f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}."
    if not isinstance(instance.get("prompt"), str):
        return "prompt is required."
    image = instance.get("image")
    if image is not None:
        if not isinstance(image, dict) or image.get("mimeType") not in (
            "image/png",
            "image/jpeg",
            "image/webp",
        ):
            return "image must have a supported mimeType."
        try:
            base64.b64decode(str(image.get("bytesBase64Encoded", "")), validate=True)
        except (binascii.Error, ValueError):
            return "image.bytesBase64Encoded is not valid base64."
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict):
        return "parameters must be an object."
    for name, value in parameters.items():
        rule = _PARAMETERS.get(name)
        if rule is None:
            return f"Invalid JSON payload received. Unknown name {name!r} at 'parameters'."
        good = value in rule if isinstance(rule, tuple) else isinstance(value, rule)
        if not good:
            return f"The value {value!r} of {name} is not supported by this model."
    return None


class FakeGemini(FakeHost):
    api_key = FAKE_GEMINI_KEY
    name = "Gemini API"
    #: Hand out video links on another origin (``localhost`` for ``127.0.0.1``): a client must
    #: not send its key there.
    foreign_outputs = False

    def reset(self) -> None:
        super().reset()
        self.foreign_outputs = False

    def output_url(self, job: FakeJob) -> str:
        url = super().output_url(job)
        return url.replace("127.0.0.1", "localhost", 1) if self.foreign_outputs else url

    def routes(self) -> list[Route]:
        return [
            Route("/v1beta/models/{model_action}", self._create, methods=["POST"]),
            Route("/v1beta/models/{model}/operations/{job_id}", self._get, methods=["GET"]),
        ]

    def authorized(self, request: Request) -> bool:
        return request.headers.get("x-goog-api-key") == self.key

    def unauthorized(self) -> Response:
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            reason="API_KEY_INVALID",
        )

    def output_allowed(self, request: Request) -> bool:
        return self.authorized(request)

    def operation(self, job: FakeJob) -> dict[str, Any]:
        answer: dict[str, Any] = {"name": f"models/{job.model}/operations/{job.id}"}
        if job.outcome == "running":
            return answer
        answer["done"] = True
        if job.outcome == "failed":
            answer["error"] = {"code": 13, "message": "Internal error encountered."}
        elif job.outcome == "cancelled":
            answer["error"] = {"code": 1, "message": "The operation was cancelled."}
        else:
            video: dict[str, Any] = {}
            if job.outcome == "unsafe":
                video = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [SAFETY_REASON]}
            else:
                video = {"generatedSamples": [{"video": {"uri": self.output_url(job)}}]}
            answer["response"] = {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                "PredictLongRunningResponse",
                "generateVideoResponse": video,
            }
        return answer

    async def _create(self, request: Request) -> Response:
        refused, body = await self.gate(request)
        if refused is not None:
            return refused
        model, _, action = request.path_params["model_action"].partition(":")
        if action != "predictLongRunning" or model not in MODELS:
            return google_error(404, "NOT_FOUND", f"models/{model} is not found.")
        problem = request_problem(body)
        if problem is not None:
            return google_error(400, "INVALID_ARGUMENT", problem)
        job = self.create(model, body, str(body["instances"][0].get("prompt", "")))
        return JSONResponse({"name": f"models/{model}/operations/{job.id}"})

    async def _get(self, request: Request) -> Response:
        refused, _ = await self.gate(request)
        if refused is not None:
            return refused
        job = self.jobs.get(request.path_params["job_id"])
        if job is None or job.model != request.path_params["model"]:
            return google_error(404, "NOT_FOUND", "Operation not found.")
        answer = self.operation(job)
        self.advance(job)
        return JSONResponse(answer)

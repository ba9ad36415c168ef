"""A fake of Runway's API that follows its published contract (API-NOTES §3), on loopback.

Tests start it in a thread (a real uvicorn), point vidgen (or the official ``runwayml`` SDK) at
``base_url`` and watch what arrives. What it enforces, as Runway does:

- ``Authorization: Bearer <key>`` (401 otherwise) and ``X-Runway-Version: 2024-11-06`` (400);
- ``POST /v1/image_to_video``: known fields only; the model's ``ratio`` enum and durations;
  ``promptImage`` as an https URL on a domain name or a data URI under 5 MiB of png, jpeg or
  webp, or ``[{uri, position}]`` with ``last`` only where the model has a last frame;
  ``promptText`` ≤ 1000 UTF-16 units; ``seed`` in 0…4294967295. 400s read
  ``{"error", "issues": [{"message", "path"}]}``;
- ``GET /v1/tasks/{id}``: PENDING → THROTTLED → RUNNING (progress 0.25, 0.5, 0.75) → SUCCEEDED,
  one step per poll, with ``output`` URLs that it serves and that expire (403 after
  ``output_ttl`` s, or at once after ``expire_outputs()``);
- ``DELETE /v1/tasks/{id}``: cancels an unfinished task, deletes a finished one; 204.
- ``POST /v1/uploads`` (``{filename, type: "ephemeral"}``) answers ``{uploadUrl, fields,
  runwayUri}``; the file is then posted as a form (the fields, then ``file``) to ``uploadUrl``,
  a presigned target that takes no key, as S3's are (204). A create that names a
  ``runway://`` URI gets a 400 unless that upload finished. ``uploads`` holds the bytes
  received, by ``runwayUri``.

What a test can script, beyond what every fake offers (``tests.fakes.loopback``: ``inject``
bursts of 429 or 503, ``output_ttl``, ``expire_outputs()``, ``seen``): ``delay`` makes every answer slow; ``hold_at =
"RUNNING"`` (or another unfinished status) stops every task there until it is cleared. A prompt
can steer its own task: ``[fail=SAFETY.INPUT.TEXT]`` (or ``[fail]``) ends it FAILED with that
code, ``[canceled]`` ends it CANCELED (the US spelling some clients use).
``creations`` counts tasks created; ``requests`` records every request.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackFake, tiny_mp4
from tests.fakes.runway_contract import ENDPOINT_MODELS, validate_endpoint

API_VERSION = "2024-11-06"
FAKE_KEY = "key_" + "0123456789abcdef" * 8

STEPS: tuple[tuple[str, float | None], ...] = (
    ("PENDING", None),
    ("THROTTLED", None),
    ("RUNNING", 0.25),
    ("RUNNING", 0.5),
    ("RUNNING", 0.75),
    ("SUCCEEDED", None),
)
_DIRECTIVE = re.compile(r"\[(fail|canceled)(?:=([A-Z0-9_.]+))?\]")


@dataclass
class FakeTask:
    id: str
    model: str
    body: dict[str, Any]
    created_at: str
    step: int = 0
    status: str = "PENDING"
    progress: float | None = None
    failure: str | None = None
    failure_code: str | None = None
    deleted: bool = False
    polls: int = 0
    endpoint: str = "image_to_video"

    @property
    def output_ratio(self) -> str:
        ratio = self.body.get("ratio")
        if isinstance(ratio, str):
            return ratio
        return str(ENDPOINT_MODELS[self.endpoint][self.model].get("output", "1280:720"))

    def as_json(self, output_url: str) -> dict[str, Any]:
        task: dict[str, Any] = {"id": self.id, "createdAt": self.created_at, "status": self.status}
        if self.status in ("PENDING", "THROTTLED", "RUNNING"):
            task["estimatedCost"] = {"credits": 25}
        else:
            task["cost"] = {"credits": 25 if self.status == "SUCCEEDED" else 0}
        if self.status == "RUNNING":
            task["progress"] = self.progress
        if self.status == "SUCCEEDED":
            task["output"] = [output_url]
        if self.status == "FAILED":
            task["failure"] = self.failure
            if self.failure_code:
                task["failureCode"] = self.failure_code
        return task


class FakeRunway(LoopbackFake):
    name = "Runway"
    fault_path = "/v1/"
    fault_key = "error"
    denied_text = "<Error><Code>AccessDenied</Code></Error>"
    expired_text = "<Error><Code>Request has expired</Code></Error>"

    def __init__(self) -> None:
        super().__init__()
        self.api_key = FAKE_KEY
        self.delay = 0.0
        self.hold_at: str | None = None
        self.tasks: dict[str, FakeTask] = {}
        self.uploads: dict[str, bytes] = {}
        self._upload_slots: dict[str, tuple[str, dict[str, str]]] = {}
        self._videos: dict[str, bytes] = {}

    # -- control, from the test's thread -----------------------------------------------------

    def _reset(self) -> None:
        super()._reset()
        self.tasks.clear()
        self.uploads.clear()
        self._upload_slots.clear()
        self.delay = 0.0
        self.hold_at = None
        self.api_key = FAKE_KEY

    def video_bytes(self, ratio: str) -> bytes:
        """The MP4 this fake returns for ``ratio``: real H.264, an eighth of the size, 1 s."""
        with self._lock:
            if ratio not in self._videos:
                width, height = (int(n) // 8 for n in ratio.split(":"))
                self._videos[ratio] = tiny_mp4(width, height, lambda i: (i * 10, 80, 200 - i * 5))
            return self._videos[ratio]

    # -- the HTTP side -----------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/image_to_video", self._create, methods=["POST"]),
                *(
                    Route(f"/v1/{endpoint}", self._create, methods=["POST"])
                    for endpoint in ENDPOINT_MODELS
                    if endpoint != "image_to_video"
                ),
                Route("/v1/tasks/{task_id}", self._task, methods=["GET", "DELETE"]),
                Route("/v1/uploads", self._start_upload, methods=["POST"]),
                Route("/upload-target/{slot}", self._receive_upload, methods=["POST"]),
                Route("/outputs/{task_id}.mp4", self._output, methods=["GET"]),
            ]
        )

    async def _gate(self, request: Request) -> Response | None:
        """Record, delay, inject faults, then check the key and the version, as Runway's edge
        would."""
        try:
            body = await request.json() if request.method == "POST" else None
        except ValueError:
            body = "<not json>"
        headers = {
            k: v
            for k, v in request.headers.items()
            if k in ("authorization", "x-runway-version", "content-type", "user-agent")
        }
        fault = self.admit(request, headers, body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if fault is not None:
            return fault
        if request.url.path.startswith(("/outputs/", "/upload-target/")):
            return None  # presigned: the URL is the credential
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": "Invalid API key."}, status_code=401)
        if request.headers.get("x-runway-version") != API_VERSION:
            return JSONResponse(
                {"error": f"The X-Runway-Version header must be set to {API_VERSION}."},
                status_code=400,
            )
        return None

    async def _create(self, request: Request) -> Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        with self._lock:
            body = self.requests[-1].body
        endpoint = request.url.path.removeprefix("/v1/")
        with self._lock:
            issues = validate_endpoint(endpoint, body, set(self.uploads))
        if issues:
            return JSONResponse(
                {"error": "Validation of body failed", "issues": issues}, status_code=400
            )
        task = FakeTask(
            id=str(uuid.uuid4()),
            model=body["model"],
            body=body,
            endpoint=endpoint,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )
        with self._lock:
            self.tasks[task.id] = task
            self.creations += 1
        return JSONResponse({"id": task.id})

    async def _start_upload(self, request: Request) -> Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        with self._lock:
            body = self.requests[-1].body
        filename = body.get("filename") if isinstance(body, dict) else None
        if not isinstance(filename, str) or not filename or body.get("type") != "ephemeral":
            return JSONResponse(
                {
                    "error": "Validation of body failed",
                    "issues": [{"message": "Expected {filename, type: ephemeral}", "path": []}],
                },
                status_code=400,
            )
        slot = uuid.uuid4().hex
        runway_uri = f"runway://uploads/{slot}/{filename}"
        fields = {
            "key": f"uploads/{slot}/{filename}",
            "policy": base64.b64encode(slot.encode()).decode(),
            "x-amz-signature": hmac.new(self._secret, slot.encode(), "sha256").hexdigest(),
        }
        with self._lock:
            self._upload_slots[slot] = (runway_uri, fields)
        upload_url = f"{self.base_url}/upload-target/{slot}"
        return JSONResponse({"uploadUrl": upload_url, "fields": fields, "runwayUri": runway_uri})

    async def _receive_upload(self, request: Request) -> Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        with self._lock:
            expected = self._upload_slots.get(request.path_params["slot"])
        form = await request.form()
        file = form.get("file")
        if (
            expected is None
            or any(form.get(name) != value for name, value in expected[1].items())
            or isinstance(file, str)
            or file is None
        ):
            return Response("<Error><Code>AccessDenied</Code></Error>", status_code=403)
        data = await file.read()
        with self._lock:
            self.uploads[expected[0]] = data
        return Response(status_code=204)

    async def _task(self, request: Request) -> Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        task_id = request.path_params["task_id"]
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None or task.deleted:
                return JSONResponse({"error": "Task not found."}, status_code=404)
            if request.method == "DELETE":
                if task.status in ("PENDING", "THROTTLED", "RUNNING"):
                    task.status = "CANCELLED"
                else:
                    task.deleted = True
                return Response(status_code=204)
            # Answer with the state as it is, then move on: the first poll sees PENDING.
            answer = task.as_json(self.signed_output_url(task.id))
            self._advance(task)
            return JSONResponse(answer)

    def _advance(self, task: FakeTask) -> None:
        task.polls += 1
        if task.status not in ("PENDING", "THROTTLED", "RUNNING") or task.status == self.hold_at:
            return
        next_step = min(task.step + 1, len(STEPS) - 1)
        status, progress = STEPS[next_step]
        if status == "SUCCEEDED":
            directive = _DIRECTIVE.search(str(task.body.get("promptText", "")))
            if directive and directive.group(1) == "fail":
                task.status, task.progress = "FAILED", None
                task.failure_code = directive.group(2)
                task.failure = (
                    "The prompt did not pass content moderation."
                    if (directive.group(2) or "").startswith("SAFETY")
                    else "An unexpected error occurred."
                )
                return
            if directive and directive.group(1) == "canceled":
                task.status, task.progress = "CANCELED", None
                return
        task.step, task.status, task.progress = next_step, status, progress

    async def _output(self, request: Request) -> Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        task_id = request.path_params["task_id"]
        refused = self.refuse_output(request, task_id)
        if refused is not None:
            return refused
        with self._lock:
            task = self.tasks.get(task_id)
        if task is None or task.status != "SUCCEEDED":
            return Response(status_code=404)
        return Response(self.video_bytes(task.output_ratio), media_type="video/mp4")

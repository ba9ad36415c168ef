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

What a test can script: ``inject(status, count)`` answers the next requests with bursts of 429 or
503 (``Retry-After`` optional); ``delay`` makes every answer slow; ``hold_at =
"RUNNING"`` (or another unfinished status) stops every task there until it is cleared. A prompt
can steer its own task: ``[fail=SAFETY.INPUT.TEXT]`` (or ``[fail]``) ends it FAILED with that
code, ``[canceled]`` ends it CANCELED (the US spelling some clients use).
``creations`` counts tasks created; ``requests`` records every request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgen.media.video import Mp4Writer

API_VERSION = "2024-11-06"
FAKE_KEY = "key_" + "0123456789abcdef" * 8
MAX_DATA_URI = 5 * 1024 * 1024
SEED_MAX = 4_294_967_295

MODELS: dict[str, dict[str, Any]] = {
    "gen4_turbo": {
        "ratios": {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"},
        "durations": set(range(2, 11)),
        "positions": {"first"},
    },
    "gen3a_turbo": {
        "ratios": {"1280:768", "768:1280"},
        "durations": {5, 10},
        "positions": {"first", "last"},
    },
}
GEN45_RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}
#: The other endpoints' models, each with its fields (required ones first, in ``required``) and
#: its ratios; ``output`` is the frame the fake answers with where the body names no ratio.
ENDPOINT_MODELS: dict[str, dict[str, dict[str, Any]]] = {
    "text_to_video": {
        "gen4.5": {
            "required": {"promptText", "ratio"},
            "fields": {"duration", "seed", "contentModeration"},
            "ratios": {"1280:720", "720:1280"},
            "durations": set(range(2, 11)),
        },
    },
    "image_to_video": {
        "gen4.5": {
            "required": {"promptImage", "ratio"},
            "fields": {"promptText", "duration", "seed", "contentModeration"},
            "ratios": GEN45_RATIOS,
            "durations": set(range(2, 11)),
        },
    },
    "video_to_video": {
        "aleph2": {
            "required": {"videoUri"},
            "fields": {"promptText", "keyframes", "seed", "ratio", "contentModeration"},
            "output": "1280:720",
        },
    },
    "character_performance": {
        "act_two": {
            "required": {"character", "reference"},
            "fields": {"ratio", "seed", "bodyControl", "expressionIntensity", "contentModeration"},
            "ratios": GEN45_RATIOS,
        },
    },
    "video_upscale": {
        "magnific_video_upscaler_creative": {
            "required": {"videoUri"},
            "fields": {"creativity", "flavor", "fpsBoost", "resolution", "sharpen", "smartGrain"},
            "output": "2560:1440",
        },
        "enhance_frame_rate": {
            "required": {"videoUri", "targetFramerate"},
            "fields": set(),
            "output": "1280:720",
        },
    },
}
FIELDS = {"model", "promptImage", "ratio", "duration", "promptText", "seed", "contentModeration"}
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
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


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


@dataclass
class FakeRunway:
    api_key: str = FAKE_KEY
    output_ttl: float = 3600.0
    delay: float = 0.0
    hold_at: str | None = None
    base_url: str = ""
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    creations: int = 0
    _faults: deque[tuple[int, str, str | None, Any]] = field(default_factory=deque)
    _videos: dict[str, bytes] = field(default_factory=dict)
    _expired: bool = False
    _secret: bytes = field(default_factory=lambda: uuid.uuid4().bytes)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    # -- control, from the test's thread -----------------------------------------------------

    def inject(
        self,
        status: int,
        count: int = 1,
        *,
        path: str = "/v1/",
        retry_after: str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``count`` requests under ``path`` with ``status`` (and ``body``)."""
        with self._lock:
            self._faults.extend([(status, path, retry_after, body)] * count)

    def expire_outputs(self) -> None:
        self._expired = True

    def reset(self) -> None:
        with self._lock:
            self.tasks.clear()
            self.requests.clear()
            self._faults.clear()
            self.creations = 0
            self.delay = 0.0
            self.hold_at = None
            self.api_key = FAKE_KEY
            self.output_ttl = 3600.0
            self._expired = False

    def seen(self, method: str, prefix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def video_bytes(self, ratio: str) -> bytes:
        """The MP4 this fake returns for ``ratio``: real H.264, an eighth of the size, 1 s."""
        with self._lock:
            if ratio not in self._videos:
                width, height = (int(n) // 8 for n in ratio.split(":"))
                with TemporaryDirectory() as tmp:
                    path = Path(tmp) / "out.mp4"
                    with Mp4Writer(path, width=width, height=height, fps=24) as writer:
                        for i in range(24):
                            frame = np.full((height, width, 3), (i * 10, 80, 200 - i * 5), np.uint8)
                            writer.write_rgb(frame)
                    self._videos[ratio] = path.read_bytes()
            return self._videos[ratio]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeRunway:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake Runway server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

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
        with self._lock:
            self.requests.append(Recorded(request.method, request.url.path, headers, body))
            fault = None
            if self._faults and request.url.path.startswith(self._faults[0][1]):
                fault = self._faults.popleft()
            delay = self.delay
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            status, _, retry_after, body = fault
            extra = {"Retry-After": retry_after} if retry_after is not None else {}
            body = body if body is not None else {"error": f"injected {status}"}
            return JSONResponse(body, status_code=status, headers=extra)
        if request.url.path.startswith("/outputs/"):
            return None
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
        issues = validate_endpoint(endpoint, body)
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
            answer = task.as_json(self._output_url(task))
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

    def _output_url(self, task: FakeTask) -> str:
        expires = int(time.time() + self.output_ttl)
        sig = hmac.new(self._secret, f"{task.id}:{expires}".encode(), hashlib.sha256).hexdigest()
        return f"{self.base_url}/outputs/{task.id}.mp4?exp={expires}&sig={sig}"

    async def _output(self, request: Request) -> Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        task_id = request.path_params["task_id"]
        expires = request.query_params.get("exp", "0")
        sig = hmac.new(self._secret, f"{task_id}:{expires}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, request.query_params.get("sig", "")):
            return Response("<Error><Code>AccessDenied</Code></Error>", status_code=403)
        if self._expired or time.time() > int(expires):
            return Response("<Error><Code>Request has expired</Code></Error>", status_code=403)
        with self._lock:
            task = self.tasks.get(task_id)
        if task is None or task.status != "SUCCEEDED":
            return Response(status_code=404)
        return Response(self.video_bytes(task.output_ratio), media_type="video/mp4")


def validate_endpoint(endpoint: str, body: object) -> list[dict[str, Any]]:
    """Runway's checks on a create body at ``POST /v1/<endpoint>``: the seed-era models on
    image_to_video as ``validate_create``; every other model by its required and known fields,
    its ratios and durations, and its assets (data URIs of the right kind, under 5 MiB)."""
    if not isinstance(body, dict):
        return [{"message": "Expected an object", "path": []}]
    models = ENDPOINT_MODELS.get(endpoint, {})
    if endpoint == "image_to_video" and body.get("model") in MODELS:
        return validate_create(body)
    model = models.get(body.get("model"))  # type: ignore[arg-type]
    if model is None:
        known = [*models, *(MODELS if endpoint == "image_to_video" else ())]
        return [{"message": f"Invalid enum value. Expected {' | '.join(known)}", "path": ["model"]}]
    issues: list[dict[str, Any]] = []

    def issue(path: str, message: str) -> None:
        issues.append({"message": message, "path": [path]})

    for name in model["required"] - body.keys():
        issue(name, "Required")
    for name in body.keys() - model["required"] - model["fields"] - {"model"}:
        issue(name, "Unrecognized key")
    if "ratio" in body and body["ratio"] not in model.get("ratios", {body["ratio"]}):
        issue("ratio", f"Invalid enum value. Expected {' | '.join(sorted(model['ratios']))}")
    if "durations" in model and body.get("duration", 5) not in model["durations"]:
        issue("duration", "Invalid duration")
    seed = body.get("seed", 0)
    if not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        issue("seed", f"Number must be between 0 and {SEED_MAX}")
    text = body.get("promptText")
    if text is not None and (not isinstance(text, str) or not text):
        issue("promptText", "String must contain between 1 and 1000 UTF-16 code units")
    assets: list[tuple[str, object, str]] = []
    if "videoUri" in body:
        assets.append(("videoUri", body["videoUri"], "video"))
    if isinstance(body.get("promptImage"), str):
        assets.append(("promptImage", body["promptImage"], "image"))
    for name in ("character", "reference"):
        item = body.get(name)
        if name in body and (
            not isinstance(item, dict) or item.get("type") not in ("image", "video")
        ):
            issue(name, "Expected {type: image | video, uri}")
        elif isinstance(item, dict):
            assets.append((name, item.get("uri"), str(item["type"])))
    if isinstance(body.get("reference"), dict) and body["reference"].get("type") != "video":
        issue("reference", "Invalid literal value, expected video")
    for i, keyframe in enumerate(body.get("keyframes") or []):
        if not isinstance(keyframe, dict) or not isinstance(keyframe.get("seconds"), int | float):
            issue("keyframes", f"keyframes[{i}] needs seconds and uri")
        else:
            assets.append(("keyframes", keyframe.get("uri"), "image"))
    for name, uri, kind in assets:
        problem = asset_problem(uri, kind)
        if problem:
            issue(name, problem)
    return issues


def validate_create(body: object) -> list[dict[str, Any]]:
    """Runway's checks on a create body, as ``issues`` (empty when the body is fine)."""
    if not isinstance(body, dict):
        return [{"message": "Expected an object", "path": []}]
    issues: list[dict[str, Any]] = []

    def issue(path: str, message: str) -> None:
        issues.append({"message": message, "path": [path]})

    for name in body.keys() - FIELDS:
        issue(name, "Unrecognized key")
    model = MODELS.get(body.get("model"))  # type: ignore[arg-type]
    if model is None:
        issue("model", f"Invalid enum value. Expected {' | '.join(MODELS)}")
        return issues
    if body.get("ratio") not in model["ratios"]:
        issue("ratio", f"Invalid enum value. Expected {' | '.join(sorted(model['ratios']))}")
    duration = body.get("duration", 10)
    if not isinstance(duration, int) or duration not in model["durations"]:
        issue("duration", "Invalid duration")
    seed = body.get("seed", 0)
    if not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        issue("seed", f"Number must be between 0 and {SEED_MAX}")
    text = body.get("promptText")
    if text is not None and (
        not isinstance(text, str) or not text or len(text.encode("utf-16-le")) // 2 > 1000
    ):
        issue("promptText", "String must contain between 1 and 1000 UTF-16 code units")
    images = body.get("promptImage")
    if isinstance(images, str):
        images = [{"uri": images, "position": "first"}]
    if not isinstance(images, list) or not images:
        issue("promptImage", "Required")
        return issues
    positions = [image.get("position") for image in images if isinstance(image, dict)]
    if len(positions) != len(images) or len(set(positions)) != len(positions):
        issue("promptImage", "Each position may appear once")
    for image in images:
        if not isinstance(image, dict):
            continue
        if image.get("position") not in model["positions"]:
            issue("promptImage", f"Invalid position {image.get('position')!r} for this model")
        problem = asset_problem(image.get("uri"))
        if problem:
            issue("promptImage", problem)
    return issues


def asset_problem(uri: object, kind: str = "image") -> str | None:
    """Runway's rules for one image (or video) asset (its 'Inputs' page)."""
    if not isinstance(uri, str):
        return "Invalid URL"
    if uri.startswith("data:"):
        if len(uri) >= MAX_DATA_URI:
            return "Data URI must be under 5MB"
        header, _, payload = uri[5:].partition(",")
        media_type = header.split(";")[0]
        allowed = (
            ("video/mp4", "video/quicktime", "video/webm")
            if kind == "video"
            else ("image/png", "image/jpeg", "image/jpg", "image/webp")
        )
        if media_type not in allowed:
            return "Unsupported asset type"
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return "Invalid data URI."
        return None
    if not uri.startswith("https://"):
        return "Only HTTPS URLs are allowed."
    host = uri[8:].split("/")[0].split(":")[0]
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return "URLs must be hosted on a domain."

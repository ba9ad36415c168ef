"""What the stand-ins of the model hosts (Replicate, fal, the Gemini API) share: a real uvicorn on
loopback in a thread, a record of every request, scripted faults, the walk of a job through its
states one step per poll, and output links that expire.

A stand-in subclasses ``FakeHost``, declares its routes (``routes``), and writes each answer in
its provider's published shape. What every one of them lets a test script:

- ``inject(status, count, path=…, retry_after=…, body=…)``: the next ``count`` requests under
  ``path`` are answered with ``status`` (429 and 503 bursts, a 402, a 422 refusal…);
- ``hold = True``: every job stops in its running state until it is cleared;
- ``output_ttl``: output links expire after this many seconds (``expire_outputs()``: at once);
- a prompt can steer its own job: ``[fail]`` ends it failed, ``[unsafe]`` ends it with the
  provider's safety refusal, ``[cancelled]`` ends it cancelled by the provider;
- ``creations`` counts the jobs created (the one number the crash tests care about);
- ``runs_alone = True``: jobs walk to their end on their own (not one step a poll; ``hold``
  still stops them) and the stand-in then calls the job's webhook, if its create named one, in
  its provider's shape (``send_hook``); ``hooks`` records each call's status. ``job.polls``
  counts the status reads either way.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgen.media.video import Mp4Writer

#: The frame size of every stand-in's video: small, real H.264, 1 s at 24 fps.
VIDEO_SIZE = (160, 90)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: str = ""


@dataclass
class FakeJob:
    """One job at the host. ``step`` walks 0 (queued) → 1…3 (running) → 4 (finished)."""

    id: str
    model: str
    body: dict[str, Any]
    created_at: float = field(default_factory=time.time)
    step: int = 0
    fate: str = "succeeded"  # how it ends, unless cancelled first: what its prompt asked
    outcome: str = "running"  # running, then succeeded, failed, unsafe or cancelled
    polls: int = 0
    hook: str | None = None  # the webhook URL its create named

    @property
    def progress(self) -> float:
        return min(self.step, 3) / 4

    @property
    def queued(self) -> bool:
        return self.outcome == "running" and self.step == 0


class FakeHost:
    """Base of the stand-ins. Subclasses implement ``routes``."""

    api_key: str = "fake-key"
    name = "fake host"

    def __init__(self) -> None:
        self.base_url = ""
        self.jobs: dict[str, FakeJob] = {}
        self.requests: list[Recorded] = []
        self.creations = 0
        self.hold = False
        self.runs_alone = False
        self.hooks: list[int] = []
        self.output_ttl = 3600.0
        self.key = self.api_key
        self._faults: deque[tuple[int, str, str | None, Any]] = deque()
        self._video: bytes | None = None
        self._expired = False
        self._secret = uuid.uuid4().bytes
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- control, from the test's thread -----------------------------------------------------

    def inject(
        self,
        status: int,
        count: int = 1,
        *,
        path: str = "/",
        retry_after: str | None = None,
        body: Any = None,
    ) -> None:
        with self._lock:
            self._faults.extend([(status, path, retry_after, body)] * count)

    def expire_outputs(self) -> None:
        self._expired = True

    def reset(self) -> None:
        with self._lock:
            self.jobs.clear()
            self.requests.clear()
            self._faults.clear()
            self.creations = 0
            self.hold = False
            self.runs_alone = False
            self.hooks.clear()
            self.output_ttl = 3600.0
            self.key = self.api_key
            self._expired = False

    def seen(self, method: str, prefix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def video_bytes(self) -> bytes:
        with self._lock:
            if self._video is None:
                width, height = VIDEO_SIZE
                with TemporaryDirectory() as tmp:
                    path = Path(tmp) / "out.mp4"
                    with Mp4Writer(path, width=width, height=height, fps=24) as writer:
                        for i in range(24):
                            frame = np.full((height, width, 3), (i * 10, 120, 40), np.uint8)
                            writer.write_rgb(frame)
                    self._video = path.read_bytes()
            return self._video

    def only_job(self) -> FakeJob:
        [job] = self.jobs.values()
        return job

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeHost:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{port}"
        app = Starlette(
            routes=[*self.routes(), Route("/outputs/{job_id}.mp4", self._output, methods=["GET"])]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        config.lifespan = "off"
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} stand-in did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    # -- for subclasses ----------------------------------------------------------------------

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.key}"

    def unauthorized(self) -> Response:
        return JSONResponse({"detail": "Invalid credentials"}, status_code=401)

    async def gate(self, request: Request) -> tuple[Response | None, Any]:
        """Record the request, answer an injected fault, check the key. Returns (a refusal or
        None, the JSON body)."""
        try:
            body = await request.json() if request.method == "POST" else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(
                Recorded(
                    request.method,
                    request.url.path,
                    dict(request.headers),
                    body,
                    request.url.query,
                )
            )
            fault = None
            if self._faults and request.url.path.startswith(self._faults[0][1]):
                fault = self._faults.popleft()
        if fault is not None:
            status, _, retry_after, fault_body = fault
            extra = {"Retry-After": retry_after} if retry_after is not None else {}
            answer = fault_body if fault_body is not None else {"detail": f"injected {status}"}
            return JSONResponse(answer, status_code=status, headers=extra), body
        if not request.url.path.startswith("/outputs/") and not self.authorized(request):
            return self.unauthorized(), body
        return None, body

    def send_hook(self, job: FakeJob) -> httpx.Response | None:
        """Call the job's webhook, in the provider's shape, now that it ended."""
        return None

    def _run_alone(self, job: FakeJob) -> None:
        while self.hold and job.outcome == "running":
            time.sleep(0.02)
        if job.outcome == "running":
            job.step = 4
            job.outcome = job.fate
        if job.hook is not None:
            answer = self.send_hook(job)
            with self._lock:
                self.hooks.append(answer.status_code if answer is not None else 0)

    def create(
        self, model: str, body: dict[str, Any], prompt: str, *, hook: str | None = None
    ) -> FakeJob:
        job = FakeJob(id=uuid.uuid4().hex[:16], model=model, body=body, hook=hook)
        for directive, fate in (("[fail]", "failed"), ("[unsafe]", "unsafe")):
            if directive in prompt:
                job.fate = fate
        if "[cancelled]" in prompt:
            job.fate = "cancelled"
        with self._lock:
            self.jobs[job.id] = job
            self.creations += 1
        if self.runs_alone:
            threading.Thread(target=self._run_alone, args=(job,), daemon=True).start()
        return job

    def advance(self, job: FakeJob) -> None:
        """One poll's step: queued → running ×3 → the job's fate. Held jobs stop at the first
        running step."""
        job.polls += 1
        if self.runs_alone or job.outcome != "running" or (self.hold and job.step >= 1):
            return
        job.step += 1
        if job.step >= 4:
            job.outcome = job.fate

    def output_url(self, job: FakeJob) -> str:
        expires = int(time.time() + self.output_ttl)
        sig = hmac.new(self._secret, f"{job.id}:{expires}".encode(), hashlib.sha256).hexdigest()
        return f"{self.base_url}/outputs/{job.id}.mp4?exp={expires}&sig={sig}"

    def output_allowed(self, request: Request) -> bool:
        """Whether a download may proceed beyond the link's signature (the Gemini stand-in
        also wants the key)."""
        return True

    async def _output(self, request: Request) -> Response:
        refused, _ = await self.gate(request)
        if refused is not None:
            return refused
        if not self.output_allowed(request):
            return JSONResponse({"error": {"code": 403, "message": "no key"}}, status_code=403)
        job_id = request.path_params["job_id"]
        expires = request.query_params.get("exp", "0")
        sig = hmac.new(self._secret, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, request.query_params.get("sig", "")):
            return Response("AccessDenied", status_code=403)
        if self._expired or time.time() > int(expires):
            return Response("Request has expired", status_code=403)
        job = self.jobs.get(job_id)
        if job is None or job.outcome != "succeeded":
            return Response(status_code=404)
        await asyncio.sleep(0)
        return Response(self.video_bytes(), media_type="video/mp4")

"""What the stand-ins of the model hosts (Replicate, fal, the Gemini API) share beyond what every
fake does (``tests.fakes.loopback``: the server, the record, scripted faults, expiring output
links): the key check, the walk of a job through its states one step per poll, and webhooks.

A stand-in subclasses ``FakeHost``, declares its routes (``routes``), and writes each answer in
its provider's published shape. What every one of them lets a test script, beyond ``inject``,
``output_ttl`` and ``expire_outputs()``:

- ``hold = True``: every job stops in its running state until it is cleared;
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
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackFake, tiny_mp4

#: The frame size of every stand-in's video: small, real H.264, 1 s at 24 fps.
VIDEO_SIZE = (160, 90)


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


class FakeHost(LoopbackFake):
    """Base of the stand-ins. Subclasses implement ``routes``."""

    api_key: str = "fake-key"
    name = "fake host"

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, FakeJob] = {}
        self.hold = False
        self.runs_alone = False
        self.hooks: list[int] = []
        self.key = self.api_key
        self._video: bytes | None = None

    # -- control, from the test's thread -----------------------------------------------------

    def _reset(self) -> None:
        super()._reset()
        self.jobs.clear()
        self.hold = False
        self.runs_alone = False
        self.hooks.clear()
        self.key = self.api_key

    def video_bytes(self) -> bytes:
        with self._lock:
            if self._video is None:
                self._video = tiny_mp4(*VIDEO_SIZE, lambda i: (i * 10, 120, 40))
            return self._video

    def only_job(self) -> FakeJob:
        [job] = self.jobs.values()
        return job

    def app(self) -> Starlette:
        return Starlette(
            routes=[*self.routes(), Route("/outputs/{job_id}.mp4", self._output, methods=["GET"])]
        )

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
        fault = self.admit(request, dict(request.headers), body)
        if fault is not None:
            return fault, body
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
        return self.signed_output_url(job.id)

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
        refused = self.refuse_output(request, job_id)
        if refused is not None:
            return refused
        job = self.jobs.get(job_id)
        if job is None or job.outcome != "succeeded":
            return Response(status_code=404)
        await asyncio.sleep(0)
        return Response(self.video_bytes(), media_type="video/mp4")

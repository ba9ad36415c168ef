"""What every fake provider server shares, Runway's and the model hosts' alike: a real uvicorn on
loopback in a thread, a record of every request, scripted faults, signed output links that
expire, tiny real MP4s, and ``reset`` between tests.

A fake subclasses ``LoopbackFake``, builds its app (``app``), passes each request through
``admit`` first (record it, answer an injected fault) and extends ``_reset`` with its own state.
What a test can script on any of them:

- ``inject(status, count, path=…, retry_after=…, body=…)``: the next ``count`` requests under
  ``path`` are answered with ``status`` (429 and 503 bursts, a 402, a 422 refusal…);
- ``output_ttl``: output links expire after this many seconds (``expire_outputs()``: at once);
- ``seen(method, prefix)``: the requests recorded; ``creations``: the jobs created.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Self

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from vidgen.media.video import Mp4Writer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: str = ""


def tiny_mp4(width: int, height: int, colour: Callable[[int], tuple[int, int, int]]) -> bytes:
    """A real H.264 MP4 of 1 s at 24 fps, frame ``i`` filled with ``colour(i)``."""
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.mp4"
        with Mp4Writer(path, width=width, height=height, fps=24) as writer:
            for i in range(24):
                writer.write_rgb(np.full((height, width, 3), colour(i), np.uint8))
        return path.read_bytes()


class LoopbackFake:
    """Base of the fakes. Subclasses implement ``app``."""

    name = "fake"
    #: Where ``inject`` aims when the test names no path.
    fault_path = "/"
    #: The key under which an injected fault without a body of its own says so, as the
    #: provider's own errors do.
    fault_key = "detail"
    #: What an output link answers with a bad signature, and once it expired (403 both).
    denied_text = "AccessDenied"
    expired_text = "Request has expired"

    def __init__(self) -> None:
        self.base_url = ""
        self.requests: list[Recorded] = []
        self.creations = 0
        self.output_ttl = 3600.0
        self._faults: deque[tuple[int, str, str | None, Any]] = deque()
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
        path: str | None = None,
        retry_after: str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``count`` requests under ``path`` with ``status`` (and ``body``)."""
        with self._lock:
            fault = (status, path or self.fault_path, retry_after, body)
            self._faults.extend([fault] * count)

    def expire_outputs(self) -> None:
        self._expired = True

    def reset(self) -> None:
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        """Back to a fresh fake (under the lock); subclasses clear their own state too."""
        self.requests.clear()
        self._faults.clear()
        self.creations = 0
        self.output_ttl = 3600.0
        self._expired = False

    def seen(self, method: str, prefix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # -- lifecycle ---------------------------------------------------------------------------

    def app(self) -> Starlette:
        raise NotImplementedError

    def start(self) -> Self:
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
                raise RuntimeError(f"the {self.name} stand-in did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    # -- for subclasses ----------------------------------------------------------------------

    def admit(self, request: Request, headers: dict[str, str], body: Any) -> Response | None:
        """Record the request; the injected fault that answers it, if one is due."""
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.url.path, headers, body, request.url.query)
            )
            fault = None
            if self._faults and request.url.path.startswith(self._faults[0][1]):
                fault = self._faults.popleft()
        if fault is None:
            return None
        status, _, retry_after, fault_body = fault
        extra = {"Retry-After": retry_after} if retry_after is not None else {}
        answer = fault_body if fault_body is not None else {self.fault_key: f"injected {status}"}
        return JSONResponse(answer, status_code=status, headers=extra)

    def signed_output_url(self, job_id: str) -> str:
        expires = int(time.time() + self.output_ttl)
        sig = hmac.new(self._secret, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()
        return f"{self.base_url}/outputs/{job_id}.mp4?exp={expires}&sig={sig}"

    def refuse_output(self, request: Request, job_id: str) -> Response | None:
        """A 403 for an output link that is not one of ours or has expired; None: it may go."""
        expires = request.query_params.get("exp", "0")
        sig = hmac.new(self._secret, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, request.query_params.get("sig", "")):
            return Response(self.denied_text, status_code=403)
        if self._expired or time.time() > int(expires):
            return Response(self.expired_text, status_code=403)
        return None

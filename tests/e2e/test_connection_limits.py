"""What one connection may hold, against a real ``vidgen serve`` on loopback with short limits
set through its settings: idle and slow ("slowloris") connections are closed, a body slower than
the minimum rate gets a 408, connections over the cap are refused with one warning, an endless
request head is refused, and the open-file limit is raised at start.

Each test opens a few dozen sockets at most. Nothing here measures time: a deadline only turns
"never closed" into a failure instead of a hang, and it is many times the configured timeouts.
"""

from __future__ import annotations

import json
import os
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_KEY, LiveServer, free_port, live_server_env

pytestmark = pytest.mark.slow

#: Many times the timeouts set below (1 s): only a server that never closes reaches it.
DEADLINE = 30.0
SHORT = {
    "VIDGEN_HEADER_TIMEOUT_SECONDS": "1",
    "VIDGEN_IDLE_TIMEOUT_SECONDS": "1",
    "VIDGEN_MIN_BODY_BYTES_PER_SECOND": "200",
}


class Server(LiveServer):
    """``vidgen serve`` started with a given open-file limit (soft, hard) when asked."""

    nofile: tuple[int, int] | None = None

    def start(self, *extra_args: str, timeout: float = 60.0) -> None:
        if self.nofile is None:
            super().start(*extra_args, timeout=timeout)
            return
        nofile = self.nofile
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vidgen.cli.main",
                "serve",
                "--port",
                str(self.port),
                *extra_args,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.output()[-4000:]}")


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(nofile: tuple[int, int] | None = None, **env: str) -> Server:
        port = free_port()
        root = tmp_path / f"server-{len(servers)}"
        server = Server(
            base_url=f"http://127.0.0.1:{port}",
            data_dir=root / "data",
            env=live_server_env(root / "data", **env),
            log_path=tmp_path / f"server-{len(servers)}.log",
            port=port,
        )
        server.nofile = nofile
        servers.append(server)
        server.start("--no-worker")
        return server

    yield start
    for server in servers:
        server.stop()


# -- raw sockets ---------------------------------------------------------------------------------


@dataclass
class Conn:
    """One raw client connection: what it sent first, what it trickles, what it got back."""

    sock: socket.socket
    name: str
    trickle: bytes = b""
    received: bytes = b""
    closed: bool = False
    sent_at: float = field(default_factory=time.monotonic)

    def poll(self) -> None:
        """Read what is there; note the server's close (EOF or reset)."""
        while not self.closed:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                self.closed = True
                return
            if not chunk:
                self.closed = True
            self.received += chunk

    def send_next(self, interval: float) -> None:
        if self.closed or not self.trickle or time.monotonic() - self.sent_at < interval:
            return
        self.sent_at = time.monotonic()
        try:
            self.sock.send(self.trickle)
        except OSError:
            self.closed = True


def connect(port: int, name: str, first: bytes = b"", trickle: bytes = b"") -> Conn:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if first:
        sock.sendall(first)
    sock.setblocking(False)
    return Conn(sock, name, trickle)


def wait_closed(conns: list[Conn], interval: float = 0.25) -> list[Conn]:
    """Keep the slow ones trickling until the server has closed every connection, or the
    deadline passes; the ones still open are returned."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        open_ = [c for c in conns if not c.closed]
        if not open_:
            return []
        select.select([c.sock for c in open_], [], [], interval / 2)
        for conn in open_:
            conn.poll()
            conn.send_next(interval)
    return [c for c in conns if not c.closed]


def still_open(conn: Conn) -> bool:
    conn.poll()
    return not conn.closed


def get(path: str, *, keep_alive: bool = True, headers: str = "") -> bytes:
    connection = "" if keep_alive else "Connection: close\r\n"
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n{connection}{headers}\r\n".encode()


def answers(server: LiveServer) -> bool:
    return httpx.get(server.base_url + "/health", timeout=10).status_code == 200


# -- the tests -----------------------------------------------------------------------------------


def test_idle_and_slow_connections_are_closed_and_the_server_still_answers(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(**SHORT)
    port = server.port
    create_head = (
        "POST /v2/video/generations HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: Bearer {TEST_KEY}\r\nContent-Type: application/json\r\n"
    )
    conns = (
        # Connected, and never a byte.
        [connect(port, f"idle {i}") for i in range(8)]
        # A request line, then one more header byte at a time, never the blank line.
        + [
            connect(port, f"slow head {i}", b"GET /health HTTP/1.1\r\nHost: t\r\n", b"X")
            for i in range(8)
        ]
        # Blank lines only (a parser skips them before a request, so no request ever begins).
        + [connect(port, f"blank lines {i}", b"\r\n", b"\r\n") for i in range(4)]
        # One request answered, then a keep-alive connection that says nothing more.
        + [connect(port, f"after a request {i}", get("/health")) for i in range(8)]
        # A body the endpoint never reads, trickled after the answer.
        + [
            connect(
                port,
                f"unread body {i}",
                b"POST /health HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n",
                b"x",
            )
            for i in range(4)
        ]
        # A create whose body comes a few bytes at a time.
        + [
            connect(
                port,
                f"slow body {i}",
                f"{create_head}Content-Length: 100000\r\n\r\n".encode(),
                b"{",
            )
            for i in range(4)
        ]
    )
    assert answers(server)  # while they are all held
    left_open = wait_closed(conns)
    assert [c.name for c in left_open] == []
    for conn in conns:
        if conn.name.startswith("after a request"):
            assert conn.received.startswith(b"HTTP/1.1 200")
        if conn.name.startswith("slow body"):
            assert conn.received.startswith(b"HTTP/1.1 408"), conn.received[:200]
    assert answers(server)
    assert "Traceback" not in server.output()


def test_a_body_slower_than_the_minimum_rate_is_refused_408_in_the_dialects_shape(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(**SHORT)
    cases = {
        "/v2/video/generations": lambda body: body["statusCode"] == 408,  # aimlapi
        "/v1/videos": lambda body: body["error"]["code"] == "request_timeout",  # OpenAI
    }
    for path, in_shape in cases.items():
        head = (
            f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TEST_KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"
        )
        conn = connect(server.port, path, head.encode(), b" ")
        assert wait_closed([conn]) == []
        head_bytes, _, body = conn.received.partition(b"\r\n\r\n")
        assert head_bytes.startswith(b"HTTP/1.1 408"), conn.received[:300]
        assert b"connection: close" in head_bytes.lower()
        assert in_shape(json.loads(body))
    assert answers(server)


def test_a_request_head_over_64_kib_is_refused_431(start_server: Callable[..., Server]) -> None:
    server = start_server(**SHORT)
    padding = "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(100))
    conns = [
        connect(server.port, "whole", get("/health", headers=padding)),
        # Never ends: one header that grows and grows.
        connect(server.port, "endless", b"GET /health HTTP/1.1\r\nX-Pad: " + b"a" * 100_000, b"a"),
    ]
    assert wait_closed(conns) == []
    for conn in conns:
        assert conn.received.startswith(b"HTTP/1.1 431"), (conn.name, conn.received[:200])
    assert answers(server)


def test_connections_over_the_cap_are_closed_with_one_warning_and_the_held_ones_answer(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(
        VIDGEN_MAX_CONNECTIONS="20",
        VIDGEN_IDLE_TIMEOUT_SECONDS="120",
        VIDGEN_HEADER_TIMEOUT_SECONDS="120",
    )
    # Twenty keep-alive connections, each answered once, so that the server holds them all.
    held = [connect(server.port, f"held {i}", get("/health")) for i in range(20)]
    for conn in held:
        conn.sock.setblocking(True)
        assert conn.sock.recv(65536).startswith(b"HTTP/1.1 200")
        conn.sock.setblocking(False)
    extra = [connect(server.port, f"extra {i}") for i in range(15)]
    assert [c.name for c in wait_closed(extra)] == []
    assert all(still_open(c) for c in held)
    # The held connections are still served while new ones are refused.
    for conn in held[:5]:
        conn.sock.setblocking(True)
        conn.sock.sendall(get("/health"))
        assert conn.sock.recv(65536).startswith(b"HTTP/1.1 200")
    warnings = [
        line
        for line in server.output().splitlines()
        if "VIDGEN_MAX_CONNECTIONS" in line and "warning" in line.lower()
    ]
    assert len(warnings) == 1, warnings  # one line, not one per refused connection
    for conn in held:
        conn.sock.close()
    deadline = time.monotonic() + DEADLINE
    while True:  # the server sees the closes a moment later
        try:
            if answers(server):
                break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def open_files_limit(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-file limit in /proc")


def test_the_soft_open_file_limit_is_raised_to_the_hard_one_at_start(
    start_server: Callable[..., Server],
) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard <= 512:
        pytest.skip(f"needs a finite hard open-file limit above 512 (it is {hard})")
    server = start_server(nofile=(512, hard))
    assert server.process is not None
    assert open_files_limit(server.process.pid) == (hard, hard)


def test_under_a_low_open_file_limit_the_cap_refuses_connections_instead_of_running_out(
    start_server: Callable[..., Server],
) -> None:
    """The field report: 1100 idle sockets under a 1024 limit stopped all service. Here the
    hard limit is 256, so the server cannot hold 300 connections; it must refuse the ones it
    cannot hold, and keep serving those it holds."""
    server = start_server(
        nofile=(256, 256), VIDGEN_IDLE_TIMEOUT_SECONDS="120", VIDGEN_HEADER_TIMEOUT_SECONDS="120"
    )
    assert server.process is not None
    conns = [connect(server.port, f"conn {i}", get("/health")) for i in range(300)]
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and not all(
        c.closed or c.received.startswith(b"HTTP/1.1 200") for c in conns
    ):
        select.select([c.sock for c in conns if not c.closed], [], [], 0.1)
        for conn in conns:
            conn.poll()
    served = [c for c in conns if c.received.startswith(b"HTTP/1.1 200")]
    refused = [c for c in conns if c.closed and not c.received]
    assert len(served) + len(refused) == len(conns)  # none left hanging
    assert served and refused
    assert len(os.listdir(f"/proc/{server.process.pid}/fd")) < 256
    assert "Too many open files" not in server.output()
    for conn in conns:
        conn.sock.close()

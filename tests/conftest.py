"""Shared fixtures: settings in a temp data dir, sample images, a loopback image server, and a
real ``vidgen serve`` subprocess on a free port."""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import av
import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.servers import PostgresCluster, S3Server, find_pg_bin_dir
from vidgen.settings import Settings

if TYPE_CHECKING:
    from tests.fakes.fal_server import FakeFal
    from tests.fakes.gemini_server import FakeGemini
    from tests.fakes.replicate_server import FakeReplicate
    from tests.fakes.runway_server import FakeRunway

TEST_KEY = "vg_test_key_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
OTHER_KEY = "vg_test_key_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def make_image(width: int = 640, height: int = 360, fmt: str = "PNG", seed: int = 0) -> bytes:
    """A small picture with structure (gradient, shapes), so motion and fitting are visible."""
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for y in range(height):
        shade = int(255 * y / max(1, height - 1))
        draw.line([(0, y), (width, y)], fill=(shade, (shade + 80 * seed) % 256, 255 - shade))
    for i in range(6):
        x = (i * 97 + seed * 31) % width
        y = (i * 53 + seed * 17) % height
        r = max(4, min(width, height) // (5 + i))
        draw.ellipse(
            [x - r, y - r, x + r, y + r], fill=((i * 40) % 256, 200 - i * 20, (seed * 50) % 256)
        )
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def make_video(
    width: int = 64,
    height: int = 36,
    frames: int = 24,
    fps: int = 24,
    fmt: str = "mp4",
    moving: bool = True,
) -> bytes:
    """A small H.264 video (VP9 in WebM) made with PyAV, not with vidgen's writer: a bright
    square that crosses the frame left to right, on a gradient, so motion is visible."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream("libx264" if fmt == "mp4" else "libvpx-vp9", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        base = np.asarray(Image.open(io.BytesIO(make_image(width, height))).convert("RGB"))
        side = max(2, height // 3)
        for index in range(frames):
            rgb = base.copy()
            x = round((width - side) * index / max(1, frames - 1)) if moving else 0
            rgb[height // 3 : height // 3 + side, x : x + side] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


@pytest.fixture
def png_bytes() -> bytes:
    return make_image()


@pytest.fixture
def png_data_uri(png_bytes: bytes) -> str:
    return data_uri(png_bytes)


@pytest.fixture(autouse=True)
def _no_provider_keys_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Runway key in the developer's environment would route tests to the real Runway."""
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)
    monkeypatch.delenv("RUNWAYML_BASE_URL", raising=False)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "api_keys": [TEST_KEY, OTHER_KEY],
        "fetch_allow_http": True,
        "fetch_allow_private": True,
        "lease_seconds": 5.0,
        "poll_interval": 0.2,
        "rate_limit_per_minute": 0,
        "log_format": "console",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


# -- a loopback HTTP server for input images ------------------------------------------------


@dataclass
class ImageServer:
    base_url: str
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def add(self, name: str, data: bytes, media_type: str = "image/png") -> str:
        self.files["/" + name] = (data, media_type)
        return f"{self.base_url}/{name}"


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    server_state = ImageServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.hits.append(self.path)
            item = server_state.files.get(self.path.split("?")[0])
            if item is None:
                self.send_error(404)
                return
            data, media_type = item
            self.send_response(200)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server_state
    httpd.shutdown()
    httpd.server_close()


# -- a real vidgen server in a subprocess ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    cwd: Path | None = None  # where it is started (the data dir may depend on it)

    def start(self, *extra_args: str, timeout: float = 60.0) -> None:
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
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, key: str = TEST_KEY) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


def live_server_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    # Nothing from the developer's shell may route a test to a real provider.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIDGEN_", "RUNWAYML_", "REPLICATE_", "FAL_", "GEMINI_"))
    }
    env.update(
        {
            "VIDGEN_DATA_DIR": str(data_dir),
            "VIDGEN_API_KEYS": f"{TEST_KEY},{OTHER_KEY}",
            "VIDGEN_FETCH_ALLOW_HTTP": "true",
            "VIDGEN_FETCH_ALLOW_PRIVATE": "true",
            "VIDGEN_LEASE_SECONDS": "4",
            "VIDGEN_POLL_INTERVAL": "0.2",
            "VIDGEN_RATE_LIMIT_PER_MINUTE": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[object]:
    servers: list[LiveServer] = []

    def make(**env_overrides: str) -> LiveServer:
        port = free_port()
        data_dir = tmp_path / f"server-{len(servers)}"
        server = LiveServer(
            base_url=f"http://127.0.0.1:{port}",
            data_dir=data_dir,
            env=live_server_env(data_dir, **env_overrides),
            log_path=tmp_path / f"server-{len(servers)}.log",
            port=port,
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def shared_server(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    keys: Iterable[str],
    *args: str,
    env: Mapping[str, str] | None = None,
) -> Iterator[LiveServer]:
    """A server for a whole module (one start-up, not one per test), with ``keys`` as its
    bootstrap keys: a test that lists or counts uses a key of its own, so the other tests'
    generations do not show. ``env`` adds settings. For a ``scope="module"`` fixture to yield
    from."""
    root = tmp_path_factory.mktemp(name)
    port = free_port()
    server = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=root / "data",
        env=live_server_env(root / "data", VIDGEN_API_KEYS=",".join(keys), **(env or {})),
        log_path=root / "server.log",
        port=port,
    )
    server.start(*args)
    yield server
    server.stop()


@pytest.fixture
def live_server(live_server_factory: object) -> Iterator[LiveServer]:
    server: LiveServer = live_server_factory()  # type: ignore[operator]
    server.start()
    yield server
    server.stop()


def wait_for_status(
    client: httpx.Client,
    generation_id: str,
    *,
    timeout: float = 60,
    final: tuple[str, ...] = ("completed", "error"),
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        body = client.get("/v2/video/generations", params={"generation_id": generation_id}).json()
        if body.get("status") in final:
            return body
        time.sleep(0.2)
    raise AssertionError(f"generation {generation_id} did not finish: {body}")


# -- a fake of Runway's API (tests/fakes/runway_server.py) ----------------------------------


@pytest.fixture(scope="session")
def fake_runway_server() -> Iterator[FakeRunway]:
    from tests.fakes.runway_server import FakeRunway

    fake = FakeRunway().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_runway(fake_runway_server: FakeRunway) -> FakeRunway:
    """The fake Runway, with no tasks, requests or scripted faults left from another test."""
    fake_runway_server.reset()
    return fake_runway_server


# -- stand-ins of the model hosts (tests/fakes/*_server.py) ----------------------------------


@pytest.fixture(scope="session")
def replicate_server() -> Iterator[FakeReplicate]:
    from tests.fakes.replicate_server import FakeReplicate

    fake = FakeReplicate().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_replicate(replicate_server: FakeReplicate) -> FakeReplicate:
    """The Replicate stand-in, with nothing left from another test."""
    replicate_server.reset()
    return replicate_server


@pytest.fixture(scope="session")
def fal_server() -> Iterator[FakeFal]:
    from tests.fakes.fal_server import FakeFal

    fake = FakeFal().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_fal(fal_server: FakeFal) -> FakeFal:
    """The fal stand-in, with nothing left from another test."""
    fal_server.reset()
    return fal_server


@pytest.fixture(scope="session")
def gemini_server() -> Iterator[FakeGemini]:
    from tests.fakes.gemini_server import FakeGemini

    fake = FakeGemini().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_gemini(gemini_server: FakeGemini) -> FakeGemini:
    """The Gemini API stand-in, with nothing left from another test."""
    gemini_server.reset()
    return gemini_server


# -- PostgreSQL and S3 on loopback (the scale-out tests) ------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the whole session, started on demand."""
    bin_dir = find_pg_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed; "
            "scripts/system-packages.sh installs Debian's postgresql"
        )
    cluster = PostgresCluster(bin_dir).init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PostgresCluster) -> str:
    """A migrated database that each test copies (CREATE DATABASE … TEMPLATE: ~0.2 s)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from vidgen.store.db import Database

    name = "vidgen_template"
    url = pg_cluster.create_database(name)

    async def migrate() -> None:
        db = Database(url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    # In a thread of its own: this fixture may be set up from inside a running event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate()).result()
    return name


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster, pg_template: str) -> str:
    """A fresh, migrated PostgreSQL database for one test."""
    return pg_cluster.create_database(template=pg_template)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    pytest.importorskip("moto.server", reason="moto is a dev dependency (pip install -e .[dev])")
    server = S3Server()
    server.start()
    yield server
    server.stop()

"""A scale-out deployment on one machine, for the acceptance tests: API processes (``vidgen
serve --no-worker``) and worker processes (``vidgen worker``), each a real subprocess that the
test can SIGKILL, SIGTERM and start again, sharing one database and one store."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.servers import free_port


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"\n==== start {self.starts + 1}\n".encode())
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "vidgen.cli.main", *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def is_ready(self) -> bool:
        """An API answers /health; a worker has logged that it started (this time)."""
        if self.port is not None:
            try:
                return httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        return "worker started" in self.output().rsplit(f"==== start {self.starts}\n", 1)[-1]

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is None or self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-4000:]}")
            if self.is_ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.output()[-4000:]}")

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.popen is not None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, and wait for the graceful exit; returns the exit status."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass
class Fleet:
    env: dict[str, str]
    root: Path
    apis: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)

    def _env(self, name: str, own_data_dir: bool) -> dict[str, str]:
        if not own_data_dir:
            return self.env
        return {**self.env, "VIDGEN_DATA_DIR": str(self.root / name)}

    def add_api(self, *, own_data_dir: bool = False) -> Process:
        port = free_port()
        name = f"api-{len(self.apis)}"
        proc = Process(
            name=name,
            args=["serve", "--no-worker", "--port", str(port)],
            env=self._env(name, own_data_dir),
            log_path=self.root / f"api-{len(self.apis)}.log",
            port=port,
        )
        self.apis.append(proc)
        return proc

    def add_worker(self, *args: str, own_data_dir: bool = False) -> Process:
        index = len(self.workers)
        proc = Process(
            name=f"worker-{index}",
            args=["worker", "--name", f"worker-{index}", *args],
            env=self._env(f"worker-{index}", own_data_dir),
            log_path=self.root / f"worker-{index}.log",
        )
        self.workers.append(proc)
        return proc

    def start_all(self, *, wait: bool = True) -> None:
        """Start every process at once (they race to migrate an empty database, which a
        PostgreSQL advisory lock or SQLite's single writer serialises)."""
        for proc in [*self.apis, *self.workers]:
            proc.start()
        if wait:
            self.wait_all()

    def wait_all(self) -> None:
        for proc in [*self.apis, *self.workers]:
            proc.wait_ready()

    def stop_all(self) -> None:
        running = [p for p in [*self.workers, *self.apis] if p.running and p.popen is not None]
        for proc in running:
            proc.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for proc in running:
            try:
                proc.popen.wait(timeout=30)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                proc.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in [*self.apis, *self.workers])


def fleet_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of every process: the test settings, JSON logs (the fleet looks for
    "worker started"), and no AWS_* variables, so only VIDGEN_S3_* can reach a bucket."""
    from tests.conftest import live_server_env

    env = live_server_env(data_dir, VIDGEN_LOG_FORMAT="json", **overrides)
    return {name: value for name, value in env.items() if not name.startswith("AWS_")}

"""Two real ``vidgen serve`` processes shared by the SDK and CLI tests of this package: one that
runs jobs, and one without workers, where every job stays queued until it is cancelled (for
timeouts, cancels and Ctrl-C, without racing a fast engine)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import OTHER_KEY, TEST_KEY, LiveServer, free_port, live_server_env

#: Keys of their own for tests that list, so that they see only their own generations.
LIST_KEY = "vg_client_list_key_cccccccccccccccccccccccccccc"
CLI_KEY = "vg_client_cli_key_dddddddddddddddddddddddddddddd"
KEYS = (TEST_KEY, OTHER_KEY, LIST_KEY, CLI_KEY)


def _server(tmp_path_factory: pytest.TempPathFactory, name: str) -> LiveServer:
    root = tmp_path_factory.mktemp(name)
    port = free_port()
    return LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=root / "data",
        env=live_server_env(root / "data", VIDGEN_API_KEYS=",".join(KEYS)),
        log_path=root / "server.log",
        port=port,
    )


@pytest.fixture(scope="package")
def working_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = _server(tmp_path_factory, "working")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = _server(tmp_path_factory, "idle")
    server.start("--no-worker")
    yield server
    server.stop()


@pytest.fixture(scope="package")
def broke_key(working_server: LiveServer) -> str:
    """A key with no credits, made the way an operator would."""
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidgen.cli.main",
            "keys",
            "create",
            "--name",
            "broke",
            "--credits",
            "0",
            "--data-dir",
            str(working_server.data_dir),
        ],
        env=working_server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


def client_env(server: LiveServer, key: str = CLI_KEY, **extra: str) -> dict[str, str]:
    """The environment a user of the CLI would have: where the server is, and a key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDGEN_", "AIMLAPI_"))}
    env.update(VIDGEN_BASE_URL=server.base_url, VIDGEN_API_KEY=key, PYTHONUNBUFFERED="1", **extra)
    return env

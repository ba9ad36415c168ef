"""The README's ``make serve``, and where it listens."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def serve_command(*variables: str, env: dict[str, str] | None = None) -> str:
    """The line ``make serve`` would run to start the server (``make -n`` runs nothing)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    plan = subprocess.run(
        ["make", "-n", "serve", *variables],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (line,) = [line for line in plan.splitlines() if "vidgen serve" in line]
    return line


def test_make_serve_listens_on_the_port_and_host_given_on_its_command_line() -> None:
    assert serve_command("PORT=8080", "HOST=0.0.0.0").endswith(
        "vidgen serve --host 0.0.0.0 --port 8080"
    )
    assert serve_command().endswith("vidgen serve --host 127.0.0.1 --port 8000")


def test_a_port_or_host_in_the_environment_does_not_move_it() -> None:
    # PaaS shells export PORT, some shells HOST (the machine's name): only `make serve PORT=…`
    # chooses.
    env = {"PATH": "/usr/bin:/bin", "PORT": "5000", "HOST": "build-box-7"}
    assert serve_command(env=env).endswith("vidgen serve --host 127.0.0.1 --port 8000")

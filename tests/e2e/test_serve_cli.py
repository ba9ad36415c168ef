"""``vidgen serve`` as a new user meets it: started with no settings at all, its banner read from
a log at 80 columns, and ``vidgen keys`` run from another directory against it."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, data_uri, free_port, live_server_env, make_image
from vidgen.cli.serve import SAMPLE_IMAGE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server started the README's way: no VIDGEN_* settings (so the data dir is the user's
    and a key is created), stdout to a log file, in a directory of its own."""
    root = tmp_path_factory.mktemp("first-start")
    xdg = root / "xdg"
    env = live_server_env(xdg / "vidgen", XDG_DATA_HOME=str(xdg), COLUMNS="80")
    for name in ("VIDGEN_DATA_DIR", "VIDGEN_API_KEYS"):
        del env[name]
    (root / "checkout").mkdir()
    port = free_port()
    server = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=xdg / "vidgen",
        env=env,
        log_path=root / "server.log",
        port=port,
        cwd=root / "checkout",
    )
    server.start()
    yield server
    server.stop()


def banner_commands(log: str) -> list[list[str]]:
    """The banner's commands, each as the shell would read it once pasted."""
    lines = log.splitlines()
    commands = []
    for i, line in enumerate(lines):
        if line.strip().startswith("curl "):
            text = line
            while text.endswith("\\"):
                i += 1
                text = text[:-1] + lines[i]
            commands.append(shlex.split(text))
    return commands


def test_the_banners_curl_lines_come_out_whole_in_a_log_at_80_columns(
    first_start: LiveServer,
) -> None:
    log = first_start.output()
    secret = re.search(r"shown only this once:\s*\n\s*(vg_\S+)", log)
    assert secret, log
    key = secret.group(1)
    create, poll = banner_commands(log)
    assert create[:3] == ["curl", "-s", f"{first_start.base_url}/v2/video/generations"]
    assert create[3:7] == [
        "-H",
        f"Authorization: Bearer {key}",
        "-H",
        "Content-Type: application/json",
    ]
    assert create[7] == "-d"
    assert json.loads(create[8])["image_url"] == SAMPLE_IMAGE
    assert poll[2] == f"{first_start.base_url}/v2/video/generations?generation_id=<id>"
    assert poll[3:] == ["-H", f"Authorization: Bearer {key}"]
    # The key it printed is the server's.
    answer = httpx.get(
        f"{first_start.base_url}/v1/account", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200


def keys(server: LiveServer, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``vidgen keys …`` as the same user, from another directory, with no settings."""
    return subprocess.run(
        [sys.executable, "-m", "vidgen.cli.main", "keys", *args],
        env=server.env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keys_run_from_another_directory_manage_the_running_servers_keys(
    first_start: LiveServer, tmp_path: Path
) -> None:
    created = keys(first_start, tmp_path, "create", "--name", "mobile-app", "--credits", "500")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    listed = keys(first_start, tmp_path, "list")
    assert "mobile-app" in listed.stdout and "default" in listed.stdout  # and the banner's key
    credited = keys(first_start, tmp_path, "credit", "mobile-app", "200")
    assert "now has 700 credits" in credited.stdout, credited.stderr
    with first_start.client(secret) as client:
        answer = client.post(
            "/v2/video/generations",
            json={"model": "runway/gen4_turbo", "image_url": data_uri(make_image())},
        )
    assert answer.status_code == 200, answer.text
    assert list(tmp_path.iterdir()) == []  # no database of its own was made here

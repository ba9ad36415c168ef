"""The README's shell recipes, run as written: what a new user copies and pastes."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, LiveServer, make_image

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SHELL_BLOCKS = re.findall(r"^```sh\n(.*?)^```", README, flags=re.M | re.S)
# Set by the shell or the system, not by the reader.
ENVIRONMENT = {"HOME", "PATH", "XDG_DATA_HOME"}


def test_every_variable_the_readmes_commands_use_is_set_there() -> None:
    used = {m for block in SHELL_BLOCKS for m in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", block)}
    assigned = {
        m for block in SHELL_BLOCKS for m in re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", block, re.M)
    }
    assert used, SHELL_BLOCKS
    assert used - ENVIRONMENT <= assigned, used - ENVIRONMENT - assigned
    # The key goes where the CLI and the SDK read it.
    assert "VIDGEN_API_KEY" in used and "VIDGEN_KEY" not in used


@pytest.mark.slow
def test_the_sample_program_recipe_runs_to_generation_complete(
    live_server: LiveServer, tmp_path: Path
) -> None:
    (recipe,) = [block for block in SHELL_BLOCKS if "tests/e2e/seed_example.py" in block]
    # A checkout to run it in: the program, the virtualenv, an image of the user's.
    (tmp_path / "tests" / "e2e").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "e2e" / "seed_example.py", tmp_path / "tests" / "e2e")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "summit.jpg").write_bytes(make_image(1280, 720, fmt="JPEG"))
    env = {**os.environ, "VIDGEN_API_KEY": TEST_KEY}
    run = subprocess.run(
        [
            "bash",
            "-euo",
            "pipefail",
            "-c",
            recipe.replace("http://127.0.0.1:8000", live_server.base_url),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "Generation complete" in run.stdout, run.stdout
    final = ast.literal_eval(run.stdout.split("Generation complete:/n", 1)[1].strip())
    assert final["status"] == "completed"
    assert "wikimedia" not in (tmp_path / "example.py").read_text()

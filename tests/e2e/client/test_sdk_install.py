"""``pip install vidgen-api`` without the ``server`` extra: the SDK and the client commands work
with only the base requirements installed, and use each of them.

A real install needs the network (or a wheel of every dependency), so the install is built
here from the packages of the test environment: a fresh virtualenv holding exactly the
distributions that the base requirements pull in (from their own metadata, recursively), and
vidgen's source. Anything else the SDK imported would be missing there."""

from __future__ import annotations

import json
import subprocess
import tomllib
import venv
from importlib.metadata import distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import LiveServer, make_image
from tests.e2e.client.conftest import client_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def base_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def closure(requirements: list[Requirement]) -> set[str]:
    """The distributions ``requirements`` install, found through each one's own metadata."""
    found: set[str] = set()
    todo = [(req, frozenset(req.extras)) for req in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        found.add(name)
        for text in distribution(name).requires or []:
            sub = Requirement(text)
            wanted = {""} | set(extras)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in wanted):
                todo.append((sub, frozenset(sub.extras)))
    return found


def install_only(names: set[str], target: Path) -> Path:
    """A virtualenv with these distributions (linked from this one's) and vidgen's source."""
    venv.create(target, with_pip=False, symlinks=True)
    (site,) = target.glob("lib/python*/site-packages")
    for name in names:
        dist = distribution(name)
        tops = {f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "__pycache__")}
        for top in tops:
            link = site / top
            if not link.exists():
                link.symlink_to(Path(str(dist.locate_file(top))))
    (site / "vidgen").symlink_to(ROOT / "vidgen")
    return target / "bin" / "python"


# Run inside the SDK-only install: a real round trip and the client commands' code, then the
# distributions that were imported.
PROBE = """
import json, sys
from importlib.metadata import packages_distributions
from vidgen.client import Client
import vidgen.cli.main
with Client() as client:
    models = [m.id for m in client.models.list()]
tops = {name.partition(".")[0] for name in sys.modules}
used = {d for top in tops for d in packages_distributions().get(top, [])}
print(json.dumps({"models": models, "used": sorted(used)}))
"""


def run(
    python: Path, *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_sdk_and_the_client_commands_need_only_the_base_requirements(
    working_server: LiveServer, tmp_path: Path
) -> None:
    python = install_only(closure(base_requirements()), tmp_path / "sdk-only")
    env = client_env(working_server)

    probe = run(python, "-c", PROBE, env=env, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout)
    assert "runway/gen4_turbo" in result["models"]

    image = tmp_path / "frame.png"
    image.write_bytes(make_image())
    out = tmp_path / "a.mp4"
    generate = run(
        python,
        "-m",
        "vidgen.cli.main",
        "generate",
        str(image),
        "-o",
        str(out),
        env=env,
        cwd=tmp_path,
    )
    assert generate.returncode == 0, generate.stderr
    assert out.stat().st_size > 0

    # Nothing is declared that the SDK and the client commands do not use.
    declared = {canonicalize_name(req.name) for req in base_requirements()}
    used = {canonicalize_name(name) for name in result["used"]}
    assert declared <= used, declared - used


def test_a_server_command_in_an_sdk_only_install_says_what_to_install(tmp_path: Path) -> None:
    python = install_only(closure(base_requirements()), tmp_path / "sdk-only")
    env = {"PATH": "/usr/bin:/bin", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    for command in (["serve"], ["keys", "list"], ["worker"]):
        result = run(python, "-m", "vidgen.cli.main", *command, env=env, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "pip install 'vidgen-api[server]'" in result.stderr
        assert "Traceback" not in result.stderr

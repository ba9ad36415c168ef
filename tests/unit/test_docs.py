"""The README and docs/architecture.md name only what exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_every_file_the_readme_links_or_names_is_in_the_repository() -> None:
    linked = re.findall(r"\]\(([^)#\s]+)\)", README)
    named = re.findall(r"`([\w./-]+\.(?:md|py|sh|toml))`", README)
    paths = {p for p in [*linked, *named] if not p.startswith(("http://", "https://"))}
    assert "docs/architecture.md" in paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == []


def test_the_architecture_document_covers_every_package() -> None:
    text = ARCHITECTURE.read_text()
    packages = sorted(
        p.name for p in (ROOT / "vidgen").iterdir() if p.is_dir() and (p / "__init__.py").exists()
    )
    assert packages and [p for p in packages if f"{p}/" not in text] == []
    # The modules it names are there.
    named = set(re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py)`", text))
    assert named
    missing = [n for n in named if not (ROOT / "vidgen" / n).exists() and not (ROOT / n).exists()]
    assert missing == []


def test_the_architecture_document_draws_the_layers_that_lint_imports_checks() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (checked,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    section = ARCHITECTURE.read_text().split("## The layers", 1)[1]
    diagram = section.split("```", 2)[1].strip().splitlines()
    # Each line: the layer as the contract spells it, then (two spaces on) what it is.
    drawn = [re.split(r"\s{2,}", line.strip())[0] for line in diagram]
    assert drawn == checked


def section(title: str) -> str:
    """A README section, from its heading to the next heading of the same level or above."""
    level = title.split(" ", 1)[0]
    start = README.index(f"\n{title}\n")
    ends = [README.find(f"\n{'#' * n} ", start + 1) for n in range(2, len(level) + 1)]
    return README[start : min([e for e in ends if e != -1], default=len(README))]


def test_every_route_of_the_openapi_document_is_in_the_readmes_route_lists(tmp_path: Path) -> None:
    from tests.conftest import make_settings
    from vidgen.api.app import create_app

    def shape(path: str) -> str:
        # `{job_id}`, `{id}` and `<key>` all name one path parameter; `…` ends a family.
        return re.sub(r"\{[^}]*\}|<[^>]*>", "{}", path).rstrip("…")

    # A path written bare (`/v1/text_to_video`) takes the method written last before it.
    lists = section("## API") + section("### Keys over HTTP: admin keys")
    named, method = set(), "GET"
    for found in re.finditer(r"`(?:(GET|POST|PUT|PATCH|DELETE) )?(/[^`\s?]*)", lists):
        method = found.group(1) or method
        named.add(f"{method} {shape(found.group(2))}")
    schema = create_app(make_settings(tmp_path / "data")).openapi()
    served = {f"{m.upper()} {shape(p)}" for p, ops in schema["paths"].items() for m in ops}
    assert sorted(served - named) == []

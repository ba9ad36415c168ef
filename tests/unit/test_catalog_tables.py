"""The README's model tables are the catalog's: written by ``vidgen models --markdown`` from the
catalog files, so a change to an entry that is not in the README fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vidgen.core.catalog import BUILTIN_MODELS
from vidgen.core.catalog_tables import END_MARKER, START_MARKER, markdown_tables

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_tables() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(START_MARKER) + len(START_MARKER)
    return text[start : text.index(END_MARKER)].strip()


def test_the_readmes_model_tables_are_the_catalogs() -> None:
    assert readme_tables() == markdown_tables(BUILTIN_MODELS).strip(), (
        "README.md's model tables differ from the catalog: run `vidgen models --markdown` and "
        "paste its output over the block between the markers"
    )


def test_every_listed_model_has_a_row_with_its_price() -> None:
    tables = readme_tables()
    for spec in BUILTIN_MODELS:
        row = next(line for line in tables.splitlines() if line.startswith(f"| `{spec.id}`"))
        assert f"{spec.durations[0]}" in row
        assert ("≈" in row) == spec.price_estimate, spec.id


def test_the_command_prints_the_tables_with_an_operators_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[[model]]\nid = "acme/loop-2"\ntitle = "Acme"\nsizes = { "1:1" = [400, 400] }\n'
        'default_ratio = "1:1"\ndurations = [2]\ndefault_duration = 2\n'
        'price = { per_second = "1" }\n',
        encoding="utf-8",
    )
    printed = subprocess.run(
        [sys.executable, "-m", "vidgen.cli.main", "models", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
        env={"VIDGEN_CATALOG_FILES": str(path), "PATH": "/usr/bin:/bin"},
    ).stdout
    assert printed.startswith(START_MARKER)
    assert "| `acme/loop-2` | image (+ last) | 1:1 400×400 | 2 s | 1/s | `preview` |" in printed
    assert "| `runway/gen4.5`" in printed


def test_a_model_hosts_models_are_tabled_as_the_hosts_not_as_open_weight() -> None:
    # Replicate's, fal's and the Gemini API's models are listed once their host's key is set;
    # they are not weights a GPU of yours runs.
    groups: dict[str, set[str]] = {}
    for line in markdown_tables(BUILTIN_MODELS).splitlines():
        if line.startswith("**"):
            title = line
            groups[title] = set()
        elif line.startswith("| `"):
            groups[title].add(line.split("`")[1])
    hosted = {spec.id for spec in BUILTIN_MODELS if spec.hosts}
    assert hosted
    for title, rows in groups.items():
        if "Open-weight" in title:
            assert rows and not rows & hosted
        if rows & hosted:
            assert rows == hosted and "host" in title

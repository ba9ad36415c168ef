"""Every command's ``--help``, as a user reads it at 80 columns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from vidgen.cli.main import app


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    # A group has subcommands (typer bundles its own click, so no isinstance on click's).
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


COMMANDS = list(command_paths(typer.main.get_command(app)))


def test_the_command_tree_is_walked() -> None:
    assert {("serve",), ("keys", "list"), ("models", "pull"), ("generate",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "vidgen")
def test_help_shows_flags_as_flags_and_every_option_help_whole(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, color=False)
    assert result.exit_code == 0, result.output
    # A flag takes no value: `--json <bool>` would read as if it wanted one.
    assert "<bool>" not in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    if "--data-dir" in result.output:
        # Text in brackets is help, not markup to be swallowed.
        assert "VIDGEN_DATA_DIR" in result.output

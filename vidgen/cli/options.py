"""Options shared by several commands, and how they become ``Settings``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from vidgen.settings import Settings

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Database, secrets and videos live here. [env: VIDGEN_DATA_DIR; default ./vidgen-data]",
        show_default=False,
    ),
]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with command-line options on top; exits on bad values."""
    from pydantic import ValidationError  # here, like Settings: only server commands need them

    from vidgen.settings import Settings

    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.secho(f"error: VIDGEN_{where.upper()}: {error['msg']}", err=True, fg="red")
        raise typer.Exit(2) from exc

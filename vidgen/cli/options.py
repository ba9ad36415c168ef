"""Options shared by several commands, and how they become ``Settings``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from vidgen.settings import Settings

__all__ = ["DataDir", "load_settings", "require_database", "require_server"]

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Database, secrets and videos live here. [env: VIDGEN_DATA_DIR; default: "
        "./vidgen-data if it exists here, else ~/.local/share/vidgen]",
        show_default=False,
    ),
]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with command-line options on top; exits on bad values.

    Every server command (serve, worker, keys, models pull) starts here, so this is where an
    install without the server (``pip install vidgen-api``: the SDK and the client commands)
    says what to install. A data dir chosen only because ``./vidgen-data`` exists here is said
    on stderr: another directory would choose another one."""
    try:  # here, not above: only server commands need them
        from pydantic import ValidationError

        from vidgen.settings import LEGACY_DATA_DIR, Settings, user_data_dir
    except ModuleNotFoundError as exc:
        require_server(exc)

    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.secho(f"error: VIDGEN_{where.upper()}: {error['msg']}", err=True, fg="red")
        raise typer.Exit(2) from exc
    if (
        "data_dir" not in settings.model_fields_set
        and settings.data_dir == LEGACY_DATA_DIR.resolve()
    ):
        typer.secho(
            f"note: using {settings.data_dir}, found in the current directory. Commands run "
            f"elsewhere use {user_data_dir()}: move it there, or set VIDGEN_DATA_DIR, to use "
            "it from anywhere.",
            err=True,
            fg="yellow",
        )
    return settings


def require_server(missing: ModuleNotFoundError) -> NoReturn:
    """Exit with what to install, for a server command run where only the SDK is installed."""
    typer.secho(
        f"error: this command runs the vidgen server, which is not installed here "
        f"(no module {missing.name!r}).",
        err=True,
        fg="red",
    )
    typer.echo(
        "Install it with: pip install 'vidgen-api[server]' (from a checkout: pip install -e "
        "'.[server]'). The SDK and the client commands (generate, status, list, cancel, "
        "models) need only the base install.",
        err=True,
    )
    raise typer.Exit(2) from missing


def require_database(settings: Settings) -> None:
    """Exit, saying where it looked, when the SQLite database does not exist: only ``vidgen
    serve`` creates one. A command that created it would silently start an empty vidgen, with
    keys the running server never sees. (A PostgreSQL database is made by its operator and
    named explicitly; every process migrates it.)"""
    from vidgen.store.db import sqlite_path

    path = sqlite_path(settings.resolved_database_url)
    if path is None or path.exists():
        return
    if settings.database_url:
        where = "VIDGEN_DATABASE_URL names it"
        fix = "Point VIDGEN_DATABASE_URL at the server's database"
    else:
        where = f"data dir {settings.data_dir}: {settings.data_dir_origin}"
        fix = "Set VIDGEN_DATA_DIR (or --data-dir) to the server's data dir"
    typer.secho(f"error: no vidgen database at {path} ({where}).", err=True, fg="red")
    typer.echo(
        f"{fix}, or run `vidgen serve` once to create it (`vidgen serve` shows its data dir).",
        err=True,
    )
    raise typer.Exit(2)

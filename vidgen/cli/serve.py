"""``vidgen serve``: the API, and by default an in-process worker pool, on one port."""

from __future__ import annotations

import shlex
import textwrap
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from vidgen import __version__
from vidgen.cli.options import DataDir, load_settings

if TYPE_CHECKING:
    from vidgen.wiring import Runtime

__all__ = ["SAMPLE_IMAGE", "banner", "serve"]

SAMPLE_IMAGE = (
    "https://upload.wikimedia.org/wikipedia/commons/thumb/6/68/Liebener_Spitze_SW.JPG/"
    "1280px-Liebener_Spitze_SW.JPG"
)


def banner(
    runtime: Runtime, base_url: str, console: Console, *, new_database: bool = False
) -> None:
    """What a person starting the server needs: where it listens, where its data is, which
    engine serves which model, and (on a first start) a key with commands to try it."""
    settings = runtime.settings
    console.print(
        f"[bold]vidgen {__version__}[/] serving on [cyan]{base_url}[/]  "
        f"(playground: {base_url}/  ·  API docs: {base_url}/docs)"
    )
    database = "SQLite (WAL)" if runtime.db.is_sqlite else runtime.db.dialect
    if new_database:
        database += ", created now"
    console.print(f"  data dir {settings.data_dir.resolve()}  ·  database {database}")
    workers = (
        f"{settings.worker_concurrency} worker slots in this process"
        if settings.run_worker
        else "no worker (API only)"
    )
    console.print(f"  {workers}")
    # By engine: with today's catalog, one line per model repeated the engine's note ~45 times.
    by_engine: dict[str, list[str]] = {}
    for model, engine in runtime.service.routing().items():
        by_engine.setdefault(engine, []).append(model)
    console.print("  models, by engine:")
    for engine, models in by_engine.items():
        note = runtime.engines[engine].description
        count = f"{len(models)} model{'' if len(models) == 1 else 's'}"
        console.print(f"    → {engine} ({count})" + (f"  [dim]{note}[/]" if note else ""))
        for line in textwrap.wrap(", ".join(models), width=72, break_on_hyphens=False):
            console.print(f"      {line}", highlight=False)
    for _key, secret in runtime.created_keys:
        body = (
            '{"model": "runway/gen4_turbo", "prompt": "slow zoom in on the summit", '
            f'"image_url": "{SAMPLE_IMAGE}"}}'
        )
        console.print(
            "\n  No API key existed, so one was created. It is shown only this once:\n"
            f"    [bold green]{secret}[/]\n\n  Try it:\n"
            f"    curl -s {base_url}/v2/video/generations \\\n"
            f"      -H 'Authorization: Bearer {secret}' -H 'Content-Type: application/json' \\\n"
            f"      -d {shlex.quote(body)}\n"
            f"    curl -s '{base_url}/v2/video/generations?generation_id=<id>' -H 'Authorization: Bearer {secret}'"
        )
    console.print("", highlight=False)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    data_dir: DataDir = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the API only; run `vidgen worker` elsewhere.")
    ] = False,
) -> None:
    """Run the API server (and, unless --no-worker, the workers) with the embedded defaults."""
    settings = load_settings(data_dir=data_dir, run_worker=False if no_worker else None)
    # Imported here, not above: the server stack takes seconds to load, and every other
    # command (vidgen status, generate…) would pay for it at start-up.
    import uvicorn

    from vidgen.api.app import create_app
    from vidgen.api.connections import ConnectionLimits, guarded_protocol, raise_open_file_limit
    from vidgen.configuration import ConfigurationError, check_configuration
    from vidgen.logs import configure_logging
    from vidgen.store.db import sqlite_path

    configure_logging(settings.log_level, settings.log_format)
    try:
        check_configuration(settings)
    except ConfigurationError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc

    display_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{display_host}:{port}"
    # Soft wrap: a line is never broken by the console, only (visually) by a terminal, so the
    # curl lines stay whole and pasteable in a log file, a journal or an 80-column terminal.
    console = Console(soft_wrap=True)
    database_file = sqlite_path(settings.resolved_database_url)
    new_database = database_file is not None and not database_file.exists()
    app = create_app(
        settings,
        on_started=lambda runtime: banner(runtime, base_url, console, new_database=new_database),
        bootstrap_key=True,
    )
    limits = ConnectionLimits.for_process(settings, raise_open_file_limit())
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    uvicorn.Server(config).run()

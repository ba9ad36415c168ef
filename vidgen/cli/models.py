"""``vidgen models``: what a server offers, at what price; ``vidgen models pull ID`` downloads
an open-weight model's weights onto this machine (``weights.py``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vidgen.cli import weights
from vidgen.cli.remote import (
    ApiKey,
    BaseUrl,
    JsonOutput,
    connect,
    out,
    print_json,
    reporting_errors,
)
from vidgen.client import Model

__all__ = ["app"]

# The service uses the default ratio only when it has nothing to go by: with an image and no
# aspect_ratio, the image's own shape picks the nearest ratio.
DEFAULT_RATIO_NOTE = (
    "* the default ratio: used when a request gives no aspect_ratio and no image to take it from."
)


def _row(model: Model) -> list[str]:
    name = f"[bold]{escape(model.id)}[/]"
    if model.aliases:
        name += "\n[dim]" + escape(", ".join(model.aliases)) + "[/]"
    ratios = [
        f"{ratio} {size}" + (" *" if ratio == model.default_aspect_ratio else "")
        for ratio, size in model.aspect_ratios.items()
    ]
    durations = ", ".join(f"{d} s" for d in model.durations)
    credits = ", ".join(f"{seconds} s: {price}" for seconds, price in sorted(model.credits.items()))
    return [name, escape(model.engine or ""), "\n".join(ratios), durations, credits]


Markdown = Annotated[
    bool,
    typer.Option(
        "--markdown",
        help="Print this installation's catalog (vidgen's entries and VIDGEN_CATALOG_FILES) as "
        "the README's Markdown tables, without asking a server. Needs the server extra.",
    ),
]


def markdown() -> None:
    """The catalog as the README's tables: read here, not from a server, so that the README is
    written from the catalog files themselves."""
    # Imported here: the rest of this command is the client's, which runs without the server
    # extra (pydantic, the catalog's loader).
    from vidgen.core.catalog import BUILTIN_MODELS
    from vidgen.core.catalog_files import CatalogFileError, load_files, merge
    from vidgen.core.catalog_tables import END_MARKER, START_MARKER, markdown_tables
    from vidgen.settings import Settings

    try:
        specs = merge(BUILTIN_MODELS, load_files(Settings().catalog_files))
    except CatalogFileError as exc:
        typer.echo(f"VIDGEN_CATALOG_FILES: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("\n".join([START_MARKER, markdown_tables(specs), END_MARKER]))


def models(
    as_json: JsonOutput = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List the server's models: ratios (output size; * = default), durations, credits."""
    with connect(base_url, api_key) as client, reporting_errors(as_json=as_json):
        found = client.models.list()
    if as_json:
        print_json({"object": "list", "data": [model.raw for model in found]})
        return
    table = Table("model", "engine", "aspect ratios", "durations", "credits", show_lines=True)
    for model in found:
        table.add_row(*_row(model))
    out.print(table)
    if any(model.default_aspect_ratio for model in found):
        out.print(DEFAULT_RATIO_NOTE)


app = typer.Typer(
    help="What a server offers; `pull` downloads open weights for this machine.",
    rich_markup_mode=None,  # plain help: see main.py
)


@app.callback(invoke_without_command=True)
def models_group(
    ctx: typer.Context,
    as_json: JsonOutput = False,
    as_markdown: Markdown = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List the server's models: ratios (output size; * = default), durations, credits.
    `vidgen models --markdown` prints this installation's catalog as Markdown tables.
    `vidgen models pull ID` downloads an open-weight model for the diffusers engine."""
    if ctx.invoked_subcommand is None and as_markdown:
        markdown()
    elif ctx.invoked_subcommand is None:
        models(as_json=as_json, base_url=base_url, api_key=api_key)


app.command("pull")(weights.pull)

"""``vidgen status``, ``vidgen list`` and ``vidgen cancel``: a key's generations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from vidgen.cli.remote import (
    ApiKey,
    BaseUrl,
    JsonOutput,
    connect,
    err,
    out,
    print_json,
    reporting_errors,
)
from vidgen.client import Generation, GenerationPage

__all__ = ["cancel", "list_generations", "status"]

GenerationId = Annotated[
    str, typer.Argument(metavar="ID", help="The generation id.", show_default=False)
]
StatusFilter = Literal["queued", "generating", "completed", "error"]

_STATUS_STYLE = {"completed": "green", "error": "red", "generating": "cyan", "queued": "yellow"}


def _status(generation: Generation) -> str:
    style = _STATUS_STYLE.get(generation.status, "")
    text = escape(generation.status or "?")
    if generation.status == "generating" and generation.progress is not None:
        text += f" {generation.progress:.0%}"
    return f"[{style}]{text}[/]" if style else text


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _details(generation: Generation) -> list[tuple[str, str]]:
    usage = generation.usage
    credits = f"{usage.credits_used:g}" if usage and usage.credits_used is not None else None
    error = generation.error
    rows: list[tuple[str, str | None]] = [
        ("id", escape(generation.id)),
        ("status", _status(generation)),
        ("model", generation.model),
        ("engine", generation.engine),
        ("aspect ratio", generation.aspect_ratio),
        ("duration", f"{generation.duration:g} s" if generation.duration else None),
        ("seed", None if generation.seed is None else str(generation.seed)),
        ("credits", credits),
        ("created", _when(generation.created_at)),
        ("completed", _when(generation.completed_at)),
        ("video", generation.video.url if generation.video else None),
        ("thumbnail", generation.thumbnail_url),
        ("error", f"[red]{escape(error.name)}[/]: {escape(error.message)}" if error else None),
    ]
    return [(name, value) for name, value in rows if value]


def status(
    generation_id: GenerationId,
    as_json: JsonOutput = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Show one generation: status, progress, settings, links, error."""
    with connect(base_url, api_key) as client, reporting_errors(as_json=as_json):
        generation = client.generations.get(generation_id)
    if as_json:
        print_json(generation.raw)
        return
    for name, value in _details(generation):
        # soft_wrap: a long signed link stays one line, so it can be copied whole.
        out.print(f"[bold]{name:<13}[/]{value}", soft_wrap=True)


def _page_table(page: GenerationPage) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    # The id is what a reader copies into the next command: never cut it short.
    table.add_column("id", no_wrap=True)
    for name in ("status", "model", "ratio", "length", "created"):
        table.add_column(name, overflow="fold")
    for generation in page:
        table.add_row(
            escape(generation.id),
            _status(generation),
            escape(generation.model or ""),
            generation.aspect_ratio or "",
            f"{generation.duration:g} s" if generation.duration else "",
            _when(generation.created_at),
        )
    return table


def list_generations(
    status: Annotated[
        StatusFilter | None, typer.Option("--status", help="Only generations in this status.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="How many.")] = 20,
    after: Annotated[
        str | None, typer.Option("--after", help="Continue after this cursor (from a page).")
    ] = None,
    as_json: JsonOutput = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List this key's generations, newest first."""
    with connect(base_url, api_key) as client, reporting_errors(as_json=as_json):
        page = client.generations.list(limit=limit, after=after, status=status)
    if as_json:
        print_json(
            {
                "object": "list",
                "data": [generation.raw for generation in page],
                "has_more": page.has_more,
                "next_cursor": page.next_cursor,
            }
        )
        return
    if not page.data:
        err.print("No generations" + (f" in status {status}." if status else " yet."))
        return
    out.print(_page_table(page))
    if page.has_more and page.next_cursor:
        err.print(f"[dim]More: vidgen list --after {page.next_cursor}[/]")


def cancel(
    generation_id: GenerationId,
    as_json: JsonOutput = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Cancel a generation: a queued one ends at once, a running one at its next check.

    Both are refunded. A finished generation is left as it is.
    """
    with connect(base_url, api_key) as client, reporting_errors(as_json=as_json):
        generation = client.generations.cancel(generation_id)
    if as_json:
        print_json(generation.raw)
    elif generation.succeeded:
        err.print(f"{generation.id} had already completed; nothing to cancel.")
    elif generation.error and generation.error.name != "Cancelled":
        err.print(f"{generation.id} had already ended: {generation.error.name}.")
    elif generation.is_final:
        err.print(f"{generation.id} is cancelled (credits refunded).")
    else:
        err.print(f"{generation.id} is {generation.status}; it stops at the engine's next check.")

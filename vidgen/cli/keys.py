"""``vidgen keys``: create, list, change, revoke and top up API keys, in the local database or,
with ``--base-url`` and ``VIDGEN_ADMIN_KEY``, on a server through its admin routes."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vidgen.cli.key_backends import ADMIN_KEY_ENV, KeyBackend, LocalKeys, RemoteKeys
from vidgen.cli.options import DataDir, load_settings, require_database

if TYPE_CHECKING:
    from vidgen.core.keys import ApiKey
    from vidgen.settings import Settings

__all__ = ["app"]

app = typer.Typer(
    help="Manage API keys (only a hash of each key is stored), in the local database or on a "
    "server (--base-url, with an admin key in VIDGEN_ADMIN_KEY).",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: see main.py
)
err = Console(stderr=True)
T = TypeVar("T")
Priority = typer.Option(
    "--priority",
    min=-1000,
    max=1000,
    help="Queue priority: higher-priority keys' jobs are claimed first; keys of equal priority "
    "take turns.",
)
ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help=f"Manage the keys of the vidgen server at this URL, with the admin key in "
        f"{ADMIN_KEY_ENV}, instead of the local database.",
        show_default=False,
    ),
]


def _with_keys(
    base_url: str | None, data_dir: Path | None, action: Callable[[KeyBackend], Awaitable[T]]
) -> T:
    if base_url is not None:
        admin_key = os.environ.get(ADMIN_KEY_ENV, "").strip()
        if not admin_key:
            err.print(f"[red]error:[/] --base-url needs an admin key in {ADMIN_KEY_ENV}")
            raise typer.Exit(2)
        return asyncio.run(_remote(base_url, admin_key, action))
    settings = load_settings(data_dir=data_dir)
    return asyncio.run(_local(settings, action))


async def _remote(base_url: str, admin_key: str, action: Callable[[KeyBackend], Awaitable[T]]) -> T:
    remote = RemoteKeys(base_url, admin_key)
    try:
        return await action(remote)
    finally:
        await remote.aclose()


async def _local(settings: Settings, action: Callable[[KeyBackend], Awaitable[T]]) -> T:
    # Imported here so that commands which never open the database start fast.
    from vidgen.store.db import Database
    from vidgen.store.keys import KeyStore

    require_database(settings)
    db = Database(settings.resolved_database_url)
    try:
        await db.migrate()
        return await action(LocalKeys(KeyStore(db), settings.link_secret()))
    finally:
        await db.dispose()


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="A label for the key.")],
    credits: Annotated[
        int | None, typer.Option("--credits", min=0, help="Starting balance; unlimited if omitted.")
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option("--max-concurrency", min=1, help="Jobs this key may run at once.")
    ] = None,
    priority: Annotated[int, Priority] = 0,
    admin: Annotated[
        bool,
        typer.Option("--admin", help="An admin key: it manages keys over HTTP (/v1/admin/keys)."),
    ] = False,
    rate_limit: Annotated[
        int | None,
        typer.Option(
            "--rate-limit-per-minute",
            min=0,
            help="Creates per minute for this key, instead of VIDGEN_RATE_LIMIT_PER_MINUTE.",
        ),
    ] = None,
    monthly_limit: Annotated[
        int | None,
        typer.Option(
            "--monthly-credit-limit", min=0, help="Net credits it may spend per calendar month."
        ),
    ] = None,
    base_url: ServerUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Create a key. Its secret is shown once; the last line of stdout is the key alone."""

    async def action(keys: KeyBackend) -> tuple[ApiKey, str, str]:
        return await keys.create(
            name,
            credits=credits,
            max_concurrency=max_concurrency,
            priority=priority,
            role="admin" if admin else "client",
            rate_limit_per_minute=rate_limit,
            monthly_credit_limit=monthly_limit,
        )

    key, secret, hook_secret = _with_keys(base_url, data_dir, action)
    balance = "unlimited" if key.credits is None else str(key.credits)
    kind = "admin key" if key.is_admin else "key"
    typer.echo(
        f"Created {kind} {key.id} ({key.name}), credits: {balance}. Store it now; it is not "
        "shown again."
    )
    typer.echo(f"Webhook signing secret: {hook_secret}")
    typer.echo(secret)


def _key_json(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "credits": key.credits,
        "priority": key.priority,
        "max_concurrency": key.max_concurrency,
        "role": key.role,
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "monthly_credit_limit": key.monthly_credit_limit,
        "source": key.source,
        "active": key.active,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _keys_table(keys: list[ApiKey]) -> Table:
    """Fits in 80 columns: what a reader needs to pick a key and see its state. The name and the
    key's prefix (what the other commands take) are never cut, the name wraps if it must; the
    limits a key has are listed one to a line (none: "none"); the id and the source are in
    ``--json``."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    table.add_column("name", overflow="fold", min_width=8)
    table.add_column("key", no_wrap=True)
    table.add_column("role", no_wrap=True)
    table.add_column("credits", justify="right", no_wrap=True)
    table.add_column("limits", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for key in keys:
        table.add_row(
            escape(key.name),
            escape(key.prefix) + "…",
            key.role,
            "unlimited" if key.credits is None else str(key.credits),
            "\n".join(_limits(key)) or "none",
            key.created_at.strftime("%Y-%m-%d"),
            "active" if key.active else f"revoked\n{key.revoked_at:%Y-%m-%d}",
        )
    return table


def _limits(key: ApiKey) -> list[str]:
    """A key's limits and priority that differ from a plain key's, as short lines."""
    lines = [f"priority {key.priority}"] if key.priority else []
    if key.max_concurrency is not None:
        lines.append(f"{key.max_concurrency} jobs at once")
    if key.rate_limit_per_minute is not None:
        lines.append(f"{key.rate_limit_per_minute} creates/min")
    if key.monthly_credit_limit is not None:
        lines.append(f"{key.monthly_credit_limit} credits/mo")
    return lines


@app.command("list")
def list_keys(
    as_json: Annotated[
        bool, typer.Option("--json", help="Every field of every key, as JSON on stdout.")
    ] = False,
    base_url: ServerUrl = None,
    data_dir: DataDir = None,
) -> None:
    """List keys (never their secrets): name, key prefix, credits, limits, status."""

    async def action(store: KeyBackend) -> list[ApiKey]:
        return await store.all()

    keys = _with_keys(base_url, data_dir, action)
    if as_json:
        typer.echo(json.dumps([_key_json(key) for key in keys], indent=2))
    elif not keys:
        err.print("No keys yet: vidgen keys create --name NAME")
    else:
        Console(highlight=False).print(_keys_table(keys))


async def _find_one(store: KeyBackend, ident: str) -> ApiKey:
    """The one key ``ident`` names: its whole id, its name, or its prefix as ``keys list``
    shows it (with or without the "…"). Ids are never abbreviated, as in every command."""
    matches = await store.find(ident.removesuffix("…"))
    if not matches:
        err.print(
            f"[red]error:[/] no key matches {escape(repr(ident))} (give its whole id, its name "
            "or its prefix, as `vidgen keys list` shows them)"
        )
        raise typer.Exit(1)
    if len(matches) > 1:
        err.print(
            f"[red]error:[/] {len(matches)} keys match {escape(repr(ident))}; give the id "
            "(`vidgen keys list --json` shows it) or the prefix"
        )
        raise typer.Exit(1)
    return matches[0]


def _limit_or_none(option: str, value: str) -> int | None:
    """``none`` clears a limit; otherwise a whole number ≥ 0 (ASCII digits: ``isdigit`` alone
    would pass "²")."""
    text = value.strip()
    if text.lower() == "none":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        err.print(f"[red]error:[/] {option} takes a whole number ≥ 0, or none (not {value!r})")
        raise typer.Exit(2)
    return int(text)


@app.command("set")
def set_limits(
    ident: Annotated[str, typer.Argument(help="The key's whole id, its name or its prefix.")],
    priority: Annotated[int | None, Priority] = None,
    max_concurrency: Annotated[
        int | None,
        typer.Option("--max-concurrency", min=0, help="Jobs this key may run at once; 0: any."),
    ] = None,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            "--rate-limit-per-minute",
            metavar="N|none",
            help="Creates per minute for this key (0: no limit); none: the server's.",
        ),
    ] = None,
    monthly_limit: Annotated[
        str | None,
        typer.Option(
            "--monthly-credit-limit",
            metavar="N|none",
            help="Net credits it may spend per calendar month (UTC); none: no cap.",
        ),
    ] = None,
    base_url: ServerUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Change a key's priority, concurrency, rate or monthly credit limit (new jobs get the new
    priority)."""
    given = (priority, max_concurrency, rate_limit, monthly_limit)
    if all(value is None for value in given):
        err.print(
            "[red]error:[/] nothing to change: give --priority, --max-concurrency, "
            "--rate-limit-per-minute or --monthly-credit-limit"
        )
        raise typer.Exit(2)
    changes: dict[str, int | None] = {}
    if priority is not None:
        changes["priority"] = priority
    if max_concurrency is not None:
        changes["max_concurrency"] = max_concurrency or None
    if rate_limit is not None:
        changes["rate_limit_per_minute"] = _limit_or_none("--rate-limit-per-minute", rate_limit)
    if monthly_limit is not None:
        changes["monthly_credit_limit"] = _limit_or_none("--monthly-credit-limit", monthly_limit)

    async def action(store: KeyBackend) -> ApiKey:
        key = await _find_one(store, ident)
        return await store.configure(key.id, changes)

    key = _with_keys(base_url, data_dir, action)
    limit = "any" if key.max_concurrency is None else str(key.max_concurrency)
    typer.echo(f"Key {key.id} ({key.name}): priority {key.priority}, concurrency {limit}.")
    if rate_limit is not None or monthly_limit is not None:
        rate = (
            "the server's" if key.rate_limit_per_minute is None else f"{key.rate_limit_per_minute}"
        )
        monthly = "none" if key.monthly_credit_limit is None else f"{key.monthly_credit_limit}"
        typer.echo(f"Rate limit per minute: {rate}; monthly credit limit: {monthly}.")


@app.command("revoke")
def revoke(
    ident: Annotated[str, typer.Argument(help="The key's whole id, its name or its prefix.")],
    base_url: ServerUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Revoke a key: it stops working at once (within 2 s on every server process). Its
    generations are kept."""

    async def action(store: KeyBackend) -> ApiKey:
        key = await _find_one(store, ident)
        if key.active:
            await store.revoke(key.id)
        return key

    key = _with_keys(base_url, data_dir, action)
    typer.echo(
        f"Revoked key {key.id} ({key.name})."
        if key.active
        else f"Key {key.id} was already revoked."
    )


# A negative amount reads as an unknown option to click; this lets it through as the argument.
@app.command("credit", context_settings={"ignore_unknown_options": True})
def credit(
    ident: Annotated[str, typer.Argument(help="The key's whole id, its name or its prefix.")],
    amount: Annotated[
        int,
        typer.Argument(
            min=-(2**53),
            max=2**53,
            help="Credits to add; a negative amount takes them away (never below zero).",
        ),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, kept in the ledger with the amount.")
    ] = "vidgen keys credit",
    base_url: ServerUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Add credits to a key that has a balance, or take them away."""
    if not 1 <= len(reason) <= 500:
        err.print("[red]error:[/] --reason must be 1 to 500 characters")
        raise typer.Exit(2)

    async def action(store: KeyBackend) -> tuple[ApiKey, int | None]:
        key = await _find_one(store, ident)
        return key, await store.credit(key.id, amount, reason)

    key, balance = _with_keys(base_url, data_dir, action)
    if balance is None:
        typer.echo(f"Key {key.id} has unlimited credits; nothing to add.")
    else:
        typer.echo(f"Key {key.id} ({key.name}) now has {balance} credits.")

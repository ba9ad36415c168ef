"""``vidgen keys``: create, list, revoke and top up API keys."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from vidgen.cli.options import DataDir, load_settings
from vidgen.webhooks.signing import webhook_secret

if TYPE_CHECKING:
    from vidgen.settings import Settings
    from vidgen.store.keys import ApiKey, KeyStore

app = typer.Typer(help="Manage API keys (only a hash of each key is stored).", no_args_is_help=True)
err = Console(stderr=True)
T = TypeVar("T")
Priority = typer.Option(
    "--priority",
    min=-1000,
    max=1000,
    help="Queue priority: higher-priority keys' jobs are claimed first; keys of equal priority "
    "take turns.",
)


async def _with_keys(settings: Settings, action: Callable[[KeyStore], Awaitable[T]]) -> T:
    # Imported here so that commands which never open the database start fast.
    from vidgen.store.db import Database
    from vidgen.store.keys import KeyStore

    db = Database(settings.resolved_database_url)
    try:
        await db.migrate()
        return await action(KeyStore(db))
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
    data_dir: DataDir = None,
) -> None:
    """Create a key. Its secret is shown once; the last line of stdout is the key alone."""
    settings = load_settings(data_dir=data_dir)

    async def action(store: KeyStore) -> tuple[ApiKey, str]:
        return await store.create(
            name, credits=credits, max_concurrency=max_concurrency, priority=priority
        )

    key, secret = asyncio.run(_with_keys(settings, action))
    balance = "unlimited" if key.credits is None else str(key.credits)
    typer.echo(
        f"Created key {key.id} ({key.name}), credits: {balance}. Store it now; it is not shown again."
    )
    typer.echo(f"Webhook signing secret: {webhook_secret(settings.link_secret(), key.id)}")
    typer.echo(secret)


@app.command("list")
def list_keys(data_dir: DataDir = None) -> None:
    """List keys (never their secrets)."""
    settings = load_settings(data_dir=data_dir)

    async def action(store: KeyStore) -> list[ApiKey]:
        return await store.all()

    keys = asyncio.run(_with_keys(settings, action))
    table = Table(
        "id", "name", "prefix", "credits", "priority", "concurrency", "source", "created", "status"
    )
    for key in keys:
        table.add_row(
            key.id,
            key.name,
            key.prefix + "…",
            "unlimited" if key.credits is None else str(key.credits),
            str(key.priority),
            "any" if key.max_concurrency is None else str(key.max_concurrency),
            key.source,
            key.created_at.strftime("%Y-%m-%d %H:%M"),
            "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}",
        )
    Console().print(table)


def _find_one(matches: list[ApiKey], ident: str) -> ApiKey:
    if not matches:
        err.print(f"[red]error:[/] no key matches {ident!r} (give an id, a name or a prefix)")
        raise typer.Exit(1)
    if len(matches) > 1:
        err.print(f"[red]error:[/] {len(matches)} keys match {ident!r}; give the id")
        raise typer.Exit(1)
    return matches[0]


@app.command("set")
def set_limits(
    ident: Annotated[str, typer.Argument(help="Key id, name or prefix.")],
    priority: Annotated[int | None, Priority] = None,
    max_concurrency: Annotated[
        int | None,
        typer.Option("--max-concurrency", min=0, help="Jobs this key may run at once; 0: any."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Change a key's priority or concurrency limit (new jobs get the new priority)."""
    if priority is None and max_concurrency is None:
        err.print("[red]error:[/] nothing to change: give --priority and/or --max-concurrency")
        raise typer.Exit(2)
    settings = load_settings(data_dir=data_dir)

    async def action(store: KeyStore) -> ApiKey | None:
        key = _find_one(await store.find(ident), ident)
        return await store.configure(
            key.id,
            priority=priority,
            max_concurrency=max_concurrency or None,
            unlimited_concurrency=max_concurrency == 0,
        )

    key = asyncio.run(_with_keys(settings, action))
    assert key is not None  # found just above, and keys are never deleted
    limit = "any" if key.max_concurrency is None else str(key.max_concurrency)
    typer.echo(f"Key {key.id} ({key.name}): priority {key.priority}, concurrency {limit}.")


@app.command("revoke")
def revoke(
    ident: Annotated[str, typer.Argument(help="Key id, name or prefix.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a key: it stops working at once. Its generations are kept."""
    settings = load_settings(data_dir=data_dir)

    async def action(store: KeyStore) -> tuple[ApiKey, bool]:
        key = _find_one(await store.find(ident), ident)
        return key, await store.revoke(key.id)

    key, changed = asyncio.run(_with_keys(settings, action))
    typer.echo(
        f"Revoked key {key.id} ({key.name})." if changed else f"Key {key.id} was already revoked."
    )


@app.command("credit")
def credit(
    ident: Annotated[str, typer.Argument(help="Key id, name or prefix.")],
    amount: Annotated[int, typer.Argument(min=1, help="Credits to add.")],
    data_dir: DataDir = None,
) -> None:
    """Add credits to a key that has a balance."""
    settings = load_settings(data_dir=data_dir)

    async def action(store: KeyStore) -> tuple[ApiKey, int | None]:
        key = _find_one(await store.find(ident), ident)
        return key, await store.grant(key.id, amount)

    key, balance = asyncio.run(_with_keys(settings, action))
    if balance is None:
        typer.echo(f"Key {key.id} has unlimited credits; nothing to add.")
    else:
        typer.echo(f"Key {key.id} ({key.name}) now has {balance} credits.")

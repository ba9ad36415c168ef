"""The ``vidgen`` command. One module per command group; this one only assembles them."""

from __future__ import annotations

import typer

from vidgen.cli import generate, generations, keys, models, serve, worker

__all__ = ["app"]

app = typer.Typer(
    name="vidgen",
    help="Self-hosted video generation: the aimlapi / Runway / OpenAI video APIs on your machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help layout, here and in every group: typer's rich panels (0.29) show each
    # flag as if it took a value (`--json <bool>`) and read `[…]` in help text as markup, so
    # `[env: VIDGEN_DATA_DIR]` vanished. Each Typer has its own setting; none inherits it.
    rich_markup_mode=None,
)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.add_typer(keys.app, name="keys")
# Client commands: they talk to a server (VIDGEN_BASE_URL) through the SDK only.
app.command("generate")(generate.generate)
app.command("status")(generations.status)
app.command("list")(generations.list_generations)
app.command("cancel")(generations.cancel)
app.add_typer(models.app, name="models")


if __name__ == "__main__":
    app()

"""``vidgen models``: the catalog, and the open-weight models' weights on this machine."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vidgen.cli.options import DataDir, load_settings

app = typer.Typer(help="List models; download open weights for the diffusers engine.")
err = Console(stderr=True)


@app.command("list")
def list_models(data_dir: DataDir = None) -> None:
    """Every model, the engine that serves it, and for open-weight models whether the weights
    are here."""
    from vidgen.core.catalog import Catalog
    from vidgen.engines.diffusion.models import recipe_for
    from vidgen.engines.diffusion.weights import model_dir, weights_problem

    settings = load_settings(data_dir=data_dir)
    catalog = Catalog.build(routes=settings.routes)
    table = Table("model", "engine", "sizes", "fps", "weights")
    for spec in catalog:
        sizes = " ".join(f"{r} {w}×{h}" for r, (w, h) in spec.frame_sizes.items())
        weights = ""
        recipe = recipe_for(spec.id)
        if recipe is not None:
            path = model_dir(settings, spec.id)
            weights = "ready" if weights_problem(settings, spec.id) is None else f"missing ({path})"
        table.add_row(spec.id, catalog.engine_for(spec.id), sizes, str(spec.fps), weights)
    Console().print(table)


@app.command("pull")
def pull(
    model_id: Annotated[str, typer.Argument(help="An open-weight model id, e.g. wan2.2-ti2v-5b.")],
    revision: Annotated[
        str | None, typer.Option(help="A hub revision (branch, tag or commit) to pin.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Download a model's weights from the Hugging Face Hub into the models dir
    (VIDGEN_MODELS_DIR, or VIDGEN_MODEL_PATHS for that model). Resumes where it stopped."""
    from vidgen.engines.diffusion.models import RECIPES, recipe_for
    from vidgen.engines.diffusion.weights import model_dir, pull_weights, weights_problem

    settings = load_settings(data_dir=data_dir)
    recipe = recipe_for(model_id)
    if recipe is None:
        err.print(
            f"[red]error:[/] {model_id!r} is not an open-weight model; "
            f"choose one of {', '.join(sorted(RECIPES))}"
        )
        raise typer.Exit(2)
    target = model_dir(settings, model_id)
    err.print(f"Downloading {recipe.hub_repo} (about {recipe.download_gb:.0f} GB) into {target}")
    try:
        pull_weights(settings, model_id, revision=revision)
    except Exception as exc:  # network, auth, disk: the message is what the user needs
        err.print(f"[red]error:[/] the download failed: {exc}")
        raise typer.Exit(1) from exc
    problem = weights_problem(settings, model_id)
    if problem is not None:
        err.print(f"[red]error:[/] {problem}")
        raise typer.Exit(1)
    typer.echo(f"{model_id} is ready in {target}.")
    typer.echo(f"Serve it with: VIDGEN_ROUTES={model_id}=diffusers vidgen serve")

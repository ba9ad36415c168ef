"""``vidgen models pull``: download an open-weight model for the diffusers engine."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from vidgen.cli.options import DataDir, load_settings

__all__ = ["pull"]

err = Console(stderr=True)


def pull(
    model_id: Annotated[str, typer.Argument(help="An open-weight model id, e.g. wan2.2-ti2v-5b.")],
    revision: Annotated[
        str | None, typer.Option(help="A hub revision (branch, tag or commit) to pin.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Download a model's weights from the Hugging Face Hub into the models dir
    (VIDGEN_MODELS_DIR, or VIDGEN_MODEL_PATHS for that model). Resumes where it stopped."""
    settings = load_settings(data_dir=data_dir)
    from vidgen.engines.diffusion.models import RECIPES, recipe_for
    from vidgen.engines.diffusion.weights import model_dir, pull_weights, weights_problem

    recipe = recipe_for(model_id)
    if recipe is None:
        err.print(
            f"[red]error:[/] {model_id!r} is not an open-weight model; "
            f"choose one of {', '.join(sorted(RECIPES))}"
        )
        raise typer.Exit(2)
    target = model_dir(settings, model_id)
    err.print(f"Downloading {recipe.hub_repo} (roughly {recipe.download_gb:.0f} GB) into {target}")
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

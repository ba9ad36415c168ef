"""Where a model's weights are, and how they get there.

The engine only ever loads from a local directory in diffusers' layout (``model_index.json`` at
its root, one folder per component), with ``local_files_only``: a worker never downloads tens of
gigabytes by surprise in the middle of a job. The directory is, in order:

1. ``VIDGEN_MODEL_PATHS`` for that model id (``wan2.2-ti2v-5b=/srv/weights/wan5b,…``);
2. ``<VIDGEN_MODELS_DIR>/<model id>`` (default ``<data_dir>/models/<model id>``), which is where
   ``vidgen models pull ID`` puts them, on a machine that can reach the hub.

A missing or incomplete directory is reported at start-up, naming what to download and where to
put it, instead of failing the first job.
"""

from __future__ import annotations

import json
from pathlib import Path

from vidgen.engines.diffusion.models import Recipe, recipe_for
from vidgen.settings import Settings

__all__ = ["missing_weights_message", "model_dir", "pull_weights", "weights_problem"]


def model_dir(settings: Settings, model_id: str) -> Path:
    """The directory the engine loads ``model_id`` from (it may not exist yet)."""
    configured = settings.model_paths.get(model_id)
    if configured:
        return Path(configured).expanduser()
    return settings.resolved_models_dir / model_id


def weights_problem(settings: Settings, model_id: str) -> str | None:
    """Why ``model_id`` cannot be loaded from its directory, or None when it looks complete.

    Checks the layout, not the bytes: every component that ``model_index.json`` names has a
    folder with a config. A truncated weight file still fails at load time, with its name.
    """
    recipe = recipe_for(model_id)
    if recipe is None:
        return f"{model_id!r} is not a model the diffusers engine knows"
    path = model_dir(settings, model_id)
    index = path / "model_index.json"
    if not index.is_file():
        return missing_weights_message(recipe, path)
    try:
        components = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{index} is unreadable ({exc}); download {recipe.hub_repo} again"
    missing = [
        name
        for name, value in components.items()
        if not name.startswith("_")
        and isinstance(value, list)
        and value[0] is not None
        and not any((path / name / config).is_file() for config in _COMPONENT_CONFIGS)
    ]
    if missing:
        return (
            f"the weights of {model_id} in {path} are incomplete (no {', '.join(missing)}); "
            f"download {recipe.hub_repo} again with `vidgen models pull {model_id}`"
        )
    return None


# A component folder holds one of these: a model's config, a scheduler's, a tokenizer's, an
# image processor's or a guider's (HunyuanVideo-1.5 keeps its CFG scale in a ``guider``).
_COMPONENT_CONFIGS = (
    "config.json",
    "scheduler_config.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "guider_config.json",
)


def missing_weights_message(recipe: Recipe, path: Path) -> str:
    return (
        f"no weights for {recipe.model_id} in {path}. On a machine with network access run "
        f"`vidgen models pull {recipe.model_id}` (downloads {recipe.hub_repo} from the Hugging "
        f"Face Hub, about {recipe.download_gb:.0f} GB), or download that repository in diffusers "
        f"layout yourself and put it at {path} (or set VIDGEN_MODEL_PATHS="
        f"{recipe.model_id}=/path/to/it)"
    )


def pull_weights(settings: Settings, model_id: str, *, revision: str | None = None) -> Path:
    """Download ``model_id``'s repository from the hub into its directory; returns the path.

    Resumable: run it again after an interruption and it fetches only what is missing.
    """
    recipe = recipe_for(model_id)
    if recipe is None:
        raise LookupError(f"{model_id!r} is not a model the diffusers engine knows")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - the gpu extra brings it
        raise RuntimeError(
            "install the gpu extra first: pip install 'vidgen-api[gpu]' (from a checkout: "
            "pip install -e '.[gpu]')"
        ) from exc
    target = model_dir(settings, model_id)
    target.mkdir(parents=True, exist_ok=True)
    snapshot_download(
        repo_id=recipe.hub_repo,
        revision=revision,
        local_dir=str(target),
        # Only what diffusers loads: no duplicate single-file checkpoints, no sample media.
        allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "spiece.model"],
    )
    return target

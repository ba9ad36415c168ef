"""The README's model tables, written from the catalog (``vidgen models --markdown``).

The README holds this text between ``<!-- catalog-tables:start -->`` and
``<!-- catalog-tables:end -->``, and a test checks that it is exactly what this module writes
for vidgen's own entries: a change to a catalog file shows in the README in the same commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from vidgen.core.model_spec import ModelSpec
from vidgen.core.models import Kind

__all__ = ["END_MARKER", "START_MARKER", "markdown_tables"]

START_MARKER = "<!-- catalog-tables:start (written by `vidgen models --markdown`) -->"
END_MARKER = "<!-- catalog-tables:end -->"

_KIND_WORDS = {
    Kind.TEXT_TO_VIDEO: "text",
    Kind.IMAGE_TO_VIDEO: "image",
    Kind.VIDEO_TO_VIDEO: "video",
    Kind.CHARACTER_PERFORMANCE: "performance",
    Kind.UPSCALE: "upscale",
    Kind.FRAME_RATE: "frame rate",
}
_HEADER = (
    "| model | takes | ratios (output size) | durations | credits | engines |\n"
    "|---|---|---|---|---|---|"
)


def _name(spec: ModelSpec) -> str:
    names = [f"`{spec.id}`"]
    runway = spec.dialect_names.get("runway")
    if runway is not None:
        names.append(f"Runway `{runway}`")
    names += [f"`{alias}`" for alias in spec.aliases]
    return "<br>".join(names)


def _kinds(spec: ModelSpec) -> str:
    words = [_KIND_WORDS[k] for k in Kind if k in spec.kinds]
    if Kind.IMAGE_TO_VIDEO in spec.kinds and spec.accepts_last_image:
        words[words.index("image")] = "image (+ last)"
    if spec.max_references:
        words.append(f"≤ {spec.max_references} reference images")
    return ", ".join(words)


def _ratios(spec: ModelSpec) -> str:
    cells = []
    for ratio, (width, height) in spec.frame_sizes.items():
        size = f"{width}×{height}"
        cells.append(size if ratio == f"{width}:{height}" else f"{ratio} {size}")
    return " · ".join(cells)


def _durations(spec: ModelSpec) -> str:
    first, last = spec.durations[0], spec.durations[-1]
    if len(spec.durations) > 2 and spec.durations == tuple(range(first, last + 1)):
        return f"{first}–{last} s"
    return ", ".join(map(str, spec.durations)) + " s"


def _credits(spec: ModelSpec) -> str:
    parts = [f"{c} for {d} s" for d, c in sorted(spec.credits.items())]
    rate = spec.credits_per_second
    if rate is not None:
        each = f"{float(rate):g}/s"
        parts.append(f"{each} otherwise" if parts else each)
    text = ", ".join(parts)
    return f"≈ {text}" if spec.price_estimate else text


def _engines(spec: ModelSpec) -> str:
    text = ", ".join(f"`{e}`" for e in spec.engines)
    if spec.retired is not None:
        text += f"; retired at `{spec.retired.engine}` on {spec.retired.on}"
    return text


def _table(specs: list[ModelSpec]) -> str:
    rows = [
        f"| {_name(s)} | {_kinds(s)} | {_ratios(s)} | {_durations(s)} | {_credits(s)} | "
        f"{_engines(s)} |"
        for s in specs
    ]
    return "\n".join([_HEADER, *rows])


def markdown_tables(models: Iterable[ModelSpec]) -> str:
    """Markdown tables of ``models``: Runway's (every model Runway's API routes, by vidgen's id
    and Runway's name), then the gateway's own entries (aimlapi), then the model hosts', then the
    open-weight models, with the date the published prices were checked."""
    listed = list(models)
    groups = [
        ("Runway's API", [s for s in listed if "runway" in s.engines]),
        (
            "AI/ML API's own entries",
            [s for s in listed if "aimlapi" in s.engines and "runway" not in s.engines],
        ),
        (
            "Model hosts (Replicate, fal, the Gemini API), listed once the host's key is set "
            "or `VIDGEN_ROUTES` routes them",
            [s for s in listed if s.hosts],
        ),
        (
            "Open-weight, listed once `VIDGEN_ROUTES` routes them",
            [s for s in listed if s.listed == "when_routed" and not s.hosts],
        ),
    ]
    seen = {s.id for _, group in groups for s in group}
    groups.append(("Other entries", [s for s in listed if s.id not in seen]))
    checked = sorted({s.prices_checked for s in listed if s.prices_checked})
    parts = []
    for title, group in groups:
        if group:
            parts += [f"**{title}**", "", _table(group), ""]
    note = "Credits: whole credits per video, the per-second rate rounded up. ≈: an estimate, "
    note += "no published price behind it."
    if checked:
        note += f" Published prices checked on {', '.join(checked)}."
    parts.append(note)
    return "\n".join(parts)

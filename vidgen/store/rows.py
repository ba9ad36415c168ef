"""Rows as the core's types: the one place that maps a ``jobs`` row to a ``Generation``."""

from __future__ import annotations

from typing import Any

from vidgen.core.models import Generation, GenerationError, Kind, Status, VideoOutput
from vidgen.store.tables import jobs

__all__ = ["GENERATION_COLUMNS", "row_to_generation"]

#: What ``row_to_generation`` reads: a client's view of a job, without the queue's bookkeeping
#: (leases, attempts, the engine's resume state). Reads that build a ``Generation`` select only
#: these; polls are the hottest reads there are, and every column costs a conversion.
GENERATION_COLUMNS = tuple(
    jobs.c[name]
    for name in (
        "id", "key_id", "model", "engine", "status", "waiting", "progress", "prompt",
        "aspect_ratio", "width", "height", "duration", "fps", "frames", "seed", "kind", "credits", "dialect",
        "extras", "error_name", "error_message", "output_key", "output_media_type",
        "output_bytes", "output_frames", "output_fps", "output_width", "output_height",
        "thumbnail_key", "created_at", "started_at", "finished_at",
    )
)  # fmt: skip


def row_to_generation(row: Any) -> Generation:
    video = None
    if row.output_key is not None:
        video = VideoOutput(
            key=row.output_key,
            media_type=row.output_media_type,
            size_bytes=row.output_bytes,
            width=row.output_width,
            height=row.output_height,
            fps=row.output_fps,
            frame_count=row.output_frames,
            duration=row.output_frames / row.output_fps if row.output_fps else 0.0,
            thumbnail_key=row.thumbnail_key,
        )
    error = None
    if row.error_name is not None:
        error = GenerationError(name=row.error_name, message=row.error_message or "")
    facts = row.extras or {}
    images = facts.get("images", {})
    return Generation(
        id=row.id,
        key_id=row.key_id,
        model=row.model,
        engine=row.engine,
        # Held by a worker but not yet started upstream: honest status is "queued".
        status=Status.QUEUED
        if row.status == Status.GENERATING.value and row.waiting
        else Status(row.status),
        progress=row.progress,
        prompt=row.prompt,
        aspect_ratio=row.aspect_ratio,
        width=row.width,
        height=row.height,
        duration=row.duration,
        fps=row.fps,
        frames=row.frames,
        seed=row.seed,
        credits=row.credits,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=error,
        video=video,
        dialect=row.dialect,
        kind=Kind(row.kind),
        has_first_image="first" in images,
        has_last_image="last" in images,
        stored_facts=facts,
    )

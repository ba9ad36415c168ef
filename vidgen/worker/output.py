"""An engine's output, made ready and stored: probed, given a thumbnail, and uploaded under the
job's own keys (so a retried job overwrites its own objects instead of leaving others)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vidgen.core.engine import EngineResult
from vidgen.core.models import VideoInfo, VideoOutput
from vidgen.core.storage import Storage, thumbnail_key, video_key
from vidgen.errors import EngineError
from vidgen.media.video import probe_video, write_thumbnail

__all__ = ["check_output", "upload"]


async def check_output(result: EngineResult) -> tuple[VideoInfo, Path]:
    """Probe the engine's file and cut its thumbnail: failures here are the engine's."""
    if not result.path.is_file() or result.path.stat().st_size == 0:
        raise EngineError("The engine produced no video file.", name="BadOutput")
    info = result.info
    if info is None:
        info = await asyncio.to_thread(probe_video, result.path)
    if result.thumbnail is not None and result.thumbnail.is_file():
        return info, result.thumbnail
    thumb = result.path.with_name("thumbnail.jpg")
    await asyncio.to_thread(write_thumbnail, result.path, info.frame_count, thumb)
    return info, thumb


async def upload(
    storage: Storage, job_id: str, result: EngineResult, info: VideoInfo, thumb: Path
) -> VideoOutput:
    """Store the video and its thumbnail under the job's own keys (a retry overwrites)."""
    key = video_key(job_id)
    # Both files are in this attempt's scratch dir, which goes when the job settles: the
    # storage may take them over (local storage renames them into place).
    size, _ = await storage.put_files(
        [(key, result.path, result.media_type), (thumbnail_key(job_id), thumb, "image/jpeg")],
        consume=True,
    )
    return VideoOutput(
        key=key,
        media_type=result.media_type,
        size_bytes=size,
        width=info.width,
        height=info.height,
        fps=info.fps,
        frame_count=info.frame_count,
        duration=info.duration,
        thumbnail_key=thumbnail_key(job_id),
    )

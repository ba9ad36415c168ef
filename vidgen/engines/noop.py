"""The no-op engine: a valid, tiny MP4 in about a millisecond, for dispatch benchmarks and queue
tests, where the engine's own cost would hide what is being measured.

The video has the job's frame rate and frame count (so its duration is right), but frames of at
most 64 pixels on the long side, in one solid colour picked by the seed. Each shape is encoded
once per process, with its thumbnail, kept beside the scratch dirs, and hard-linked into each
job's scratch dir, so a job writes no file data at all. A prompt that contains
``sleep=<seconds>`` (at most 60) holds the job that long first, reporting progress and honouring
a cancel every 50 ms: tests use it to have jobs in flight when they kill a worker.

Route a model to it with ``VIDGEN_ROUTES=runway/gen4_turbo=noop``.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from vidgen.core.models import VideoInfo
from vidgen.engines.base import Engine, EngineContext, EngineJob, EngineResult
from vidgen.media.video import Mp4Writer, probe_video, write_thumbnail

__all__ = ["NoopEngine", "solid_clip", "tiny_size"]

MAX_SIDE = 64
MAX_SLEEP_SECONDS = 60.0
_SLEEP = re.compile(r"\bsleep=(\d+(?:\.\d+)?)")
#: Beside the jobs' scratch dirs: the clips that jobs link to (see ``_place``).
CACHE_DIR = ".noop-clips"
#: Encoded clips and thumbnails by shape (width, height, fps, frames, shade); a few shapes cover
#: a test run.
_clips: dict[tuple[int, int, int, int, int], tuple[bytes, bytes, VideoInfo]] = {}


def tiny_size(width: int, height: int) -> tuple[int, int]:
    """The job's aspect ratio at most ``MAX_SIDE`` pixels on the long side, in even numbers."""
    scale = MAX_SIDE / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def solid_clip(
    width: int, height: int, fps: int, frames: int, shade: int
) -> tuple[bytes, bytes, VideoInfo]:
    """The MP4 bytes of ``frames`` solid frames of one colour, a JPEG of its middle frame, and
    the clip's facts as read back from the file."""
    with tempfile.TemporaryDirectory(prefix="vidgen-noop-") as tmp:
        path = Path(tmp) / "clip.mp4"
        frame = np.empty((height, width, 3), np.uint8)
        frame[...] = (shade, 255 - shade, (shade * 7) % 256)
        with Mp4Writer(path, width=width, height=height, fps=fps) as writer:
            for _ in range(frames):
                writer.write_rgb(frame)
        thumbnail = Path(tmp) / "thumbnail.jpg"
        write_thumbnail(path, frames, thumbnail)
        return path.read_bytes(), thumbnail.read_bytes(), probe_video(path)


class NoopEngine(Engine):
    """See the module docstring."""

    name = "noop"
    description = "No-op: a tiny solid-colour MP4 at once (benchmarks and tests)."

    async def generate(self, job: EngineJob, ctx: EngineContext) -> EngineResult:
        ctx.raise_if_cancelled()
        match = _SLEEP.search(job.prompt)
        if match:
            await _hold(min(float(match.group(1)), MAX_SLEEP_SECONDS), ctx)
        width, height = tiny_size(job.width, job.height)
        frames = max(1, job.frame_count)
        shape = (width, height, job.fps, frames, job.seed % 256)
        clip = _clips.get(shape)
        if clip is None:
            clip = await asyncio.to_thread(solid_clip, *shape)
            if len(_clips) >= 64:
                _clips.clear()
            _clips[shape] = clip
        path = ctx.scratch_dir / "noop.mp4"
        thumbnail = ctx.scratch_dir / "noop.jpg"
        cache = ctx.scratch_dir.parent / CACHE_DIR
        _place(path, clip[0], cache / f"{_shape_name(shape)}.mp4")
        _place(thumbnail, clip[1], cache / f"{_shape_name(shape)}.jpg")
        ctx.report_progress(1.0)
        return EngineResult(
            path=path,
            width=width,
            height=height,
            fps=float(job.fps),
            frame_count=frames,
            thumbnail=thumbnail,
            info=clip[2],
        )


def _shape_name(shape: tuple[int, ...]) -> str:
    return "-".join(str(n) for n in shape)


def _place(target: Path, data: bytes, cached: Path) -> None:
    """Put ``data`` at ``target`` as a hard link to a copy kept at ``cached`` (written once per
    shape, atomically, by whichever process needs it first): a link is only a directory entry,
    where writing a new file costs block allocation, which on some virtual disks is most of a
    no-op job's cost. Stored objects are only ever replaced, never written in place, so
    sharing the bytes is safe. Where no link can be made, the bytes are written."""
    for _ in range(2):
        try:
            os.link(cached, target)
            return
        except FileNotFoundError:
            pass  # not cached yet: write it
        except OSError as exc:
            if exc.errno != errno.EMLINK:  # EMLINK: the copy has all the links it may have
                break
        try:
            cached.parent.mkdir(exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            partial.write_bytes(data)
            os.replace(partial, cached)
        except OSError:
            break
    target.write_bytes(data)


async def _hold(seconds: float, ctx: EngineContext) -> None:
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        ctx.raise_if_cancelled()
        ctx.report_progress(0.9 * elapsed / seconds)
        await asyncio.sleep(min(0.05, seconds - elapsed))

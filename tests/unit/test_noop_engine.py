"""The no-op engine: a valid MP4 with the job's frame rate and length, at once, and a hold that
a cancel interrupts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from vidgen.core.engine import EngineContext, EngineJob
from vidgen.engines.noop import NoopEngine, tiny_size
from vidgen.errors import JobCancelled
from vidgen.media.video import probe_video
from vidgen.settings import Settings


class Context(EngineContext):
    def __init__(self, scratch: Path) -> None:
        self.scratch_dir = scratch
        self.progress = 0.0
        self.stop = False

    def report_progress(self, fraction: float) -> None:
        self.progress = max(self.progress, fraction)

    def report_waiting(self, waiting: bool) -> None:
        pass

    @property
    def cancelled(self) -> bool:
        return self.stop

    async def save_state(self, **state: Any) -> None:
        pass


def job(prompt: str = "anything", seed: int = 3) -> EngineJob:
    return EngineJob(
        id="j", model="m", prompt=prompt, aspect_ratio="16:9", width=1280, height=720, fps=24,
        duration=5, frame_count=120, seed=seed, first_image=None, last_image=None,
    )  # fmt: skip


async def test_it_writes_a_valid_tiny_mp4_of_the_jobs_length_with_a_thumbnail(
    tmp_path: Path,
) -> None:
    ctx = Context(tmp_path)
    result = await NoopEngine(Settings(data_dir=tmp_path)).generate(job(), ctx)
    info = probe_video(result.path)
    assert (info.width, info.height, info.frame_count, info.fps) == (64, 36, 120, 24.0)
    assert info.codec == "h264" and info.moov_before_mdat
    assert result.thumbnail is not None and result.thumbnail.read_bytes()[:2] == b"\xff\xd8"
    assert ctx.progress == 1.0
    again = await NoopEngine(Settings(data_dir=tmp_path)).generate(job(), Context(tmp_path))
    assert again.path.read_bytes() == result.path.read_bytes()  # deterministic


async def test_a_hold_in_the_prompt_is_honoured_and_a_cancel_ends_it(tmp_path: Path) -> None:
    ctx = Context(tmp_path)
    started = time.monotonic()
    await NoopEngine(Settings(data_dir=tmp_path)).generate(job("sleep=0.3"), ctx)
    assert time.monotonic() - started >= 0.3
    ctx = Context(tmp_path)
    task = asyncio.create_task(
        NoopEngine(Settings(data_dir=tmp_path)).generate(job("sleep=30"), ctx)
    )
    await asyncio.sleep(0.2)
    ctx.stop = True
    with pytest.raises(JobCancelled):
        await asyncio.wait_for(task, 2)


def test_the_tiny_size_keeps_the_aspect_ratio_in_even_pixels() -> None:
    assert tiny_size(1280, 720) == (64, 36)
    assert tiny_size(720, 1280) == (36, 64)
    assert tiny_size(1584, 672) == (64, 28)

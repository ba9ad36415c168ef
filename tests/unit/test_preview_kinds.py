"""The preview engine's kinds with an input video, judged by decoding the MP4s it writes with
PyAV: the planned size, frame count and rate, the same frames for the same seed, and the input
visibly in the output (regraded and moved, animated, resampled, interpolated)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from tests.conftest import make_image, make_video
from tests.unit.test_preview_engine import RecordingContext
from vidgen.core.engine import EngineJob
from vidgen.core.models import CapturedVideo, Kind
from vidgen.engines.preview import PreviewEngine
from vidgen.media.images import inspect_image, load_rgb
from vidgen.media.input_video import inspect_video
from vidgen.settings import Settings


def captured(data: bytes) -> CapturedVideo:
    return inspect_video(data, max_seconds=60, max_width=4096, max_height=4096)


#: 2 s at 12 fps, 64×36: a bright square crossing a gradient from left to right.
CLIP = captured(make_video(64, 36, frames=24, fps=12))


def job(kind: Kind, **fields: Any) -> EngineJob:
    values: dict[str, Any] = {
        "id": "j",
        "model": "m",
        "prompt": "",
        "aspect_ratio": "16:9",
        "width": 128,
        "height": 72,
        "fps": 24,
        "duration": 2,
        "frame_count": 48,
        "seed": 7,
        "first_image": None,
        "last_image": None,
        "kind": kind,
        "video": CLIP,
    }
    return EngineJob(**(values | fields))


def decoded(path: Path) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, float(stream.average_rate or 0)


async def render(engine: PreviewEngine, tmp_path: Path, spec: EngineJob) -> list[np.ndarray]:
    scratch = tmp_path / f"s{spec.seed}-{len(list(tmp_path.iterdir()))}"
    scratch.mkdir()
    context = RecordingContext(scratch)
    result = await engine.generate(spec, context)
    frames, fps = decoded(result.path)
    assert len(frames) == spec.frame_count == result.frame_count
    assert frames[0].shape == (spec.height, spec.width, 3)
    assert fps == spec.fps
    assert context.progress[-1] == 1.0
    return frames


def square_x(frame: np.ndarray) -> float:
    """Where the brightest column is: the square's position."""
    return float(frame.astype(np.float32).min(axis=2).mean(axis=0).argmax())


@pytest.fixture
def engine(tmp_path: Path) -> PreviewEngine:
    return PreviewEngine(Settings(data_dir=tmp_path / "data"))


async def test_video_to_video_regrades_and_moves_the_inputs_frames_the_same_per_seed(
    engine: PreviewEngine, tmp_path: Path
) -> None:
    spec = job(Kind.VIDEO_TO_VIDEO)
    first = await render(engine, tmp_path, spec)
    again = await render(engine, tmp_path, spec)
    other = await render(engine, tmp_path, replace(spec, seed=8))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])  # another grade, another move
    # The input's motion shows through: the square crosses the frame left to right.
    assert square_x(first[0]) < spec.width / 3 < 2 * spec.width / 3 < square_x(first[-1])


async def test_a_keyframe_shows_through_at_its_moment_and_nowhere_else(
    engine: PreviewEngine, tmp_path: Path
) -> None:
    red = Image.new("RGB", (64, 36), (255, 0, 0))
    buffer = io.BytesIO()
    red.save(buffer, "PNG")
    keyframe = inspect_image(buffer.getvalue(), max_pixels=10**6)
    plain = await render(engine, tmp_path, job(Kind.VIDEO_TO_VIDEO))
    # At half of the 2 s input: output frame 24 of 48.
    marked = await render(
        engine, tmp_path, job(Kind.VIDEO_TO_VIDEO, keyframes=((keyframe, None, 0.5, None),))
    )
    # Far from its moment, the same frames (within the codec's noise: later frames are coded
    # from earlier ones).
    for index in (0, 47):
        assert np.abs(plain[index].astype(np.int16) - marked[index]).mean() < 3
    redness = [float(f[..., 0].mean() - f[..., 1].mean()) for f in (plain[24], marked[24])]
    assert redness[1] > redness[0] + 40


async def test_an_upscale_is_the_input_resampled_frame_for_frame(
    engine: PreviewEngine, tmp_path: Path
) -> None:
    spec = job(Kind.UPSCALE, width=256, height=144, fps=12, frame_count=24)
    frames = await render(engine, tmp_path, spec)
    source = [f.to_ndarray(format="rgb24") for f in av.open(io.BytesIO(CLIP.data)).decode(video=0)]
    for index in (0, 11, 23):
        small = frames[index][::4, ::4].astype(np.int16)
        assert np.abs(small - source[index].astype(np.int16)).mean() < 12


async def test_a_frame_rate_enhancement_interpolates_between_the_inputs_frames(
    engine: PreviewEngine, tmp_path: Path
) -> None:
    spec = job(Kind.FRAME_RATE, width=64, height=36, fps=48, frame_count=96)
    frames = await render(engine, tmp_path, spec)
    # Four output frames to each input frame: output frames 0 and 4 are input frames 0 and 1,
    # and output frame 2, halfway between them, is their even blend (within the codec's noise).
    first, middle, next_ = (frames[i].astype(np.float32) for i in (0, 2, 4))
    assert np.abs(middle - (first + next_) / 2).mean() < 3
    assert np.abs(middle - first).mean() > 2 * np.abs(middle - (first + next_) / 2).mean()
    assert square_x(frames[0]) < square_x(frames[-1])


def mean_change(frames: list[np.ndarray]) -> float:
    return float(np.abs(frames[0].astype(np.int16) - frames[-1].astype(np.int16)).mean())


async def test_a_character_is_animated_by_the_performances_motion(
    engine: PreviewEngine, tmp_path: Path
) -> None:
    character = inspect_image(make_image(72, 128, seed=3), max_pixels=10**7)
    spec = job(
        Kind.CHARACTER_PERFORMANCE,
        width=72,
        height=128,
        frame_count=72,
        video=None,
        character=character,
        performance=captured(make_video(64, 36, frames=36, fps=12)),
    )
    frames = await render(engine, tmp_path, spec)
    again = await render(engine, tmp_path, spec)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))
    # The first frame is the character, filled to the output size.
    picture = np.asarray(load_rgb(character)).astype(np.int16)
    assert np.abs(frames[0].astype(np.int16) - picture).mean() < 8
    # A performance that moves moves the character more than one that keeps still.
    still = replace(spec, performance=captured(make_video(64, 36, frames=36, fps=12, moving=False)))
    assert mean_change(frames) > 2 * mean_change(await render(engine, tmp_path, still))


async def test_a_character_may_be_a_video(engine: PreviewEngine, tmp_path: Path) -> None:
    spec = job(
        Kind.CHARACTER_PERFORMANCE,
        width=64,
        height=36,
        video=None,
        character=CLIP,
        performance=captured(make_video(64, 36, frames=36, fps=12, moving=False)),
    )
    frames = await render(engine, tmp_path, spec)
    source = [f.to_ndarray(format="rgb24") for f in av.open(io.BytesIO(CLIP.data)).decode(video=0)]
    # The character video's own frames play, at the output's moments (12 fps in, 24 out).
    assert np.abs(frames[0].astype(np.int16) - source[0].astype(np.int16)).mean() < 10
    assert np.abs(frames[46].astype(np.int16) - source[23].astype(np.int16)).mean() < 10

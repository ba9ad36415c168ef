"""Input videos as submit sees them (``inspect_video``: what the file really holds, or why it is
refused) and as an engine reads them back (``frames_at``), on real files made with PyAV."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_image, make_video
from vidgen.media.input_video import VideoRejected, frames_at, inspect_video

LIMITS = {"max_seconds": 30.0, "max_width": 4096, "max_height": 4096}


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("mp4", "video/mp4"), ("webm", "video/webm")],
)
def test_a_video_is_described_as_it_really_is(fmt: str, media_type: str) -> None:
    video = inspect_video(make_video(48, 32, frames=30, fps=15, fmt=fmt), **LIMITS)
    assert (video.media_type, video.width, video.height) == (media_type, 48, 32)
    assert (video.fps, video.frame_count) == (15.0, 30)
    assert video.duration == pytest.approx(2.0, abs=0.07)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (make_image(64, 36), "only MP4, QuickTime and WebM"),
        (make_video(64, 36)[:600], "not a decodable video"),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(400), "not a decodable video"),
    ],
    ids=["an image", "a truncated MP4", "a header and nothing else"],
)
def test_what_is_not_a_decodable_video_is_refused_with_a_reason(data: bytes, words: str) -> None:
    with pytest.raises(VideoRejected, match=words):
        inspect_video(data, **LIMITS)


def test_the_limits_are_checked_before_anything_is_decoded() -> None:
    clip = make_video(64, 36, frames=48, fps=24)
    with pytest.raises(VideoRejected, match=r"2\.0 s long"):
        inspect_video(clip, max_seconds=1.0, max_width=4096, max_height=4096)
    with pytest.raises(VideoRejected, match="64×36"):
        inspect_video(clip, max_seconds=30, max_width=4096, max_height=30)


def test_frames_are_read_at_any_position_and_blended_between_neighbours() -> None:
    video = inspect_video(make_video(64, 36, frames=5, fps=5), **LIMITS)
    reads = list(frames_at(video, [0, 1.25, 1.25, 4, 9]))
    first, (before, after, weight), again, last, past = reads
    assert first[2] == 0.0
    assert weight == 0.25 and not np.array_equal(before, after)
    assert np.array_equal(again[0], before) and again[2] == 0.25
    # The last frame, and past the end the last frame still.
    assert last[2] == 0.0 and np.array_equal(past[0], last[0]) and past[2] == 0.0


def test_a_frame_rate_no_video_needs_is_refused() -> None:
    # Every input frame is rendered by an upscale: a claimed rate is a cost, so it is capped.
    with pytest.raises(VideoRejected, match="the highest rate taken is 240"):
        inspect_video(make_video(32, 18, frames=30, fps=300), **LIMITS)

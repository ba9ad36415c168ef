"""Input videos: verified and described at submit time (``inspect_video``), and read back frame by
frame by an engine (``frames_at``). Both work on the bytes the job keeps, never on a URL.

PyAV reads the container from memory. ``inspect_video`` decodes the first frame, so a file whose
header lies (a truncated MP4, a text file called ``.mp4``) is refused at submit, not found out by
the engine; the frame count comes from the sample table where the container has one (exact for
MP4), else from counting packets, which costs no decoding.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterable, Iterator
from typing import TypeAlias

import av
import numpy as np
from av.error import FFmpegError

from vidgen.core.models import CapturedVideo
from vidgen.media.video import U8Array, frame_to_image

__all__ = [
    "MAX_INPUT_FPS",
    "Blend",
    "VideoRejected",
    "frames_at",
    "inspect_video",
    "looks_like_image",
]

#: Two neighbouring frames and the weight of the second: where a position falls between them.
Blend: TypeAlias = tuple["U8Array", "U8Array", float]


#: The highest input frame rate taken. A file may claim any rate; an upscale or frame-rate job
#: renders every input frame, so a claimed 100 000 fps over 30 s would be 3 million frames.
MAX_INPUT_FPS = 240


class VideoRejected(Exception):
    """An input video that cannot be used; the message says why, in words for the API user."""


def looks_like_image(data: bytes) -> bool:
    """PNG, JPEG or WebP by their magic bytes: how an input that may be either (a character of
    a character performance) is told apart before it is verified as one or the other."""
    return (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        or data.startswith(b"\xff\xd8\xff")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    )


def _media_type(container: av.container.InputContainer, data: bytes) -> str:
    names = set(container.format.name.split(","))
    if names & {"matroska", "webm"}:
        return "video/webm"
    if names & {"mov", "mp4"}:
        # The same demuxer reads both; the ftyp brand says which the file says it is.
        return "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
    raise VideoRejected(
        f"is a {container.format.long_name or container.format.name} file; "
        "only MP4, QuickTime and WebM videos are accepted"
    )


def inspect_video(
    data: bytes, *, max_seconds: float, max_width: int, max_height: int
) -> CapturedVideo:
    """Verify that ``data`` is a decodable video within the limits, and describe it.

    Raises ``VideoRejected`` with a reason a client can act on.
    """
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            media_type = _media_type(container, data)
            if not container.streams.video:
                raise VideoRejected("has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width > max_width or height > max_height:
                raise VideoRejected(
                    f"is {width}×{height}; the largest accepted is {max_width}×{max_height}"
                )
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                duration = 0.0
            # Checked before anything is counted or decoded: a long video costs nothing more.
            if duration > max_seconds:
                raise VideoRejected(
                    f"is {duration:.1f} s long; the longest accepted is {max_seconds:g} s"
                )
            first = next(container.decode(stream), None)
            if first is None:
                raise VideoRejected("holds no decodable frame")
            frame_count = stream.frames
        if not frame_count:
            with av.open(io.BytesIO(data), mode="r") as container:
                video = container.streams.video[0]
                frame_count = sum(1 for packet in container.demux(video) if packet.size)
    except VideoRejected:
        raise
    except (FFmpegError, ValueError, IndexError, StopIteration) as exc:
        raise VideoRejected(f"is not a decodable video ({type(exc).__name__})") from exc
    if fps <= 0 or frame_count <= 0:
        raise VideoRejected("has no frame rate or no frames")
    if fps > MAX_INPUT_FPS or frame_count > MAX_INPUT_FPS * max_seconds:
        raise VideoRejected(
            f"has {frame_count} frames at {fps:g} fps; the highest rate taken is {MAX_INPUT_FPS}"
        )
    if duration <= 0:
        duration = frame_count / fps
    if duration > max_seconds:
        raise VideoRejected(f"is {duration:.1f} s long; the longest accepted is {max_seconds:g} s")
    return CapturedVideo(
        data=data,
        media_type=media_type,
        width=width,
        height=height,
        fps=fps,
        frame_count=frame_count,
        duration=duration,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def frames_at(video: CapturedVideo, positions: Iterable[float]) -> Iterator[Blend]:
    """The frames of ``video`` around each position (in input frames: 2.25 is a quarter of the
    way from frame 2 to frame 3), as ``(before, after, weight of after)``; positions must not
    decrease, and one past the end gives the last frame. One pass of sequential decoding that
    holds two frames, so a long input costs no memory. Frames are RGB (H×W×3 uint8), read with
    the matrix and range they are tagged with (``frame_to_image``)."""
    with av.open(io.BytesIO(video.data), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded = container.decode(stream)
        window: list[U8Array] = []  # the last two frames decoded; the last is frame ``index``
        index = -1
        exhausted = False
        for position in positions:
            before = max(0, math.floor(position))
            while index < before + 1 and not exhausted:
                frame = next(decoded, None)
                if frame is None:
                    exhausted = True
                    break
                index += 1
                window = [*window[-1:], np.asarray(frame_to_image(frame))]
            if not window:
                raise ValueError("the input video holds no frame")
            if index <= before:  # at or past the end: the last frame stands
                yield window[-1], window[-1], 0.0
            else:
                yield window[0], window[-1], position - before

"""Encode and probe MP4 files: the one H.264 writer that every engine uses.

Every engine (the CPU preview now, diffusers models later) hands frames to ``Mp4Writer``::

    with Mp4Writer(path, width=1280, height=720, fps=24) as writer:
        for rgb in frames:                 # H×W×3 uint8 arrays
            writer.write_rgb(rgb)
    info = probe_video(path)               # VideoInfo(width=1280, ..., moov_before_mdat=True)

What the file always is, and why:

- H.264 (libx264), yuv420p, constant frame rate, exactly the frames written: the profile that every
  browser, phone and the clients of the APIs we emulate can play.
- Tagged BT.709, limited range, and converted with the BT.709 matrix to match the tags. Untagged
  HD video is guessed as BT.709 by some players and BT.601 by others, which shifts skin tones.
- ``movflags=faststart``: the moov atom comes before mdat, so a browser can start playing (and
  seeking with Range requests) before the download ends. FFmpeg rewrites the file in a second pass
  at close, so the writer needs a real path, not a BytesIO.
- Deterministic: the same frames give the same bytes. x264 is deterministic for a fixed thread
  count, so the count is fixed instead of following the machine's cores.
- Encoding runs on a thread of its own. PyAV releases the GIL inside x264, so a producer (the
  preview engine's warps, a model's VAE decode) overlaps with the encoder instead of taking turns.
- A model that makes sound (LTX-2) hands its waveform over as an ``AudioTrack``: it becomes an AAC
  track in the same file, muxed by the same thread right behind the video frames it belongs with
  (so the two interleave as players expect). Without one the file is video-only, as before.
"""

from __future__ import annotations

import contextlib
import io
import queue
import struct
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Final, TypeAlias

import av
import cv2
import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from vidgen.core.models import VideoInfo
from vidgen.media.audio import AacTrack, AudioInfo, AudioTrack, probe_audio

__all__ = [
    "DEFAULT_ENCODER",
    "AudioInfo",
    "AudioTrack",
    "EncoderSettings",
    "Mp4Writer",
    "U8Array",
    "VideoInfo",
    "Yuv420Planes",
    "frame_to_image",
    "jpeg_to_webp",
    "probe_audio",
    "probe_video",
    "read_frame",
    "rgb_to_yuv420p",
    "write_thumbnail",
]

U8Array: TypeAlias = npt.NDArray[np.uint8]

# BT.709 luma weights (ITU-R BT.709-6, table 3).
_KR: Final = 0.2126
_KB: Final = 0.0722
_KG: Final = 1.0 - _KR - _KB

# RGB (0…255) → limited-range Y′CbCr (Y 16…235, C 16…240), one row per output channel with the
# offset in the last column, in the shape cv2.transform takes.
_RGB_TO_YCBCR: Final = np.array(
    [
        [219 / 255 * _KR, 219 / 255 * _KG, 219 / 255 * _KB, 16.0],
        [
            224 / 255 * -_KR / (2 * (1 - _KB)),
            224 / 255 * -_KG / (2 * (1 - _KB)),
            224 / 255 * (1 - _KB) / (2 * (1 - _KB)),
            128.0,
        ],
        [
            224 / 255 * (1 - _KR) / (2 * (1 - _KR)),
            224 / 255 * -_KG / (2 * (1 - _KR)),
            224 / 255 * -_KB / (2 * (1 - _KR)),
            128.0,
        ],
    ],
    dtype=np.float32,
)

# FFmpeg's enum values (libavutil/pixfmt.h) for the tags we write and report.
_AVCOL_BT709: Final = 1
_AVCOL_RANGE_MPEG: Final = 1
_PRIMARIES = {1: "bt709", 2: "unknown", 5: "bt470bg", 6: "smpte170m", 9: "bt2020"}
_TRANSFERS = {1: "bt709", 2: "unknown", 6: "smpte170m", 13: "iec61966-2-1", 16: "smpte2084"}
_MATRICES = {0: "gbr", 1: "bt709", 2: "unknown", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc"}
_RANGES = {0: "unknown", 1: "tv", 2: "pc"}

#: Frames that may wait for the encoder thread. Enough to absorb jitter between producer and
#: encoder; more only holds memory (a 720p yuv420p frame is 1.4 MB).
_QUEUE_DEPTH: Final = 6


@dataclass(frozen=True)
class EncoderSettings:
    """The x264 knobs. The defaults were measured on a 2-core VM (``bench/RESULTS.md``).

    ``preset`` trades speed against file size at a given quality; ``crf`` sets the quality
    (lower is better, 18 is near-transparent, 23 is x264's default); ``x264_params`` overrides
    single options of the preset; ``threads`` is fixed, never "auto", because x264's output
    depends on it and the same frames must give the same file on every machine.
    """

    preset: str = "ultrafast"
    crf: int = 23
    # ultrafast's subme=0 predicts the preview's sub-pixel camera moves badly, so the same
    # quality took ~3× the bytes; subme=1 costs almost nothing. The deblocking filter hides
    # block edges on gradients (skies) at a few % of the time.
    x264_params: str = "subme=1:deblock=0,0"
    threads: int = 2
    thread_type: str = "FRAME"

    def codec_options(self) -> dict[str, str]:
        options = {"preset": self.preset, "crf": str(self.crf)}
        if self.x264_params:
            options["x264-params"] = self.x264_params
        return options


DEFAULT_ENCODER: Final = EncoderSettings()


@dataclass(frozen=True)
class Yuv420Planes:
    """One picture as BT.709 limited-range Y′CbCr 4:2:0: ``y`` is H×W, ``u`` (Cb) and ``v`` (Cr)
    are H/2×W/2, all uint8. Chroma samples sit at the centre of each 2×2 block of luma."""

    y: U8Array
    u: U8Array
    v: U8Array

    @classmethod
    def empty(cls, width: int, height: int) -> Yuv420Planes:
        """Uninitialised planes for a ``width``×``height`` picture (both even)."""
        _check_even(width, height)
        return cls(
            y=np.empty((height, width), np.uint8),
            u=np.empty((height // 2, width // 2), np.uint8),
            v=np.empty((height // 2, width // 2), np.uint8),
        )

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    def as_tuple(self) -> tuple[U8Array, U8Array, U8Array]:
        return self.y, self.u, self.v


def rgb_to_yuv420p(rgb: U8Array, out: Yuv420Planes | None = None) -> Yuv420Planes:
    """Convert an H×W×3 uint8 RGB picture (sRGB / BT.709 primaries) to BT.709 limited-range
    4:2:0 planes, writing into ``out`` when given.

    Chroma is the 2×2 box average, computed by averaging RGB first: the matrix is linear, so
    that is the same as averaging Cb/Cr, with one rounding instead of two.

    >>> planes = rgb_to_yuv420p(np.full((4, 4, 3), 255, np.uint8))
    >>> int(planes.y[0, 0]), int(planes.u[0, 0]), int(planes.v[0, 0])
    (235, 128, 128)
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 uint8 RGB array, got {rgb.dtype} {rgb.shape}")
    height, width = int(rgb.shape[0]), int(rgb.shape[1])
    if out is None:
        out = Yuv420Planes.empty(width, height)
    elif (out.width, out.height) != (width, height):
        raise ValueError(f"planes are {out.width}×{out.height}, the picture is {width}×{height}")
    rgb = np.ascontiguousarray(rgb)
    cv2.transform(rgb, _RGB_TO_YCBCR[0:1], dst=out.y)
    half = cv2.resize(rgb, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    cv2.transform(half, _RGB_TO_YCBCR[1:2], dst=out.u)
    cv2.transform(half, _RGB_TO_YCBCR[2:3], dst=out.v)
    return out


class Mp4Writer:
    """Write frames to an H.264 MP4 at ``path``; see the module docstring for what the file is.

    Use it as a context manager: a clean exit finishes the file (flush, faststart rewrite), an
    exception deletes it. ``write_rgb`` takes H×W×3 uint8 RGB; ``write_yuv`` takes ready
    ``Yuv420Planes`` and skips the colour conversion. Both copy the frame before returning, so
    the caller may reuse its buffers at once. Errors from the encoder thread surface on the next
    write or on ``close``.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        width: int,
        height: int,
        fps: int,
        encoder: EncoderSettings = DEFAULT_ENCODER,
        audio: AudioTrack | None = None,
    ) -> None:
        _check_even(width, height)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.width = width
        self.height = height
        self.fps = fps
        self.frames_written = 0
        self._error: BaseException | None = None
        self._aborted = False
        self._closed = False
        self._container = av.open(
            str(self.path), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        self._audio: AacTrack | None = None
        try:
            self._stream = self._open_stream(encoder)
            if audio is not None:
                self._audio = AacTrack(self._container, audio)
            # Open the encoder now, so that bad settings fail here and not on the encoder thread.
            self._container.start_encoding()
        except BaseException:
            self._container.close()
            self.path.unlink(missing_ok=True)
            raise
        self._queue: queue.Queue[VideoFrame | None] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._thread = threading.Thread(
            target=self._encode_loop, name=f"mp4-encode-{self.path.name}", daemon=True
        )
        self._thread.start()

    def _open_stream(self, encoder: EncoderSettings) -> VideoStream:
        stream = self._container.add_stream(
            "libx264", rate=self.fps, options=encoder.codec_options()
        )
        stream.width = self.width
        stream.height = self.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, self.fps)
        context = stream.codec_context
        context.thread_count = encoder.threads
        context.thread_type = encoder.thread_type
        # libx264 copies these into the stream's VUI, and the MP4 muxer into its colr box.
        context.color_primaries = _AVCOL_BT709
        context.color_trc = _AVCOL_BT709
        context.colorspace = _AVCOL_BT709
        context.color_range = _AVCOL_RANGE_MPEG
        return stream

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write_rgb(self, rgb: U8Array) -> None:
        """Append one H×W×3 uint8 RGB frame."""
        frame = self._new_frame()
        rgb_to_yuv420p(rgb, out=_frame_planes(frame))
        self._submit(frame)

    def write_yuv(self, planes: Yuv420Planes) -> None:
        """Append one frame given as BT.709 limited-range 4:2:0 planes (the fast path)."""
        if (planes.width, planes.height) != (self.width, self.height):
            raise ValueError(
                f"frame is {planes.width}×{planes.height}, the video is {self.width}×{self.height}"
            )
        frame = self._new_frame()
        for source, target in zip(planes.as_tuple(), _frame_planes(frame).as_tuple(), strict=True):
            np.copyto(target, source)
        self._submit(frame)

    def _new_frame(self) -> VideoFrame:
        if self._closed:
            raise ValueError("the writer is closed")
        self._raise_encoder_error()
        frame = VideoFrame(self.width, self.height, "yuv420p")
        frame.colorspace = _AVCOL_BT709
        frame.color_range = _AVCOL_RANGE_MPEG
        return frame

    def _submit(self, frame: VideoFrame) -> None:
        # Constant frame rate: frame n is shown at n / fps, whatever the producer's timing.
        frame.pts = self.frames_written
        frame.time_base = Fraction(1, self.fps)
        self._queue.put(frame)
        self.frames_written += 1

    def _encode_loop(self) -> None:
        """The encoder thread: encode and mux until the end marker, then flush. After an error
        or an abort it keeps taking frames off the queue unencoded, so that a producer never
        blocks on a full queue. Errors are handed to the producer's thread and raised there."""
        while (frame := self._queue.get()) is not None:
            if self._error is not None or self._aborted:
                continue
            try:
                self._container.mux(self._stream.encode(frame))
                if self._audio is not None:
                    # The sound that plays while this frame shows goes in right behind it.
                    self._audio.mux_until((int(frame.pts or 0) + 1) / self.fps)
            except BaseException as exc:
                self._error = exc
        if self._error is None and not self._aborted:
            try:
                self._container.mux(self._stream.encode(None))
                if self._audio is not None:
                    self._audio.mux_until(None)
            except BaseException as exc:
                self._error = exc

    def _raise_encoder_error(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"encoding {self.path.name} failed: {self._error}") from self._error

    def _stop_thread(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def close(self) -> None:
        """Flush the encoder and finish the file (including the faststart rewrite)."""
        if self._closed:
            return
        self._closed = True
        self._stop_thread()
        try:
            self._raise_encoder_error()
            if self.frames_written == 0:
                raise ValueError("no frames were written")
            self._container.close()
        except BaseException:
            with contextlib.suppress(Exception):
                self._container.close()
            self.path.unlink(missing_ok=True)
            raise

    def abort(self) -> None:
        """Stop without finishing the file, and delete it. Frames still queued are dropped."""
        if self._closed:
            return
        self._closed = True
        self._aborted = True
        self._stop_thread()
        with contextlib.suppress(Exception):
            self._container.close()
        self.path.unlink(missing_ok=True)


def probe_video(path: Path | str) -> VideoInfo:
    """Read the facts of the first video stream in ``path``.

    ``frame_count`` comes from the container's sample table, which for MP4 is exact; when a
    container has none, the packets are counted.
    """
    path = Path(path)
    moov_first = _moov_before_mdat(path)
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        frame_count = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = frame_count / fps if fps else 0.0
        return VideoInfo(
            width=context.width,
            height=context.height,
            fps=fps,
            frame_count=frame_count,
            duration=duration,
            codec=context.name,
            pix_fmt=context.pix_fmt or "unknown",
            moov_before_mdat=moov_first,
            color_primaries=_PRIMARIES.get(context.color_primaries, str(context.color_primaries)),
            color_transfer=_TRANSFERS.get(context.color_trc, str(context.color_trc)),
            color_space=_MATRICES.get(context.colorspace, str(context.colorspace)),
            color_range=_RANGES.get(context.color_range, str(context.color_range)),
        )


def _moov_before_mdat(path: Path) -> bool:
    """Walk the top-level MP4 boxes and say whether ``moov`` comes before ``mdat``."""
    size_on_disk = path.stat().st_size
    offset = 0
    with path.open("rb") as file:
        while offset + 8 <= size_on_disk:
            file.seek(offset)
            box_size, box_type = struct.unpack(">I4s", file.read(8))
            if box_type == b"moov":
                return True
            if box_type == b"mdat":
                return False
            if box_size == 1:  # 64-bit size follows the type
                (box_size,) = struct.unpack(">Q", file.read(8))
            elif box_size == 0:  # the box runs to the end of the file
                break
            if box_size < 8:
                break  # corrupt; do not loop forever
            offset += box_size
    return False


def read_frame(path: Path | str, index: int) -> Image.Image:
    """Decode frame ``index`` (0-based; negative counts from the end) as an RGB image, e.g.
    ``read_frame(path, probe_video(path).frame_count // 2)`` for a thumbnail.

    It decodes from the start instead of seeking: our clips are a few hundred frames, and
    seeking to a keyframe and counting forward is where off-by-one frames come from.
    """
    if index < 0:
        index += probe_video(path).frame_count
    if index < 0:
        raise IndexError("frame index out of range")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for position, frame in enumerate(container.decode(stream)):
            if position == index:
                return frame_to_image(frame)
    raise IndexError(f"frame {index} is past the end of {Path(path).name}")


def write_thumbnail(video: Path, frame_count: int, target: Path, *, max_width: int = 640) -> None:
    """A JPEG of the middle frame, at most ``max_width`` wide: the poster for lists and players."""
    image = read_frame(video, frame_count // 2)
    if image.width > max_width:
        image = image.resize(
            (max_width, round(image.height * max_width / image.width)), Image.Resampling.LANCZOS
        )
    image.save(target, "JPEG", quality=85, optimize=True)


def jpeg_to_webp(jpeg: bytes) -> bytes:
    """A thumbnail as WebP (the type OpenAI's ``/videos/{id}/content?variant=thumbnail``
    documents), from the stored JPEG one: same pixels, re-encoded."""
    with Image.open(io.BytesIO(jpeg)) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, "WEBP", quality=85)
    return out.getvalue()


def frame_to_image(frame: VideoFrame) -> Image.Image:
    """Convert a decoded frame to RGB with the matrix and range it is tagged with, taking
    untagged frames as BT.709 limited range (what we write, and what HD video means)."""
    colorspace = "ITU709" if frame.colorspace in (_AVCOL_BT709, 2) else "ITU601"
    src_range = "JPEG" if frame.color_range == 2 else "MPEG"
    rgb = frame.reformat(
        format="rgb24", src_colorspace=colorspace, src_color_range=src_range, dst_color_range="JPEG"
    )
    return Image.fromarray(rgb.to_ndarray(), "RGB")


def _frame_planes(frame: VideoFrame) -> Yuv420Planes:
    """Writable numpy views of a yuv420p frame's planes, without the alignment padding."""
    views = []
    for plane in frame.planes:
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
        views.append(rows[:, : plane.width])
    return Yuv420Planes(*views)


def _check_even(width: int, height: int) -> None:
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"yuv420p needs a positive, even width and height, got {width}×{height}")

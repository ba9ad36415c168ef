"""The sound of a clip: an AAC track muxed into the same MP4 as its video (``Mp4Writer``).

Models that generate sound with the picture (LTX-2) hand over a waveform; ``Mp4Writer`` takes it
as an ``AudioTrack`` and ``AacTrack`` encodes it with FFmpeg's native AAC encoder (deterministic,
like the video side) on the writer's encoder thread, so the container is only ever touched from
one thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer

__all__ = ["AacTrack", "AudioInfo", "AudioTrack", "probe_audio"]

#: AAC at this rate is transparent for the speech, music and effects a video model makes, and
#: small next to the video (about 1 MB a minute for stereo).
_AAC_BIT_RATE: Final = 128_000


@dataclass(frozen=True)
class AudioTrack:
    """Float samples in [-1, 1] shaped (channels, samples), 1 or 2 channels, at ``sample_rate``."""

    samples: npt.NDArray[np.float32]
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.shape[0] not in (1, 2):
            raise ValueError(
                f"expected (channels, samples) with 1 or 2 channels, got {self.samples.shape}"
            )
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")

    @property
    def duration(self) -> float:
        return int(self.samples.shape[1]) / self.sample_rate

    @property
    def layout(self) -> str:
        return "stereo" if self.samples.shape[0] == 2 else "mono"


class AacTrack:
    """An AAC stream in ``container``, fed from ``track`` as the video advances."""

    def __init__(self, container: OutputContainer, track: AudioTrack) -> None:
        self.track = track
        self.sent = 0  # samples handed to the encoder so far
        stream: AudioStream = container.add_stream("aac", rate=track.sample_rate)
        stream.layout = track.layout
        stream.time_base = Fraction(1, track.sample_rate)
        stream.codec_context.bit_rate = _AAC_BIT_RATE
        self._container, self._stream = container, stream

    def mux_until(self, seconds: float | None) -> None:
        """Encode and mux the samples up to ``seconds`` (the rest, and the encoder's tail, for
        None), in whole AAC frames."""
        samples, rate = self.track.samples, self.track.sample_rate
        total = int(samples.shape[1])
        end = total if seconds is None else min(total, round(seconds * rate))
        size = self._stream.codec_context.frame_size or 1024
        while self.sent < end and (seconds is None or self.sent + size <= end):
            chunk = np.ascontiguousarray(samples[:, self.sent : self.sent + size], dtype=np.float32)
            frame = AudioFrame.from_ndarray(chunk, format="fltp", layout=self.track.layout)
            frame.sample_rate = rate
            frame.pts = self.sent
            frame.time_base = Fraction(1, rate)
            self._container.mux(self._stream.encode(frame))
            self.sent += int(chunk.shape[1])
        if seconds is None:
            self._container.mux(self._stream.encode(None))


@dataclass(frozen=True)
class AudioInfo:
    """The first audio stream of a file, read back from the file."""

    codec: str  # "aac"
    sample_rate: int
    channels: int
    duration: float  # seconds


def probe_audio(path: Path | str) -> AudioInfo | None:
    """The facts of the first audio stream in ``path``, or None for a video-only file."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        context = stream.codec_context
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        return AudioInfo(
            codec=context.name,
            sample_rate=context.sample_rate,
            channels=context.channels,
            duration=duration,
        )

"""The MP4 writer and probe: what a player downloading our videos gets."""

from __future__ import annotations

import hashlib
import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidgen.media.video import (
    AudioTrack,
    EncoderSettings,
    Mp4Writer,
    probe_audio,
    probe_video,
    read_frame,
    rgb_to_yuv420p,
)

WIDTH, HEIGHT = 160, 96


def textured_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """Frames with detail that changes from frame to frame, so the encoder has real work."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    big = np.kron(base, np.ones((8, 8, 1), np.uint8))
    return [np.roll(big, shift=2 * i, axis=1) for i in range(count)]


def write(path: Path, frames: list[np.ndarray], fps: int = 24) -> Path:
    with Mp4Writer(path, width=frames[0].shape[1], height=frames[0].shape[0], fps=fps) as writer:
        for frame in frames:
            writer.write_rgb(frame)
    return path


def decode_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_the_file_is_h264_yuv420p_at_a_constant_rate_with_exactly_the_frames_written(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "out.mp4", textured_frames(30), fps=24)

    info = probe_video(path)

    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == 24
    assert info.frame_count == 30
    assert info.duration == pytest.approx(30 / 24)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        timestamps = [frame.pts for frame in container.decode(stream)]
        assert stream.average_rate == Fraction(24)
    assert len(timestamps) == 30
    steps = {b - a for a, b in itertools.pairwise(timestamps)}
    assert len(steps) == 1, "frames are evenly spaced"


def test_the_moov_atom_comes_first_so_playback_starts_before_the_download_ends(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "out.mp4", textured_frames(5))

    assert probe_video(path).moov_before_mdat is True


def test_the_probe_notices_a_file_whose_moov_atom_is_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "plain.mp4"
    with av.open(str(path), mode="w", format="mp4") as container:  # no faststart
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i, rgb in enumerate(textured_frames(3)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))

    assert probe_video(path).moov_before_mdat is False


def test_the_video_is_tagged_bt709_limited_range(tmp_path: Path) -> None:
    info = probe_video(write(tmp_path / "out.mp4", textured_frames(3)))

    assert (info.color_primaries, info.color_transfer, info.color_space) == ("bt709",) * 3
    assert info.color_range == "tv"


@pytest.mark.parametrize(
    "colour",
    [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (200, 150, 100)],
)
def test_flat_colours_come_back_as_they_went_in(tmp_path: Path, colour: tuple[int, ...]) -> None:
    # A matrix mismatch (BT.601 data tagged BT.709) would shift pure green by ~20 levels.
    frame = np.full((HEIGHT, WIDTH, 3), colour, np.uint8)
    path = write(tmp_path / "flat.mp4", [frame, frame])

    decoded = np.asarray(read_frame(path, 0)).astype(int)

    assert np.abs(decoded[HEIGHT // 2, WIDTH // 2] - np.array(colour)).max() <= 3


def test_the_conversion_uses_the_bt709_matrix_and_limited_range() -> None:
    white = rgb_to_yuv420p(np.full((2, 2, 3), 255, np.uint8))
    black = rgb_to_yuv420p(np.zeros((2, 2, 3), np.uint8))
    red = rgb_to_yuv420p(np.full((2, 2, 3), (255, 0, 0), np.uint8))

    assert (white.y[0, 0], white.u[0, 0], white.v[0, 0]) == (235, 128, 128)
    assert (black.y[0, 0], black.u[0, 0], black.v[0, 0]) == (16, 128, 128)
    # BT.709 red: Y′ = 16 + 219·0.2126, Cb = 128 − 224·0.2126/1.8556, Cr = 240.
    assert (red.y[0, 0], red.u[0, 0], red.v[0, 0]) == (63, 102, 240)


def test_ready_yuv_planes_encode_like_the_rgb_frames_they_came_from(tmp_path: Path) -> None:
    frames = textured_frames(6)
    rgb_path = write(tmp_path / "rgb.mp4", frames)
    yuv_path = tmp_path / "yuv.mp4"
    with Mp4Writer(yuv_path, width=WIDTH, height=HEIGHT, fps=24) as writer:
        for frame in frames:
            writer.write_yuv(rgb_to_yuv420p(frame))

    assert yuv_path.read_bytes() == rgb_path.read_bytes()


def test_the_same_frames_give_the_same_bytes(tmp_path: Path) -> None:
    frames = textured_frames(12)
    first = write(tmp_path / "a.mp4", frames).read_bytes()
    second = write(tmp_path / "b.mp4", frames).read_bytes()

    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_read_frame_returns_the_frame_at_that_position(tmp_path: Path) -> None:
    levels = [20, 60, 100, 140, 180, 220]
    frames = [np.full((HEIGHT, WIDTH, 3), level, np.uint8) for level in levels]
    path = write(tmp_path / "levels.mp4", frames)

    seen = [int(np.asarray(read_frame(path, i))[0, 0, 0]) for i in range(len(levels))]

    assert seen == pytest.approx(levels, abs=3)
    assert np.asarray(read_frame(path, -1))[0, 0, 0] == pytest.approx(220, abs=3)
    assert read_frame(path, len(levels) // 2).size == (WIDTH, HEIGHT)
    with pytest.raises(IndexError):
        read_frame(path, len(levels))


def test_frames_of_another_size_are_refused(tmp_path: Path) -> None:
    with Mp4Writer(tmp_path / "out.mp4", width=WIDTH, height=HEIGHT, fps=24) as writer:
        writer.write_rgb(textured_frames(1)[0])
        with pytest.raises(ValueError, match="80×48"):
            writer.write_yuv(rgb_to_yuv420p(np.zeros((48, 80, 3), np.uint8)))


@pytest.mark.parametrize("size", [(161, 96), (160, 95), (0, 96)])
def test_odd_or_empty_frame_sizes_are_refused_since_yuv420p_cannot_hold_them(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    with pytest.raises(ValueError, match="even"):
        Mp4Writer(tmp_path / "out.mp4", width=size[0], height=size[1], fps=24)


def test_a_failure_while_writing_leaves_no_half_written_file(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"

    with (
        pytest.raises(RuntimeError, match="boom"),
        Mp4Writer(path, width=WIDTH, height=HEIGHT, fps=24) as writer,
    ):
        writer.write_rgb(textured_frames(1)[0])
        raise RuntimeError("boom")

    assert not path.exists()


def test_closing_a_writer_that_got_no_frames_fails_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    writer = Mp4Writer(path, width=WIDTH, height=HEIGHT, fps=24)

    with pytest.raises(ValueError, match="no frames"):
        writer.close()

    assert not path.exists()


def test_encoder_settings_are_honoured(tmp_path: Path) -> None:
    frames = textured_frames(8)
    small = tmp_path / "small.mp4"
    with Mp4Writer(
        small, width=WIDTH, height=HEIGHT, fps=24, encoder=EncoderSettings(crf=40)
    ) as writer:
        for frame in frames:
            writer.write_rgb(frame)
    default = write(tmp_path / "default.mp4", frames)

    assert small.stat().st_size < default.stat().st_size


def test_bad_encoder_settings_fail_when_the_writer_is_created(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"

    with pytest.raises(av.error.FFmpegError):
        Mp4Writer(path, width=WIDTH, height=HEIGHT, fps=24, encoder=EncoderSettings(preset="warp9"))

    assert not path.exists()


def tones(seconds: float, rate: int = 24000) -> np.ndarray:
    """A 440 Hz tone on the left, 660 Hz on the right."""
    t = np.arange(round(seconds * rate), dtype=np.float32) / rate
    return (0.5 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)])).astype(
        np.float32
    )


def test_a_sound_track_becomes_an_aac_stream_in_the_same_file(tmp_path: Path) -> None:
    frames = textured_frames(48)
    path = tmp_path / "sound.mp4"
    with Mp4Writer(
        path, width=WIDTH, height=HEIGHT, fps=24, audio=AudioTrack(tones(2), 24000)
    ) as w:
        for frame in frames:
            w.write_rgb(frame)
    video, sound = probe_video(path), probe_audio(path)
    assert (video.frame_count, video.fps, video.moov_before_mdat) == (48, 24.0, True)
    assert sound is not None
    assert (sound.codec, sound.sample_rate, sound.channels) == ("aac", 24000, 2)
    assert abs(sound.duration - 2.0) < 0.05
    with av.open(str(path)) as container:
        decoded = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    with av.open(str(path)) as container:
        # Interleaved: the audio arrives along with the video, not all after it.
        kinds = [p.stream.type for p in container.demux() if p.size]
    first_audio, last_video = kinds.index("audio"), len(kinds) - 1 - kinds[::-1].index("video")
    assert first_audio < last_video
    # AAC is lossy and delays by its priming samples: compare the spectra, not the samples.
    left = np.abs(np.fft.rfft(decoded[0, 4800:28800]))
    right = np.abs(np.fft.rfft(decoded[1, 4800:28800]))
    bin_hz = 24000 / 24000
    assert abs(np.argmax(left) * bin_hz - 440) < 2 and abs(np.argmax(right) * bin_hz - 660) < 2


def test_without_a_sound_track_the_file_is_video_only(tmp_path: Path) -> None:
    assert probe_audio(write(tmp_path / "silent.mp4", textured_frames(4))) is None


def test_the_same_frames_and_sound_give_the_same_bytes(tmp_path: Path) -> None:
    digests = []
    for name in ("a.mp4", "b.mp4"):
        track = AudioTrack(tones(1), 24000)
        with Mp4Writer(tmp_path / name, width=WIDTH, height=HEIGHT, fps=24, audio=track) as w:
            for frame in textured_frames(24):
                w.write_rgb(frame)
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_a_sound_track_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="channels"):
        AudioTrack(np.zeros((3, 100), np.float32), 24000)

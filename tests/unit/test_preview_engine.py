"""The preview engine, judged by decoding the MP4s it writes, as a client would."""

from __future__ import annotations

import asyncio
import io
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from vidgen.core.engine import EngineContext, EngineJob, EngineResult
from vidgen.core.models import CapturedImage
from vidgen.engines.preview import PreviewEngine
from vidgen.engines.preview_motion import Camera, Move, move_from_prompt, plan_motion
from vidgen.errors import JobCancelled
from vidgen.media.images import fit_image_to_frame, inspect_image, load_rgb
from vidgen.media.video import probe_video
from vidgen.settings import Settings


class RecordingContext(EngineContext):
    """A worker stand-in: records progress, and reports the job cancelled once progress
    reaches ``cancel_at`` (or from the start, with ``cancel_at=0``)."""

    def __init__(self, scratch_dir: Path, cancel_at: float | None = None) -> None:
        self.scratch_dir = scratch_dir
        self.progress: list[float] = []
        self.state: dict[str, Any] = {}
        self._cancel_at = cancel_at
        self._cancelled = threading.Event()
        if cancel_at == 0:
            self._cancelled.set()

    def report_waiting(self, waiting: bool) -> None:
        pass

    def report_progress(self, fraction: float) -> None:
        self.progress.append(fraction)
        if self._cancel_at is not None and fraction >= self._cancel_at:
            self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    async def save_state(self, **state: Any) -> None:
        self.state.update(state)


@pytest.fixture
def engine(tmp_path: Path) -> PreviewEngine:
    return PreviewEngine(Settings(data_dir=tmp_path / "data"))


@pytest.fixture
def ctx(tmp_path: Path) -> RecordingContext:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return RecordingContext(scratch)


def capture(image: Image.Image, fmt: str = "PNG", **options: Any) -> CapturedImage:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return inspect_image(buffer.getvalue(), max_pixels=40_000_000)


def photo(width: int, height: int, seed: int = 0, markers: bool = True) -> Image.Image:
    """A photo-like picture: soft colour gradients and fine texture, with a red and a blue disc
    near the middle whose positions show how the camera moved."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            90 + 60 * np.sin(xs / width * 3 + seed),
            110 + 50 * np.cos(ys / height * 4 + seed),
            100 + 40 * np.sin((xs + ys) / (width + height) * 5),
        ],
        -1,
    )
    base += (
        rng.normal(0, 10, (height // 4, width // 4, 1)).repeat(4, 0).repeat(4, 1)[:height, :width]
    )
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    if markers:
        radius = max(6, width // 28)
        for (fx, fy), colour in (((0.42, 0.42), (255, 0, 0)), ((0.58, 0.58), (0, 0, 255))):
            cx, cy = fx * width, fy * height
            image.paste(
                colour,
                (round(cx - radius), round(cy - radius), round(cx + radius), round(cy + radius)),
            )
    return image


def make_job(
    *,
    prompt: str = "",
    seed: int = 1,
    width: int = 320,
    height: int = 180,
    frames: int = 24,
    first: CapturedImage | None = None,
    last: CapturedImage | None = None,
) -> EngineJob:
    return EngineJob(
        id="job-1",
        model="runway/gen4_turbo",
        prompt=prompt,
        aspect_ratio="16:9",
        width=width,
        height=height,
        fps=24,
        duration=max(1, frames // 24),
        frame_count=frames,
        seed=seed,
        first_image=first,
        last_image=last,
    )


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def marker_centres(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (x, y) of the red and of the blue disc."""
    pixels = frame.astype(int)
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    blue = (pixels[..., 2] > 180) & (pixels[..., 0] < 90) & (pixels[..., 1] < 90)
    assert red.sum() > 20 and blue.sum() > 20, "both markers are in view"
    return (
        np.array([np.nonzero(red)[1].mean(), np.nonzero(red)[0].mean()]),
        np.array([np.nonzero(blue)[1].mean(), np.nonzero(blue)[0].mean()]),
    )


def content_motion(first: np.ndarray, last: np.ndarray) -> tuple[float, float, float]:
    """How the content changed from the first frame to the last: (scale, dx, dy), the shift
    in units of the frame size, measured on the two markers."""
    (red_a, blue_a), (red_b, blue_b) = marker_centres(first), marker_centres(last)
    scale = float(np.linalg.norm(blue_b - red_b) / np.linalg.norm(blue_a - red_a))
    shift = ((red_b + blue_b) - (red_a + blue_a)) / 2
    return scale, float(shift[0] / first.shape[1]), float(shift[1] / first.shape[0])


async def render(engine: PreviewEngine, ctx: RecordingContext, job: EngineJob) -> list[np.ndarray]:
    result = await engine.generate(job, ctx)
    return decode(result.path)


async def test_a_five_second_720p_job_is_an_h264_mp4_of_120_frames_that_streams(
    engine: PreviewEngine, ctx: RecordingContext
) -> None:
    job = make_job(
        prompt="slow zoom in", width=1280, height=720, frames=120, first=capture(photo(1600, 1000))
    )

    result = await engine.generate(job, ctx)
    info = probe_video(result.path)

    assert isinstance(result, EngineResult)
    assert result.path.parent == ctx.scratch_dir
    assert (result.width, result.height, result.fps, result.frame_count) == (1280, 720, 24.0, 120)
    assert result.duration == 5.0
    assert (info.width, info.height, info.fps, info.frame_count) == (1280, 720, 24.0, 120)
    assert (info.codec, info.pix_fmt, info.moov_before_mdat) == ("h264", "yuv420p", True)
    assert info.color_space == "bt709" and info.color_range == "tv"
    with av.open(str(result.path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 120


async def test_the_first_frame_is_the_input_image_filled_and_cropped_to_the_frame(
    engine: PreviewEngine, ctx: RecordingContext
) -> None:
    first = capture(photo(500, 500))  # square into 16:9: the top and bottom are cropped
    frames = await render(engine, ctx, make_job(prompt="zoom in", first=first))

    expected = np.asarray(fit_image_to_frame(load_rgb(first), 320, 180))
    assert psnr(frames[0], expected) > 30


@pytest.mark.parametrize(
    ("prompt", "zoom_in"),
    [
        ("a slow zoom in on the lighthouse", True),
        ("The dragon rushes toward the camera", True),
        ("camera pushes in on her face", True),
        ("zoom out to reveal the city", False),
        ("the ship recedes into the fog", False),
    ],
)
async def test_a_zoom_in_prompt_magnifies_the_content_and_zoom_out_shrinks_it(
    engine: PreviewEngine, ctx: RecordingContext, prompt: str, zoom_in: bool
) -> None:
    frames = await render(engine, ctx, make_job(prompt=prompt, first=capture(photo(320, 180))))

    scale, _, _ = content_motion(frames[0], frames[-1])
    middle_scale, _, _ = content_motion(frames[0], frames[len(frames) // 2])

    if zoom_in:
        assert scale > 1.12
        assert 1.0 < middle_scale < scale, "the zoom is gradual"
    else:
        assert scale < 1 / 1.12
        assert scale < middle_scale < 1.0


@pytest.mark.parametrize(
    ("prompt", "axis", "direction"),
    [
        ("pan left across the valley", 0, +1),  # the camera turns left: the scene slides right
        ("the camera pans right", 0, -1),
        ("tilt up to the sky", 1, +1),  # the camera looks up: the scene slides down
        ("slow tilt down", 1, -1),
    ],
)
async def test_pans_and_tilts_slide_the_scene_the_right_way_without_zooming(
    engine: PreviewEngine, ctx: RecordingContext, prompt: str, axis: int, direction: int
) -> None:
    frames = await render(engine, ctx, make_job(prompt=prompt, first=capture(photo(320, 180))))

    scale, dx, dy = content_motion(frames[0], frames[-1])
    along, across = (dx, dy) if axis == 0 else (dy, dx)

    assert scale == pytest.approx(1.0, abs=0.03)
    assert along * direction > 0.08, "the scene moves a good way along the axis"
    assert abs(across) < abs(along) / 2


async def test_the_same_job_gives_identical_frames(tmp_path: Path, engine: PreviewEngine) -> None:
    first = capture(photo(320, 180))
    runs = []
    for name in ("a", "b"):
        scratch = tmp_path / name
        scratch.mkdir()
        runs.append(await render(engine, RecordingContext(scratch), make_job(first=first, seed=9)))

    assert len(runs[0]) == len(runs[1]) == 24
    assert all(np.array_equal(a, b) for a, b in zip(*runs, strict=True))


@pytest.mark.parametrize("change", ["seed", "prompt"])
async def test_another_seed_or_prompt_gives_other_frames(
    tmp_path: Path, engine: PreviewEngine, change: str
) -> None:
    first = capture(photo(320, 180))
    base = {"first": first, "seed": 9, "prompt": "a quiet harbour"}
    other = {**base, change: 10 if change == "seed" else "zoom out of a quiet harbour"}
    runs = []
    for name, fields in (("a", base), ("b", other)):
        scratch = tmp_path / name
        scratch.mkdir()
        runs.append(await render(engine, RecordingContext(scratch), make_job(**fields)))

    assert not np.array_equal(runs[0][-1], runs[1][-1])


async def test_with_a_tail_image_the_video_travels_from_the_first_image_to_the_tail_image(
    engine: PreviewEngine, ctx: RecordingContext
) -> None:
    first, last = capture(photo(400, 300, seed=1)), capture(photo(640, 360, seed=5, markers=False))
    job = make_job(prompt="pan right", first=first, last=last, frames=48)

    frames = await render(engine, ctx, job)

    fitted_first = np.asarray(fit_image_to_frame(load_rgb(first), 320, 180))
    fitted_last = np.asarray(fit_image_to_frame(load_rgb(last), 320, 180))
    assert psnr(frames[0], fitted_first) > 30
    assert psnr(frames[-1], fitted_last) > 30
    middle = frames[len(frames) // 2]
    assert psnr(middle, fitted_first) < 25 and psnr(middle, fitted_last) < 25, "a transition"


@pytest.mark.parametrize("prompt", ["zoom in", "zoom out", "tilt up", "push in"])
async def test_every_move_with_a_tail_image_ends_exactly_on_the_tail_image(
    engine: PreviewEngine, ctx: RecordingContext, prompt: str
) -> None:
    last = capture(photo(320, 180, seed=4, markers=False))
    job = make_job(prompt=prompt, first=capture(photo(320, 180, seed=2)), last=last)

    frames = await render(engine, ctx, job)

    assert psnr(frames[-1], np.asarray(load_rgb(last))) > 30


async def test_an_exif_rotated_photo_is_shown_upright(
    engine: PreviewEngine, ctx: RecordingContext
) -> None:
    upright = Image.new("RGB", (320, 180), (0, 200, 0))
    upright.paste((255, 0, 0), (0, 0, 320, 60))  # red sky on top
    upright.paste((0, 0, 255), (0, 120, 320, 180))  # blue ground below
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": the sensor stored it turned left
    stored = capture(upright.rotate(90, expand=True), "JPEG", exif=exif.tobytes(), quality=95)

    frames = await render(engine, ctx, make_job(prompt="zoom in", first=stored))

    top, bottom = frames[0][10, 160].astype(int), frames[0][170, 160].astype(int)
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


async def test_without_any_image_it_animates_a_landscape_painted_from_the_prompt(
    tmp_path: Path, engine: PreviewEngine
) -> None:
    async def run(name: str, prompt: str, seed: int) -> list[np.ndarray]:
        scratch = tmp_path / name
        scratch.mkdir()
        return await render(engine, RecordingContext(scratch), make_job(prompt=prompt, seed=seed))

    sunset = await run("a", "mountains at sunset, zoom in", 3)
    again = await run("b", "mountains at sunset, zoom in", 3)
    night = await run("c", "a lake at night, zoom in", 3)
    reseeded = await run("d", "mountains at sunset, zoom in", 4)

    assert len(sunset) == 24
    assert all(np.array_equal(a, b) for a, b in zip(sunset, again, strict=True))
    assert float(np.std(sunset[0])) > 10, "a picture, not a flat fill"
    assert not np.array_equal(sunset[0], night[0])
    assert not np.array_equal(sunset[0], reseeded[0])
    assert night[0].mean() < sunset[0].mean(), "night is darker"
    assert not np.array_equal(sunset[0], sunset[-1]), "the camera moves"


async def test_a_tail_image_without_a_first_image_ends_on_the_tail_image(
    engine: PreviewEngine, ctx: RecordingContext
) -> None:
    last = capture(photo(320, 180, seed=6))

    frames = await render(engine, ctx, make_job(prompt="a meadow", last=last))

    assert psnr(frames[-1], np.asarray(load_rgb(last))) > 30


async def test_progress_only_grows_and_ends_at_one(
    engine: PreviewEngine, ctx: RecordingContext
) -> None:
    await engine.generate(make_job(first=capture(photo(320, 180)), frames=48), ctx)

    assert len(ctx.progress) >= 10
    assert ctx.progress == sorted(ctx.progress)
    assert all(0.0 <= value <= 1.0 for value in ctx.progress)
    assert ctx.progress[-1] == 1.0
    assert ctx.progress[0] < 0.2, "reported from the start, not only at the end"


async def test_cancelling_midway_stops_the_render_promptly_and_leaves_no_file(
    tmp_path: Path, engine: PreviewEngine
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ctx = RecordingContext(scratch, cancel_at=0.2)
    job = make_job(first=capture(photo(320, 180)), frames=480)

    with pytest.raises(JobCancelled):
        await engine.generate(job, ctx)

    assert max(ctx.progress) < 0.3, "stopped within a few frames of the cancel flag"
    assert list(scratch.iterdir()) == []


async def test_a_job_cancelled_before_it_starts_renders_nothing(
    tmp_path: Path, engine: PreviewEngine
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ctx = RecordingContext(scratch, cancel_at=0)

    with pytest.raises(JobCancelled):
        await engine.generate(make_job(first=capture(photo(320, 180))), ctx)

    assert ctx.progress == [] and list(scratch.iterdir()) == []


async def test_cancelling_the_task_also_stops_the_render_thread(
    engine: PreviewEngine, ctx: RecordingContext
) -> None:
    job = make_job(first=capture(photo(320, 180)), frames=2400)
    task = asyncio.create_task(engine.generate(job, ctx))
    while not ctx.progress:
        await asyncio.sleep(0.01)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 5
    while list(ctx.scratch_dir.iterdir()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)

    assert list(ctx.scratch_dir.iterdir()) == [], "the thread stopped and removed its file"
    assert max(ctx.progress) < 0.5


async def test_rendering_does_not_block_the_event_loop(
    engine: PreviewEngine, ctx: RecordingContext
) -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    await engine.generate(
        make_job(first=capture(photo(640, 360)), width=640, height=360, frames=96), ctx
    )
    elapsed = time.monotonic() - started
    done.set()
    await ticking

    # A render on the loop would allow one tick at most; a free loop ticks every few ms.
    assert ticks >= min(10, elapsed / 0.05)


@pytest.mark.parametrize(
    ("prompt", "move"),
    [
        ("Zoom in on the cat", Move.ZOOM_IN),
        ("a close-up of a flower", Move.ZOOM_IN),
        ("zooming out over the forest", Move.ZOOM_OUT),
        ("the car pulls away down the road", Move.ZOOM_OUT),
        ("a balloon recedes into the clouds", Move.ZOOM_OUT),
        ("dolly out from the table", Move.ZOOM_OUT),
        ("pan left across the skyline", Move.PAN_LEFT),
        ("the camera pans to the right", Move.PAN_RIGHT),
        ("tilt up from the street to the tower", Move.TILT_UP),
        ("Tilting down to the river", Move.TILT_DOWN),
        ("slow push in", Move.PUSH_IN),
        ("dolly shot of the hallway", Move.PUSH_IN),
        ("a horse rushes toward the camera", Move.PUSH_IN),
        ("pan left, then zoom in", Move.PAN_LEFT),  # the first camera phrase wins
        ("a cat sleeping on a sofa", None),
        ("Japan leftovers", None),
    ],
)
def test_the_camera_move_is_read_from_the_prompt(prompt: str, move: Move | None) -> None:
    assert move_from_prompt(prompt) == move


def test_without_camera_words_the_seed_picks_the_move_and_keeps_it() -> None:
    moves = [plan_motion("a cat on a sofa", seed, has_tail=False).move for seed in range(60)]

    assert moves == [plan_motion("a cat on a sofa", s, has_tail=False).move for s in range(60)]
    assert len(set(moves)) == len(Move), "every move is reachable"


def test_the_seed_varies_the_amplitude_of_a_move() -> None:
    zooms = {round(plan_motion("zoom in", s, has_tail=False).first.end.zoom, 3) for s in range(10)}

    assert len(zooms) == 10


@pytest.mark.parametrize(("move", "has_tail"), list(itertools.product(Move, [False, True])))
def test_the_camera_never_looks_outside_the_image(move: Move, has_tail: bool) -> None:
    for seed in range(25):
        plan = plan_motion(move.value, seed, has_tail=has_tail)
        assert plan.move is move
        paths = [plan.first] + ([plan.last] if plan.last is not None else [])
        for path, t in itertools.product(paths, np.linspace(0, 1, 41)):
            camera: Camera = path.at(float(t))
            half = 0.5 / camera.zoom
            assert camera.zoom >= 1.0
            assert half - 1e-9 <= camera.cx <= 1 - half + 1e-9
            assert half - 1e-9 <= camera.cy <= 1 - half + 1e-9

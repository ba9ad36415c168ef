"""The diffusers engine on tiny pipelines (random weights, built from configs, no hub): what a
client gets, judged from the MP4s it writes, and the speed paths checked against plain
diffusers. Skipped, with the reason, where the gpu extra is not installed."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the gpu extra (torch, diffusers) is not installed")
pytest.importorskip("diffusers", reason="the gpu extra (torch, diffusers) is not installed")

from tests.conftest import make_image  # noqa: E402
from vidgen.core.engine import EngineContext, EngineJob  # noqa: E402
from vidgen.core.models import CapturedImage  # noqa: E402
from vidgen.engines.diffusion import decode  # noqa: E402
from vidgen.engines.diffusion.architectures import build_pipeline  # noqa: E402
from vidgen.engines.diffusion.engine import DiffusersEngine, spec_for  # noqa: E402
from vidgen.engines.diffusion.models import recipe_for  # noqa: E402
from vidgen.engines.diffusion.render import (  # noqa: E402
    DiffusionRuntime,
    EngineOptions,
    RenderRequest,
)
from vidgen.errors import JobCancelled  # noqa: E402
from vidgen.media.images import fit_image_to_frame, inspect_image, load_rgb  # noqa: E402
from vidgen.media.video import probe_audio, probe_video, read_frame  # noqa: E402
from vidgen.settings import Settings  # noqa: E402

WAN = "wan2.1-i2v-14b-480p"
WAN5B = "wan2.2-ti2v-5b"
FLF = "wan2.1-flf2v-14b-720p"
LTX = "ltx-video-0.9.7-distilled"
WAN22 = "wan2.2-i2v-a14b-480p"
LTX2 = "ltx-2.3-distilled"
HUNYUAN = "hunyuanvideo-1.5-i2v-480p"


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # Tiny matrices: OpenMP threads cost more than they bring, and the suite runs beside
    # other processes on two cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each tiny model saved as diffusers saves real weights."""
    root = tmp_path_factory.mktemp("weights")
    saved = {}
    for model_id in (WAN, WAN5B, FLF, LTX, WAN22, LTX2, HUNYUAN):
        saved[model_id] = root / model_id
        build_pipeline(model_id, seed=7).save_pretrained(saved[model_id])
    return saved


class Context(EngineContext):
    """A worker stand-in: records progress; cancels once progress reaches ``cancel_at``."""

    def __init__(self, scratch_dir: Path, cancel_at: float | None = None) -> None:
        scratch_dir.mkdir(parents=True, exist_ok=True)
        self.scratch_dir = scratch_dir
        self.progress: list[float] = []
        self.waiting: list[bool] = []
        self._cancel_at = cancel_at
        self._cancelled = threading.Event()

    def report_progress(self, fraction: float) -> None:
        self.progress.append(fraction)
        if self._cancel_at is not None and fraction >= self._cancel_at:
            self._cancelled.set()

    def report_waiting(self, waiting: bool) -> None:
        self.waiting.append(waiting)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    async def save_state(self, **state: Any) -> None:
        pass


def captured(seed: int = 0, width: int = 320, height: int = 180) -> CapturedImage:
    return inspect_image(make_image(width, height, seed=seed), max_pixels=10**8)


def job(model: str, *, width: int = 64, height: int = 48, seed: int = 1, **extra: Any) -> EngineJob:
    values: dict[str, Any] = {
        "id": "job",
        "model": model,
        "prompt": "slow zoom in on the summit",
        "aspect_ratio": "16:9",
        "width": width,
        "height": height,
        "fps": 16,
        "duration": 1,
        "seed": seed,
        "first_image": captured(),
        "last_image": None,
    }
    values.update(extra)
    # As the service fixes it at submit: the model's frame rule applied to the duration.
    spec = spec_for(model)
    values.setdefault("frame_count", spec.frame_count(values["duration"]) if spec else 16)
    return EngineJob(**values)


#: Denoising steps for the tests (the engine's step override): each step of a tiny model costs
#: Python overhead only, and 4 are enough for progress, cancel and seeds to show.
STEPS = 4


def engine_for(tmp_path: Path, weights: dict[str, Path], **settings: Any) -> DiffusersEngine:
    settings.setdefault("gpu_steps", STEPS)
    return DiffusersEngine(
        Settings(
            data_dir=tmp_path / "data",
            model_paths={k: str(v) for k, v in weights.items()},
            gpu_device="cpu",
            **settings,
        )
    )


def run(engine: DiffusersEngine, the_job: EngineJob, ctx: Context) -> Path:
    return asyncio.run(engine.generate(the_job, ctx)).path


def frames_of(path: Path) -> np.ndarray:
    count = probe_video(path).frame_count
    return np.stack([np.asarray(read_frame(path, i)) for i in (0, count // 2, count - 1)])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sound_of(path: Path) -> np.ndarray:
    """The decoded AAC samples of ``path``, (channels, samples)."""
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)


# -- what a client gets --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "width", "height", "fps", "frames"),
    [
        (WAN, 64, 48, 16, 17),
        (WAN5B, 64, 64, 24, 25),
        (LTX, 96, 64, 24, 25),
        (WAN22, 64, 48, 16, 17),
        (LTX2, 96, 64, 24, 25),
        (HUNYUAN, 64, 64, 24, 25),
    ],
)
def test_a_job_becomes_an_mp4_of_the_models_frame_count_and_size_with_rising_progress(
    tmp_path: Path,
    weights: dict[str, Path],
    model: str,
    width: int,
    height: int,
    fps: int,
    frames: int,
) -> None:
    ctx = Context(tmp_path)
    result = asyncio.run(
        engine_for(tmp_path, weights).generate(job(model, width=width, height=height, fps=fps), ctx)
    )
    info = probe_video(result.path)
    assert (info.width, info.height, info.frame_count) == (width, height, frames)
    assert info.fps == fps and result.frame_count == frames
    assert ctx.progress == sorted(ctx.progress) and ctx.progress[-1] == 1.0
    assert len([p for p in ctx.progress if 0 < p < 0.9]) >= STEPS - 1  # one per denoising step
    sound = probe_audio(result.path)
    if model == LTX2:  # the model's sound, as long as the video, in the same file
        assert sound is not None and sound.codec == "aac" and sound.sample_rate == 24000
        assert sound.channels == 2 and abs(sound.duration - frames / fps) < 0.1
    else:
        assert sound is None


def test_a_prompt_alone_becomes_a_video_with_sound_on_a_model_with_a_text_pipeline(
    tmp_path: Path, weights: dict[str, Path]
) -> None:
    engine = engine_for(tmp_path, weights)
    alone = job(LTX2, width=64, height=64, first_image=None)
    result = asyncio.run(engine.generate(alone, Context(tmp_path / "t")))
    info, sound = probe_video(result.path), probe_audio(result.path)
    assert (info.width, info.height, info.frame_count) == (64, 64, 25)
    assert sound is not None and sound.duration > 0.9
    with_image = run(engine, job(LTX2, width=64, height=64), Context(tmp_path / "i"))
    assert not np.array_equal(frames_of(result.path)[0], frames_of(with_image)[0])


def test_the_same_seed_gives_the_same_video_and_another_seed_another(
    tmp_path: Path, weights: dict[str, Path]
) -> None:
    engine = engine_for(tmp_path, weights)
    first = run(engine, job(WAN, seed=5), Context(tmp_path / "a"))
    again = run(engine, job(WAN, seed=5), Context(tmp_path / "b"))
    other = run(engine, job(WAN, seed=6), Context(tmp_path / "c"))
    assert digest(first) == digest(again)
    assert digest(first) != digest(other)


@pytest.mark.parametrize(("model", "frames"), [(WAN5B, 25), (WAN22, 17), (LTX2, 25), (HUNYUAN, 25)])
def test_loading_from_a_saved_directory_gives_identical_frames(
    tmp_path: Path, weights: dict[str, Path], model: str, frames: int
) -> None:
    """The engine's real loading path (from_pretrained, local files only) against the pipeline
    object that was saved: the same frames, bit for bit, and the same sound (to float rounding:
    the reloaded vocoder's waveform differs by ~1e-8, which AAC may round either way)."""
    the_job = job(model, width=64, height=64, fps=24)
    engine = engine_for(tmp_path, weights)
    loaded = run(engine, the_job, Context(tmp_path))
    runtime = DiffusionRuntime(EngineOptions(device="cpu", dtype=torch.float32, steps=STEPS))
    runtime.adopt(model, build_pipeline(model, seed=7))
    built = tmp_path / "built.mp4"
    built_stats = runtime.render(render_request(the_job, frames), built)
    assert np.array_equal(frames_of(loaded), frames_of(built))
    if model == LTX2:
        assert engine._runtime is not None  # the pipeline the engine loaded, still warm
        again = engine._runtime.render(render_request(the_job, frames), tmp_path / "again.mp4")
        assert again.audio is not None and built_stats.audio is not None
        assert np.allclose(again.audio.samples, built_stats.audio.samples, atol=1e-6)
        assert sound_of(loaded).shape == sound_of(built).shape


def render_request(the_job: EngineJob, frames: int, *, fps: int | None = None) -> RenderRequest:
    assert the_job.first_image is not None
    picture = fit_image_to_frame(load_rgb(the_job.first_image), the_job.width, the_job.height)
    last = None
    if the_job.last_image is not None:
        last = fit_image_to_frame(load_rgb(the_job.last_image), the_job.width, the_job.height)
    return RenderRequest(
        model_id=the_job.model,
        prompt=the_job.prompt,
        width=the_job.width,
        height=the_job.height,
        num_frames=frames,
        fps=fps or the_job.fps,
        seed=the_job.seed,
        first_image=picture,
        last_image=last,
    )


@pytest.mark.parametrize("model", [FLF, LTX])
def test_a_last_image_conditions_the_last_frame(
    tmp_path: Path, weights: dict[str, Path], model: str
) -> None:
    engine = engine_for(tmp_path, weights)
    with_tail = run(
        engine,
        job(model, width=64, height=64, last_image=captured(seed=3)),
        Context(tmp_path / "t"),
    )
    if model == LTX:
        without = run(engine, job(model, width=64, height=64), Context(tmp_path / "n"))
        assert not np.array_equal(frames_of(with_tail)[-1], frames_of(without)[-1])
    assert probe_video(with_tail).frame_count == (25 if model == LTX else 17)


@pytest.mark.parametrize("model", [WAN, WAN22, LTX2, HUNYUAN])
def test_a_cancel_stops_at_the_next_step_and_the_engine_keeps_serving(
    tmp_path: Path, weights: dict[str, Path], model: str
) -> None:
    engine = engine_for(tmp_path, weights)
    ctx = Context(tmp_path / "cancelled", cancel_at=0.3)
    with pytest.raises(JobCancelled):
        run(engine, job(model, width=64, height=64), ctx)
    assert max(ctx.progress) < 0.5  # it stopped mid-denoising, not after the decode
    assert not (tmp_path / "cancelled" / "diffusers.mp4").exists()
    runtime = engine._runtime
    assert runtime is not None and runtime.model_id == model  # still warm
    after = Context(tmp_path / "after")
    run(engine, job(model, width=64, height=64), after)
    assert after.progress[0] > 0  # no reload share: the model was warm
    assert after.progress[-1] == 1.0


def test_a_cancel_seen_at_the_last_step_does_not_report_the_denoising_done(
    tmp_path: Path,
) -> None:
    """A job cancelled during its last step stops there, and its progress stays that of the
    steps before: a client never sees a cancelled job jump to the end of its denoising."""
    runtime = DiffusionRuntime(EngineOptions(device="cpu", dtype=torch.float32, steps=2))
    runtime.adopt(WAN, build_pipeline(WAN, seed=1))
    reported: list[float] = []
    checks = iter(range(100))  # checked before the first step, then after each
    with pytest.raises(JobCancelled):
        runtime.render(
            render_request(job(WAN, width=64, height=64), 17),
            tmp_path / "x.mp4",
            progress=reported.append,
            should_stop=lambda: next(checks) >= 2,  # the cancel arrives during step 2 of 2
        )
    assert reported == [0.45]


def test_a_cancelled_job_holds_none_of_its_tensors_once_the_cancel_is_raised(
    tmp_path: Path,
) -> None:
    """The worker holds the cancel's exception while it records the cancel (and asyncio's
    futures keep it in reference cycles until a collection): its traceback must not keep the
    job's latents and conditioning alive, on a GPU their memory."""
    pipe = build_pipeline(WAN, seed=1)
    runtime = DiffusionRuntime(EngineOptions(device="cpu", dtype=torch.float32, steps=STEPS))
    runtime.adopt(WAN, pipe)
    made: list[weakref.ref[torch.Tensor]] = []
    prepare = pipe.prepare_latents

    def prepare_and_watch(*args: Any, **kwargs: Any) -> Any:
        outputs = prepare(*args, **kwargs)  # the noise and the first frame's conditioning
        made.extend(weakref.ref(t) for t in outputs if isinstance(t, torch.Tensor))
        return outputs

    pipe.prepare_latents = prepare_and_watch
    checks = iter(range(100))
    with pytest.raises(JobCancelled) as cancelled:
        runtime.render(
            render_request(job(WAN, width=64, height=64), 17),
            tmp_path / "x.mp4",
            should_stop=lambda: next(checks) > 2,
        )
    assert cancelled.value.__traceback__ is not None  # still held, as the worker holds it
    assert made and all(ref() is None for ref in made)


def test_jobs_take_turns_on_the_gpu_and_a_waiting_job_says_it_waits(
    tmp_path: Path, weights: dict[str, Path]
) -> None:
    engine = engine_for(tmp_path, weights)
    contexts = [Context(tmp_path / name) for name in ("one", "two")]

    async def both() -> None:
        await asyncio.gather(*(engine.generate(job(WAN), ctx) for ctx in contexts))

    asyncio.run(both())
    assert contexts[1].waiting == [True, False]
    assert all(ctx.progress[-1] == 1.0 for ctx in contexts)


# -- the speed paths, checked against plain diffusers ------------------------------------


@pytest.mark.parametrize("model", [WAN, WAN5B])
def test_streamed_wan_decode_gives_exactly_the_frames_of_vae_decode(model: str) -> None:
    pipe = build_pipeline(model, seed=3)
    channels = pipe.vae.config.z_dim
    latents = torch.randn(1, channels, 5, 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = pipe.vae.decode(latents, return_dict=False)[0]
        chunks = list(decode.decoded_chunks(pipe, latents, streaming=True, decode_timestep=None))
    assert len(chunks) == 5  # one per latent frame: the encoder starts after the first
    assert torch.equal(torch.cat(chunks, dim=2), whole)


@pytest.mark.parametrize(
    ("model", "frames"), [(WAN, 17), (LTX, 25), (WAN22, 17), (LTX2, 25), (HUNYUAN, 17)]
)
def test_the_engine_renders_what_plain_diffusers_renders(
    tmp_path: Path, model: str, frames: int
) -> None:
    """Same weights, same seed: the engine's latents-then-streamed-decode path against the
    pipeline's own decode and post-processing, within one 8-bit level; LTX-2's sound is the
    waveform the pipeline returns, sample for sample."""
    pipe = build_pipeline(model, seed=11)
    runtime = DiffusionRuntime(EngineOptions(device="cpu", dtype=torch.float32, steps=STEPS))
    runtime.adopt(model, pipe)
    request = render_request(job(model, width=64, height=64), frames)
    recipe = recipe_for(model)
    assert recipe is not None
    plain_kwargs = runtime.call_arguments(recipe, request)
    # The decode options that the engine applies itself go back to the pipeline here.
    plain_kwargs.update({k: v for k, v in recipe.call_options.items() if k.startswith("decode_")})
    output = pipe(**plain_kwargs, output_type="np", return_dict=False)
    plain = output[0][0]  # (F, H, W, 3) in [0, 1]
    captured_frames: list[np.ndarray] = []
    stats = runtime.render(request, tmp_path / "engine.mp4", frame_sink=captured_frames.append)
    ours = np.concatenate(captured_frames).astype(np.float64) / 255
    assert ours.shape == plain.shape
    assert np.abs(ours - plain).max() <= 0.5 / 255 + 1e-6
    if model == LTX2:
        assert stats.audio is not None
        waveform = output[1][0].float().numpy()
        assert stats.audio.sample_rate == pipe.vocoder.config.output_sampling_rate
        length = stats.audio.samples.shape[1]
        assert length <= waveform.shape[1]  # trimmed to the video, never padded
        assert np.allclose(stats.audio.samples, np.clip(waveform[:, :length], -1, 1), atol=1e-6)


@pytest.mark.parametrize(("model", "frames"), [(WAN22, 17), (LTX2, 25), (HUNYUAN, 17)])
def test_the_engines_lossless_options_apply_to_every_model_and_keep_its_frames(
    tmp_path: Path, model: str, frames: int
) -> None:
    """Fused projections (the engine's default on a GPU) on each model: the same frames, within
    float rounding, as without (LTX-2, whose attention cannot be fused, keeps its own)."""
    outputs = []
    for fuse in (False, True):
        runtime = DiffusionRuntime(
            EngineOptions(device="cpu", dtype=torch.float32, steps=STEPS, fuse_projections=fuse)
        )
        runtime.adopt(model, build_pipeline(model, seed=2))
        captured_frames: list[np.ndarray] = []
        runtime.render(
            render_request(job(model, width=64, height=64), frames),
            tmp_path / f"{fuse}.mp4",
            frame_sink=captured_frames.append,
        )
        outputs.append(np.concatenate(captured_frames).astype(np.int16))
    assert np.abs(outputs[0] - outputs[1]).max() <= 1


def test_fused_projections_keep_the_output(tmp_path: Path) -> None:
    pipe = build_pipeline(WAN, seed=2)
    transformer = pipe.transformer
    generator = torch.Generator().manual_seed(0)
    inputs = {
        "hidden_states": torch.randn(1, 36, 2, 4, 4, generator=generator),
        "timestep": torch.tensor([500]),
        "encoder_hidden_states": torch.randn(1, 8, 32, generator=generator),
        "encoder_hidden_states_image": torch.randn(1, 1025, 4, generator=generator),
        "return_dict": False,
    }
    with torch.no_grad():
        before = transformer(**inputs)[0]
        transformer.fuse_qkv_projections()
        after = transformer(**inputs)[0]
    assert torch.allclose(before, after, atol=1e-5)

"""The open-weight models as the catalog and the start-up checks see them: no torch needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vidgen.configuration import ConfigurationError, check_configuration
from vidgen.core.catalog import DEFAULT_MODELS, OPEN_WEIGHT_MODELS, Catalog
from vidgen.core.models import GenerationRequest, ImageRef
from vidgen.core.validation import validate_request
from vidgen.engines.diffusion.engine import DiffusersEngine
from vidgen.engines.diffusion.models import RECIPES
from vidgen.engines.diffusion.weights import model_dir, weights_problem
from vidgen.settings import Settings

#: The grid each family's VAE and patch size need, and its trained pixel count.
GRID = {
    "wan2.2-ti2v-5b": (32, 1280 * 704),
    "wan2.1-i2v-14b-480p": (16, 832 * 480),
    "wan2.1-i2v-14b-720p": (16, 1280 * 720),
    "wan2.1-flf2v-14b-720p": (16, 1280 * 720),
    "ltx-video-0.9.7-distilled": (32, 1216 * 704),
    "wan2.2-i2v-a14b-480p": (16, 832 * 480),
    "wan2.2-i2v-a14b-720p": (16, 1280 * 720),
    "ltx-2.3-distilled": (32, 768 * 512),
    # HunyuanVideo-1.5's buckets hold at most 640² pixels.
    "hunyuanvideo-1.5-i2v-480p": (16, 640 * 640),
}


def test_an_open_model_is_listed_where_it_is_routed_and_only_there() -> None:
    assert set(RECIPES) == {spec.id for spec in OPEN_WEIGHT_MODELS}
    plain = Catalog.build()
    assert all(plain.find(spec.id) is None for spec in OPEN_WEIGHT_MODELS)
    routed = Catalog.build(
        routes={"wan2.2-ti2v-5b": "diffusers", "ltx-video-0.9.7-distilled": "preview"}
    )
    assert routed.engine_for("wan2.2-ti2v-5b") == "diffusers"
    assert routed.engine_for("ltx-video-0.9.7-distilled") == "preview"  # emulated on a laptop
    assert routed.find("wan2.1-i2v-14b-480p") is None


@pytest.mark.parametrize("spec", OPEN_WEIGHT_MODELS, ids=lambda s: s.id)
def test_frame_sizes_are_on_the_models_grid_and_within_its_trained_size(spec: object) -> None:
    multiple, area = GRID[spec.id]  # type: ignore[attr-defined]
    for ratio, (width, height) in spec.frame_sizes.items():  # type: ignore[attr-defined]
        assert width % multiple == 0 and height % multiple == 0, (ratio, width, height)
        assert width * height <= area * 1.001, (ratio, width, height)
        shape = [int(part) for part in ratio.split(":")]
        assert abs(width / height - shape[0] / shape[1]) < 0.06, (ratio, width, height)


def test_durations_become_the_models_valid_frame_counts_at_its_own_fps() -> None:
    catalog = Catalog.build([*DEFAULT_MODELS, *OPEN_WEIGHT_MODELS])
    assert catalog.get("wan2.1-i2v-14b-480p").frame_count(5) == 81  # 4k+1 at 16 fps
    assert catalog.get("wan2.2-ti2v-5b").frame_count(5) == 121  # 4k+1 at 24 fps
    assert catalog.get("ltx-video-0.9.7-distilled").frame_count(5) == 121  # 8k+1
    assert catalog.get("ltx-video-0.9.7-distilled").frame_count(10) == 241
    assert catalog.get("wan2.1-i2v-14b-480p").frame_count(1) == 17
    assert catalog.get("wan2.2-i2v-a14b-720p").frame_count(5) == 81  # 4k+1 at 16 fps
    assert catalog.get("ltx-2.3-distilled").frame_count(5) == 121  # 8k+1 at 24 fps
    assert catalog.get("hunyuanvideo-1.5-i2v-480p").frame_count(5) == 121  # 4k+1 at 24 fps
    assert catalog.get("runway/gen4_turbo").frame_count(5) == 120  # unchanged for the others
    for spec in OPEN_WEIGHT_MODELS:
        for duration in spec.durations:
            count = spec.frame_count(duration)
            assert (count - 1) % spec.frame_step == 0
            assert abs(count / spec.fps - duration) <= spec.frame_step / spec.fps


def test_hunyuan_sizes_are_the_buckets_its_pipeline_picks_for_each_ratio() -> None:
    """HunyuanVideo-1.5 takes no size: it picks a bucket from the image's ratio. A catalog size
    that is not that bucket would make frames of another size than the job says."""
    pytest.importorskip("diffusers", reason="the gpu extra is not installed")
    from diffusers.pipelines.hunyuan_video1_5.image_processor import (
        HunyuanVideo15ImageProcessor,
    )

    processor = HunyuanVideo15ImageProcessor(vae_scale_factor=16)
    spec = Catalog.build(OPEN_WEIGHT_MODELS).get("hunyuanvideo-1.5-i2v-480p")
    for ratio, (width, height) in spec.frame_sizes.items():
        bucket = processor.calculate_default_height_width(height, width, target_size=640)
        assert bucket == (height, width), ratio


def test_a_prompt_alone_is_accepted_only_by_a_model_with_a_text_pipeline(tmp_path: Path) -> None:
    catalog = Catalog.build([*DEFAULT_MODELS, *OPEN_WEIGHT_MODELS])
    alone = GenerationRequest(model="ltx-2.3-distilled", prompt="waves on a beach at night")
    assert validate_request(catalog.get("ltx-2.3-distilled"), alone) == []
    wan = GenerationRequest(model="wan2.2-i2v-a14b-480p", prompt="waves on a beach at night")
    errors = validate_request(catalog.get("wan2.2-i2v-a14b-480p"), wan)
    assert [e.field for e in errors] == ["first_image"]
    assert all(RECIPES[spec.id].needs_image == spec.requires_image for spec in OPEN_WEIGHT_MODELS)


def test_a_last_frame_is_refused_clearly_where_the_model_cannot_use_it() -> None:
    catalog = Catalog.build([*DEFAULT_MODELS, *OPEN_WEIGHT_MODELS])
    request = GenerationRequest(
        model="wan2.2-ti2v-5b",
        prompt="a boat",
        first_image=ImageRef(url="data:,"),
        last_image=ImageRef(url="data:,"),
    )
    errors = validate_request(catalog.get("wan2.2-ti2v-5b"), request)
    assert [(e.field, e.text()) for e in errors] == [
        ("last_image", "wan2.2-ti2v-5b does not accept a last frame")
    ]


def test_first_and_last_frame_model_requires_the_last_frame(tmp_path: Path) -> None:
    engine = DiffusersEngine(Settings(data_dir=tmp_path))
    spec = Catalog.build([*DEFAULT_MODELS, *OPEN_WEIGHT_MODELS]).get("wan2.1-flf2v-14b-720p")
    alone = GenerationRequest(model=spec.id, prompt="x", first_image=ImageRef(url="data:,"))
    (error,) = engine.validate(spec, alone)
    assert error.field == "last_image" and "wan2.1-i2v-14b-720p" in error.reason
    both = GenerationRequest(
        model=spec.id, prompt="x", first_image=ImageRef(url="data:,"), last_image=ImageRef(url="")
    )
    assert engine.validate(spec, both) == []


def test_missing_weights_are_reported_at_start_up_with_what_to_download_and_where(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, routes={"wan2.2-ti2v-5b": "diffusers"}, gpu_device="cpu")
    with pytest.raises(ConfigurationError) as caught:
        check_configuration(settings)
    problem = str(caught.value)
    assert "Wan-AI/Wan2.2-TI2V-5B-Diffusers" in problem
    assert str(tmp_path / "models" / "wan2.2-ti2v-5b") in problem
    assert "vidgen models pull wan2.2-ti2v-5b" in problem
    # Only the models routed to the engine are its business.
    check_configuration(Settings(data_dir=tmp_path, gpu_device="cpu"))


def test_an_incomplete_weights_directory_names_the_missing_component(tmp_path: Path) -> None:
    target = tmp_path / "w"
    (target / "vae").mkdir(parents=True)
    (target / "vae" / "config.json").write_text("{}")
    (target / "model_index.json").write_text(
        '{"_class_name": "WanImageToVideoPipeline", "vae": ["diffusers", "AutoencoderKLWan"],'
        ' "transformer": ["diffusers", "WanTransformer3DModel"], "image_encoder": [null, null]}'
    )
    settings = Settings(data_dir=tmp_path, model_paths={"wan2.1-i2v-14b-480p": str(target)})
    assert model_dir(settings, "wan2.1-i2v-14b-480p") == target
    problem = weights_problem(settings, "wan2.1-i2v-14b-480p")
    assert problem is not None and "no transformer" in problem and "vae" not in problem


@pytest.mark.parametrize(
    "model", ["wan2.2-i2v-a14b-480p", "ltx-2.3-distilled", "hunyuanvideo-1.5-i2v-480p"]
)
def test_a_complete_weights_directory_of_each_new_model_passes_the_start_up_check(
    tmp_path: Path, model: str
) -> None:
    """Every component diffusers saves (a guider, connectors, a vocoder, two experts) is
    recognised as present."""
    pytest.importorskip("diffusers", reason="the gpu extra is not installed")
    from vidgen.engines.diffusion.architectures import build_pipeline

    build_pipeline(model).save_pretrained(tmp_path / model)
    settings = Settings(data_dir=tmp_path, model_paths={model: str(tmp_path / model)})
    assert weights_problem(settings, model) is None


def test_a_route_to_a_model_without_a_recipe_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, routes={"gen3a_turbo": "diffusers"}, gpu_device="cpu")
    with pytest.raises(ConfigurationError, match="gen3a_turbo"):
        check_configuration(settings)


def test_the_engine_registers_without_importing_torch() -> None:
    code = (
        "import sys\n"
        "from vidgen.engines.registry import engine_class\n"
        "from vidgen.configuration import check_configuration\n"
        "from vidgen.settings import Settings\n"
        "engine_class('diffusers')\n"
        "check_configuration(Settings())\n"
        "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_models_pull_downloads_into_the_models_dir_and_checks_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = pytest.importorskip("huggingface_hub", reason="the gpu extra is not installed")
    from typer.testing import CliRunner

    from vidgen.cli.main import app

    calls: list[dict[str, object]] = []

    def fake_snapshot_download(**kwargs: object) -> str:
        calls.append(kwargs)
        target = Path(str(kwargs["local_dir"]))
        (target / "vae").mkdir(parents=True, exist_ok=True)
        (target / "vae" / "config.json").write_text("{}")
        (target / "model_index.json").write_text('{"vae": ["diffusers", "AutoencoderKLWan"]}')
        return str(target)

    monkeypatch.setattr(hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.delenv("VIDGEN_MODELS_DIR", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["models", "pull", "wan2.2-ti2v-5b", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert calls[0]["repo_id"] == "Wan-AI/Wan2.2-TI2V-5B-Diffusers"
    assert calls[0]["local_dir"] == str(tmp_path / "models" / "wan2.2-ti2v-5b")
    assert "VIDGEN_ROUTES=wan2.2-ti2v-5b=diffusers" in result.output

    unknown = runner.invoke(app, ["models", "pull", "gen3a_turbo", "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 2 and "ltx-video-0.9.7-distilled" in unknown.output

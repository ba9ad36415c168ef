"""The seed's own example program runs against vidgen to "Generation complete"."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import av
import httpx
import pytest

from tests.conftest import TEST_KEY, ImageServer, LiveServer, make_image

pytestmark = pytest.mark.slow

SEED_PROGRAM = Path(__file__).with_name("seed_example.py")
SEED_IMAGE = (
    "https://upload.wikimedia.org/wikipedia/commons/thumb/6/68/Liebener_Spitze_SW.JPG/"
    "1280px-Liebener_Spitze_SW.JPG"
)


def test_the_seed_example_program_runs_to_generation_complete(
    live_server: LiveServer, image_server: ImageServer, tmp_path: Path
) -> None:
    image_url = image_server.add(
        "Liebener_Spitze_SW.jpg", make_image(1280, 720, fmt="JPEG"), "image/jpeg"
    )
    program = SEED_PROGRAM.read_text()
    assert program.count("https://api.aimlapi.com") == 2 and SEED_IMAGE in program
    program = (
        program.replace("https://api.aimlapi.com", live_server.base_url)
        .replace("<YOUR_AIMLAPI_KEY>", TEST_KEY)
        .replace(SEED_IMAGE, image_url)
    )
    script = tmp_path / "example.py"
    script.write_text(program)
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "Generation: {'id':" in run.stdout
    assert "Generation complete" in run.stdout
    final = ast.literal_eval(run.stdout.split("Generation complete:/n", 1)[1].strip())
    assert final["status"] == "completed"
    video = httpx.get(final["video"]["url"], timeout=30)
    assert video.status_code == 200
    (tmp_path / "seed.mp4").write_bytes(video.content)
    with av.open(str(tmp_path / "seed.mp4")) as container:
        stream = container.streams.video[0]
        assert sum(1 for _ in container.decode(stream)) == 120
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)

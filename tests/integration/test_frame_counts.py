"""One source for a job's frame count: the model's frame rule, applied once at submit. An
open-weight model emulated by ``preview`` renders exactly the frames the diffusers engine would
(Wan takes 4k+1 frames: 1 s at 24 fps is 25 frames, not 24)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TEST_KEY, data_uri, make_image, make_settings
from vidgen.core.models import GenerationRequest, ImageRef, Status
from vidgen.core.storage import video_key
from vidgen.media.video import probe_video
from vidgen.wiring import Runtime
from vidgen.worker.runner import Worker


async def test_an_emulated_wan_job_renders_the_models_own_frame_count(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", routes={"wan2.2-ti2v-5b": "preview"})
    runtime = await Runtime.start(settings)
    try:
        spec = runtime.catalog.get("wan2.2-ti2v-5b")
        key = await runtime.keys.authenticate(TEST_KEY)
        assert key is not None
        request = GenerationRequest(
            model=spec.id,
            prompt="slow zoom in",
            first_image=ImageRef(url=data_uri(make_image(128, 72))),
            aspect_ratio="16:9",
            duration=1,
        )
        queued = (await runtime.service.generations.submit(key, request)).generation
        assert queued.frames == spec.frame_count(1) == 25
        worker = Worker(
            store=runtime.jobs,
            storage=runtime.storage,
            engines=runtime.engines,
            settings=settings,
        )
        claimed = await runtime.jobs.claim_next(worker.name, lease_seconds=30)
        assert claimed is not None
        assert await worker.execute(claimed) == "completed"
        done = await runtime.service.generations.get(key, queued.id)
        assert done.status is Status.COMPLETED and done.video is not None
        assert done.video.frame_count == 25
        path = settings.data_dir / "objects" / video_key(queued.id)
        assert probe_video(path).frame_count == 25
    finally:
        await runtime.aclose()

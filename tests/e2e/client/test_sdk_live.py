"""The SDK against a real ``vidgen serve`` on loopback: real HTTP, real MP4s decoded with PyAV."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from tests.conftest import OTHER_KEY, TEST_KEY, ImageServer, LiveServer, make_image, make_video
from tests.e2e.client.conftest import LIST_KEY
from vidgen.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    Generation,
    GenerationFailed,
    InsufficientCredits,
    NotFound,
    PollPolicy,
    Timeout,
    ValidationError,
)

pytestmark = pytest.mark.slow

QUICK = PollPolicy(initial=0.1, factor=1.5, maximum=0.4)


def sdk(server: LiveServer, key: str = TEST_KEY) -> Client:
    return Client(key, base_url=server.base_url, poll=QUICK)


def probe(path: Path) -> tuple[int, int, int]:
    """(frames, width, height), decoding every frame."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.codec_context.width, stream.codec_context.height


def test_a_local_file_becomes_a_downloaded_mp4_with_progress_reported_on_the_way(
    working_server: LiveServer, tmp_path: Path
) -> None:
    image = tmp_path / "summit.png"
    image.write_bytes(make_image(800, 450))
    seen: list[Generation] = []
    with sdk(working_server) as client:
        created = client.generations.create(
            image=image, prompt="slow zoom in", aspect_ratio="16:9", duration=5, seed=11
        )
        assert created.status == "queued"
        done = client.generations.wait(created, timeout=60, on_progress=seen.append)
        path = client.download(done, tmp_path / "summit.mp4")
    assert done.succeeded and done.seed == 11 and done.engine == "preview"
    assert done.usage is not None and done.usage.credits_used == 8
    assert seen[-1].status == "completed"
    progress = [g.progress for g in seen if g.progress is not None]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert probe(path) == (120, 1280, 720)
    assert not (tmp_path / "summit.mp4.part").exists()


def test_the_async_client_runs_generations_side_by_side_from_pil_images_and_bytes(
    working_server: LiveServer, image_server: ImageServer, tmp_path: Path
) -> None:
    portrait = Image.new("RGB", (360, 640), (200, 80, 40))
    tail_url = image_server.add("tail.png", make_image(640, 384, seed=2))

    async def run() -> list[Path]:
        async with AsyncClient(TEST_KEY, base_url=working_server.base_url, poll=QUICK) as client:
            jobs = await asyncio.gather(
                client.generations.generate(image=portrait, prompt="tilt up", aspect_ratio="9:16"),
                client.generations.generate(
                    image=make_image(640, 384), tail_image=tail_url, model="gen3a_turbo"
                ),
            )
            return [await client.download(job, tmp_path / f"{i}.mp4") for i, job in enumerate(jobs)]

    portrait_mp4, landscape_mp4 = asyncio.run(run())
    assert probe(portrait_mp4) == (120, 720, 1280)
    assert probe(landscape_mp4) == (120, 1280, 768)


def test_a_prompt_alone_makes_a_video_from_text_with_the_default_text_model(
    working_server: LiveServer, tmp_path: Path
) -> None:
    with sdk(working_server) as client:
        done = client.generations.generate(prompt="a lighthouse at dusk", duration=2, timeout=60)
        path = client.download(done, tmp_path / "lighthouse.mp4")
    assert done.model == "runway/gen4.5" and done.aspect_ratio == "16:9"
    assert probe(path) == (48, 1280, 720)  # the model's 16:9 size, 2 s at 24 fps


def test_the_async_client_sends_a_local_video_and_reference_images_to_video_to_video(
    working_server: LiveServer, image_server: ImageServer, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(make_video(64, 36, frames=72, fps=24))  # 3 s, seedance2's shortest
    style = image_server.add("style.png", make_image(64, 64, seed=3))

    async def run() -> tuple[Generation, Path]:
        async with AsyncClient(TEST_KEY, base_url=working_server.base_url, poll=QUICK) as client:
            done = await client.generations.generate(
                video=clip,
                references=[style, make_image(48, 48, seed=4)],
                prompt="in watercolour",
                model="bytedance/seedance2",
                timeout=60,
            )
            return done, await client.download(done, tmp_path / "styled.mp4")

    done, path = asyncio.run(run())
    assert "/style.png" in image_server.hits  # the server fetched the reference it was sent
    assert done.model == "bytedance/seedance2"
    assert probe(path) == (72, 1280, 720)  # as long as the input, at the nearest ratio to it


def test_a_queued_generation_is_cancelled_and_its_wait_ends_as_cancelled(
    idle_server: LiveServer,
) -> None:
    with sdk(idle_server) as client:
        created = client.generations.create(image=make_image())
        cancelled = client.generations.cancel(created)
        assert cancelled.status == "error" and cancelled.error is not None
        assert cancelled.error.name == "Cancelled"
        assert cancelled.usage is not None and cancelled.usage.credits_used == 0  # refunded
        with pytest.raises(GenerationFailed) as caught:
            client.generations.wait(created.id)
    assert caught.value.name == "Cancelled"


def test_a_wait_on_a_job_that_never_starts_times_out_with_its_last_status(
    idle_server: LiveServer,
) -> None:
    with sdk(idle_server) as client:
        created = client.generations.create(image=make_image())
        with pytest.raises(Timeout) as caught:
            client.generations.wait(created, timeout=1.0)
        client.generations.cancel(created)
    assert caught.value.generation is not None
    assert caught.value.generation.status == "queued"
    # It waited out its timeout (the unit tests check the deadline itself on a fake clock).
    assert caught.value.waited >= 1.0


def test_a_key_pages_through_its_own_generations_newest_first(idle_server: LiveServer) -> None:
    with sdk(idle_server, LIST_KEY) as client, sdk(idle_server, OTHER_KEY) as other:
        mine = [client.generations.create(image=make_image(seed=i)).id for i in range(5)]
        first = client.generations.list(limit=2)
        assert [g.id for g in first] == mine[::-1][:2] and first.has_more
        assert [g.id for g in client.generations.iterate(page_size=2)] == mine[::-1]
        assert {g.id for g in client.generations.iterate(status="queued")} == set(mine)
        assert set(mine).isdisjoint(g.id for g in other.generations.iterate())
        for gen_id in mine:
            client.generations.cancel(gen_id)
        assert client.generations.list(status="queued").data == []
        assert len(client.generations.list(status="error", limit=100)) == 5


def test_a_real_servers_errors_arrive_typed(working_server: LiveServer, broke_key: str) -> None:
    with sdk(working_server) as client:
        with pytest.raises(ValidationError) as invalid:
            client.generations.create(image=make_image(), aspect_ratio="5:5", duration=11)
        assert set(invalid.value.fields) == {"aspect_ratio", "duration"}
        assert "16:9" in invalid.value.fields["aspect_ratio"]
        with pytest.raises(NotFound):
            client.generations.get("no-such-generation")
        theirs = client.generations.create(image=make_image())
    with sdk(working_server, OTHER_KEY) as other, pytest.raises(NotFound):
        other.generations.get(theirs.id)
    with sdk(working_server, "vg_not_a_real_key") as stranger, pytest.raises(AuthenticationError):
        stranger.generations.get(theirs.id)
    with sdk(working_server, broke_key) as broke, pytest.raises(InsufficientCredits) as poor:
        broke.generations.create(image=make_image())
    assert poor.value.status_code == 403 and "credits" in poor.value.message.lower()


def test_models_show_ratios_with_frame_sizes_durations_and_prices(
    working_server: LiveServer,
) -> None:
    with sdk(working_server) as client:
        models = {m.id: m for m in client.models.list()}
    gen4 = models["runway/gen4_turbo"]
    assert gen4.engine == "preview" and gen4.aspect_ratios["21:9"] == "1584x672"
    assert gen4.durations == list(range(2, 11))
    assert (gen4.credits[5], gen4.credits[10], gen4.credits[7]) == (8, 15, 12)
    assert models["gen3a_turbo"].credits == {5: 8, 10: 15}
    assert models["gen3a_turbo"].aspect_ratios == {"16:9": "1280x768", "9:16": "768x1280"}


def create_and_wait(shell: str, server: LiveServer, **options: Any) -> tuple[str, Generation]:
    """``generations.create(**options)`` (its id), then ``wait``, on the blocking client or on
    the asyncio one."""
    if shell == "sync":
        with sdk(server) as client:
            created = client.generations.create(**options)
            return created.id, client.generations.wait(created, timeout=60)

    async def run() -> tuple[str, Generation]:
        async with AsyncClient(TEST_KEY, base_url=server.base_url, poll=QUICK) as client:
            created = await client.generations.create(**options)
            return created.id, await client.generations.wait(created, timeout=60)

    return asyncio.run(run())


@pytest.mark.parametrize("shell", ["sync", "async"])
def test_both_clients_send_a_creates_options_and_take_it_once_under_one_idempotency_key(
    working_server: LiveServer, shell: str
) -> None:
    options: dict[str, Any] = {
        "image": make_image(64, 36, seed=9),
        "prompt": "pan left",
        "aspect_ratio": "9:16",
        "duration": 2,
        "seed": 5,
        "idempotency_key": f"order-{shell}",
    }
    first, done = create_and_wait(shell, working_server, **options)
    again, _ = create_and_wait(shell, working_server, **options)
    assert again == first == done.id  # stored and charged once
    assert (done.aspect_ratio, done.duration, done.seed) == ("9:16", 2, 5)
    with pytest.raises(TypeError, match="create\\(\\) got an unexpected keyword argument 'imgae'"):
        create_and_wait(shell, working_server, imgae=make_image())

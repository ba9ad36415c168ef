"""Every request kind through ``GenerationService`` on the in-memory store: what each kind needs,
what it is refused for (naming the field), the input videos it captures (data URIs and a
loopback URL, probed with PyAV), and the output it plans and prices. Inputs are real MP4s made
with PyAV; capture is the real ``VideoCapture``."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ImageServer, data_uri, make_image, make_settings, make_video
from vidgen.core.catalog import Catalog
from vidgen.core.keys import ApiKey
from vidgen.core.models import GenerationRequest, ImageRef, Keyframe, Kind
from vidgen.core.storage import remove_outputs
from vidgen.errors import InvalidRequest
from vidgen.media.capture import VideoCapture
from vidgen.media.fetch import SafeFetcher
from vidgen.service.generations import GenerationService
from vidgen.storage.local import LocalStorage
from vidgen.store.memory import MemoryStore

IMAGE = ImageRef(url=data_uri(make_image(64, 36)))
#: 2 s at 24 fps, 64×36 (16:9 in shape).
CLIP = ImageRef(url=data_uri(make_video(64, 36, frames=48, fps=24), "video/mp4"))
#: 3 s at 24 fps: long enough to drive act_two (3 to 30 s).
PERFORMANCE = ImageRef(url=data_uri(make_video(48, 64, frames=72, fps=24), "video/mp4"))


@dataclass
class World:
    service: GenerationService
    store: MemoryStore

    async def key(self, credits: int | None = 1000) -> ApiKey:
        key, _ = await self.store.keys.create(f"k{len(self.store.ledger())}", credits=credits)
        return key

    async def submit(self, **fields: Any) -> Any:
        return (await self.service.submit(await self.key(), GenerationRequest(**fields))).generation

    async def refused(self, **fields: Any) -> dict[str, str]:
        with pytest.raises(InvalidRequest) as refused:
            await self.submit(**fields)
        return {e.field: e.reason for e in refused.value.errors}


def make_world(tmp_path: Path, fetcher: SafeFetcher, **overrides: object) -> World:
    settings = make_settings(tmp_path / "data", **overrides)
    store = MemoryStore()
    videos = VideoCapture(fetcher, settings)

    async def check_webhook_url(url: str) -> str | None:
        return None

    service = GenerationService(
        generations=store.generations,
        catalog=Catalog.build(),
        engines={},
        capture_image=videos.images,
        capture_video=videos,
        capture_media=videos.media,
        check_webhook_url=check_webhook_url,
        remove_outputs=functools.partial(remove_outputs, LocalStorage(tmp_path / "files")),
        settings=settings,
    )
    return World(service, store)


@pytest.fixture(scope="module")
def fetcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SafeFetcher]:
    # One for the module (its TLS context costs more than a test); loopback URLs allowed.
    shared = SafeFetcher.from_settings(make_settings(tmp_path_factory.mktemp("fetcher")))
    yield shared
    asyncio.run(shared.aclose())


@pytest.fixture
async def world(tmp_path: Path, fetcher: SafeFetcher) -> AsyncIterator[World]:
    yield make_world(tmp_path, fetcher)


async def test_text_to_video_renders_the_models_default_size_and_duration(world: World) -> None:
    gen = await world.submit(model="runway/gen4.5", prompt="a harbour at dawn")
    assert gen.kind is Kind.TEXT_TO_VIDEO
    assert (gen.width, gen.height, gen.duration, gen.fps, gen.frames) == (1280, 720, 5, 24, 120)
    assert gen.credits == 5 * 12


async def test_a_first_and_last_frame_make_an_image_to_video_with_both_stored(
    world: World,
) -> None:
    gen = await world.submit(
        model="google/veo3.1",
        prompt="p",
        first_image=IMAGE,
        last_image=IMAGE,
        kind=Kind.IMAGE_TO_VIDEO,
        options={"audio": False, "negative_prompt": "fog"},
    )
    assert gen.kind is Kind.IMAGE_TO_VIDEO and gen.has_first_image and gen.has_last_image
    assert (gen.duration, gen.frames, gen.credits) == (8, 192, 8 * 40)
    assert gen.facts.options == {"audio": False, "negative_prompt": "fog"}


async def test_video_to_video_follows_the_input_videos_length_and_shape(world: World) -> None:
    gen = await world.submit(
        model="runway/aleph2",
        prompt="in watercolour",
        video=CLIP,
        keyframes=(Keyframe(IMAGE, seconds=1.0, range=(1, 2)),),
        kind=Kind.VIDEO_TO_VIDEO,
    )
    # 2 s of input at the model's 24 fps; 16:9 from the 64×36 input; 15 credits a second.
    assert (gen.width, gen.height, gen.frames, gen.duration, gen.credits) == (
        1280,
        720,
        48,
        2,
        30,
    )
    video = gen.facts.videos["video"]
    assert (video.width, video.height, video.fps, video.frame_count) == (64, 36, 24.0, 48)
    assert set(gen.facts.images) == {"key0"}
    assert (gen.facts.keyframes[0].seconds, gen.facts.keyframes[0].range) == (1.0, (1, 2))


async def test_a_character_performance_is_as_long_as_its_performance(world: World) -> None:
    gen = await world.submit(
        model="runway/act_two",
        character=ImageRef(url=data_uri(make_image(36, 64))),
        performance=PERFORMANCE,
        kind=Kind.CHARACTER_PERFORMANCE,
        options={"expression_intensity": 4},
    )
    # Portrait character → 9:16; 3 s of performance at 5 credits a second.
    assert (gen.width, gen.height, gen.frames, gen.duration, gen.credits) == (720, 1280, 72, 3, 15)
    assert set(gen.facts.images) == {"character"} and set(gen.facts.videos) == {"performance"}


async def test_a_character_may_be_a_video(world: World) -> None:
    gen = await world.submit(
        model="runway/act_two",
        character=CLIP,
        performance=PERFORMANCE,
        kind=Kind.CHARACTER_PERFORMANCE,
    )
    assert set(gen.facts.videos) == {"character", "performance"} and gen.width == 1280


async def test_an_upscale_keeps_the_frames_at_the_resolutions_short_side(world: World) -> None:
    gen = await world.submit(
        model="magnific/video_upscaler_creative",
        video=CLIP,
        kind=Kind.UPSCALE,
        options={"resolution": "720p"},
    )
    assert (gen.width, gen.height, gen.fps, gen.frames, gen.duration) == (1280, 720, 24, 48, 2)
    assert gen.credits == 2 * 10
    boosted = await world.submit(
        model="magnific/video_upscaler_creative",
        video=CLIP,
        kind=Kind.UPSCALE,
        options={"resolution": "720p", "fps_boost": True},
    )
    assert (boosted.fps, boosted.frames) == (48, 96)


async def test_a_frame_rate_enhancement_interpolates_to_the_target_rate(world: World) -> None:
    gen = await world.submit(
        model="runway/enhance_frame_rate",
        video=CLIP,
        kind=Kind.FRAME_RATE,
        options={"target_framerate": "60"},
    )
    assert (gen.width, gen.height, gen.fps, gen.frames, gen.duration) == (64, 36, 60, 120, 2)
    doubled = await world.submit(
        model="runway/enhance_frame_rate", video=CLIP, kind=Kind.FRAME_RATE
    )
    assert (doubled.fps, doubled.frames) == (48, 96)


async def test_an_input_video_may_come_from_a_url(world: World, image_server: ImageServer) -> None:
    url = image_server.add("clip.mp4", make_video(64, 36, frames=48), "video/mp4")
    gen = await world.submit(
        model="runway/aleph2", video=ImageRef(url=url), kind=Kind.VIDEO_TO_VIDEO
    )
    assert gen.frames == 48


V2V: dict[str, Any] = {"model": "runway/aleph2", "kind": Kind.VIDEO_TO_VIDEO, "video": CLIP}
CP: dict[str, Any] = {
    "model": "runway/act_two",
    "kind": Kind.CHARACTER_PERFORMANCE,
    "character": IMAGE,
    "performance": PERFORMANCE,
}
UPSCALE: dict[str, Any] = {
    "model": "magnific/video_upscaler_creative",
    "kind": Kind.UPSCALE,
    "video": CLIP,
}
BAD = {
    "a kind the model does not do": (
        V2V | {"model": "runway/gen4_turbo"},
        "model",
    ),
    "video to video without a video": (V2V | {"video": None}, "video"),
    "a prompt alone to a video-to-video model, kind named": (
        {"model": "runway/aleph2", "prompt": "p", "kind": Kind.TEXT_TO_VIDEO},
        "model",
    ),
    # A dialect with one create route names no kind: the model's only kind is the request's.
    "a prompt alone to a video-to-video model, no kind named": (
        {"model": "runway/aleph2", "prompt": "p"},
        "video",
    ),
    "an image alone to an upscaler": (
        {"model": "magnific/video_upscaler_creative", "first_image": IMAGE},
        "video",
    ),
    "a character performance without its performance": (CP | {"performance": None}, "performance"),
    "a character performance without its character": (CP | {"character": None}, "character"),
    "too many references": (
        V2V | {"model": "runway/gen4_aleph", "references": (IMAGE, IMAGE)},
        "references",
    ),
    # Runway's SDK gives aleph2 keyframes, not references.
    "references to aleph2": (V2V | {"references": (IMAGE,)}, "references"),
    "references to a model that takes none": (
        {"model": "runway/gen4.5", "prompt": "p", "references": (IMAGE,)},
        "references",
    ),
    "an option the model does not have": (
        {"model": "runway/gen4.5", "prompt": "p", "options": {"audio": True}},
        "audio",
    ),
    "an option of the wrong type": (CP | {"options": {"body_control": "yes"}}, "body_control"),
    "an option out of its range": (
        CP | {"options": {"expression_intensity": 9}},
        "expression_intensity",
    ),
    "an option value not in its list": (
        UPSCALE | {"options": {"resolution": "8k"}},
        "resolution",
    ),
    "a first frame on an upscale": (UPSCALE | {"first_image": IMAGE}, "first_image"),
    "a duration on video to video": (V2V | {"duration": 5}, "duration"),
    "a ratio on an upscale": (UPSCALE | {"aspect_ratio": "16:9"}, "aspect_ratio"),
    "keyframes on an upscale": (UPSCALE | {"keyframes": (Keyframe(IMAGE, at=0.5),)}, "keyframes"),
    "a keyframe with no time": (V2V | {"keyframes": (Keyframe(IMAGE),)}, "keyframes.0"),
    "a keyframe past the end": (V2V | {"keyframes": (Keyframe(IMAGE, at=1.5),)}, "keyframes.0.at"),
    "a keyframe at no finite time": (
        V2V | {"keyframes": (Keyframe(IMAGE, seconds=float("nan")),)},
        "keyframes.0.seconds",
    ),
    "a keyframe past the input video's end": (
        V2V | {"keyframes": (Keyframe(IMAGE, seconds=2.5),)},
        "keyframes.0.seconds",
    ),
    "an edit window past the input video's end": (
        V2V | {"keyframes": (Keyframe(IMAGE, at=0.5, range=(2, 4)),)},
        "keyframes.0.range",
    ),
    "a keyframe outside its edit window": (
        V2V | {"keyframes": (Keyframe(IMAGE, seconds=1.5, range=(0, 1)),)},
        "keyframes.0.seconds",
    ),
    "an edit window that ends as it starts": (
        V2V | {"keyframes": (Keyframe(IMAGE, at=0.5, range=(1, 1)),)},
        "keyframes.0.range",
    ),
    "an edit window on some keyframes only": (
        V2V | {"keyframes": (Keyframe(IMAGE, at=0.5, range=(0, 1)), Keyframe(IMAGE, at=0.9))},
        "keyframes",
    ),
    "a NUL in an option's text": (
        {"model": "google/veo3.1", "prompt": "p", "options": {"negative_prompt": "a\x00b"}},
        "negative_prompt",
    ),
    "a video URL on a metadata address": (
        V2V | {"video": ImageRef(url="http://169.254.169.254/latest/clip.mp4")},
        "video",
    ),
    "a video that is not one": (
        V2V
        | {"video": ImageRef(url=data_uri(b"\x00\x00\x00\x18ftypmp42" + b"x" * 200, "video/mp4"))},
        "video",
    ),
    "a video given as an image type": (V2V | {"video": IMAGE}, "video"),
    "an image as a reference that is not one": (
        V2V | {"model": "runway/gen4_aleph", "references": (ImageRef(url=data_uri(b"nope")),)},
        "references.0",
    ),
    "a performance too short for the model": (
        CP | {"performance": CLIP},
        "performance",
    ),
    "a last frame on a model without one": (
        {"model": "runway/gen4.5", "prompt": "p", "first_image": IMAGE, "last_image": IMAGE},
        "last_image",
    ),
}


@pytest.mark.parametrize(("fields", "field"), BAD.values(), ids=list(BAD))
async def test_a_request_that_does_not_suit_its_kind_is_refused_naming_the_field(
    world: World, fields: dict[str, Any], field: str
) -> None:
    key = await world.key()
    with pytest.raises(InvalidRequest) as refused:
        await world.service.submit(key, GenerationRequest(**fields))
    assert field in {e.field for e in refused.value.errors}
    assert (await world.service.list(key))[0] == []


@pytest.mark.parametrize(
    ("overrides", "video", "words"),
    [
        ({"max_video_seconds": 1.5}, CLIP, "2.0 s long; the longest accepted is 1.5 s"),
        ({"max_video_width": 32}, CLIP, "is 64×36; the largest accepted is 32×3840"),
        ({"max_video_bytes": 1000}, CLIP, "larger than"),
    ],
    ids=["too long", "too wide", "too large"],
)
async def test_an_input_video_over_a_limit_is_refused_naming_its_field(
    tmp_path: Path,
    fetcher: SafeFetcher,
    overrides: dict[str, object],
    video: ImageRef,
    words: str,
) -> None:
    world = make_world(tmp_path, fetcher, **overrides)
    reasons = await world.refused(**V2V)
    assert words in reasons["video"]

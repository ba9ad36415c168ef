"""``GenerationService`` on the in-memory store: what a submit charges and stores, what it
refuses before anything is stored, Idempotency-Key replays, conflicts and races, and what cancel
and delete do to a generation, its credits and its files. Input images are real (data URIs
captured by the real ``ImageCapture``), outputs live in real local storage."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import data_uri, make_image, make_settings
from tests.contract.conftest import OUTPUT
from vidgen.core.catalog import Catalog, ModelSpec
from vidgen.core.keys import ApiKey
from vidgen.core.models import GenerationRequest, ImageRef, Status
from vidgen.core.storage import remove_outputs, thumbnail_key, video_key
from vidgen.errors import Conflict, FieldError, InsufficientCredits, InvalidRequest, NotFound
from vidgen.media.capture import ImageCapture
from vidgen.media.fetch import SafeFetcher
from vidgen.service.generations import GenerationService
from vidgen.storage.local import LocalStorage
from vidgen.store.memory import ManualClock, MemoryStore

GEN4 = "runway/gen4_turbo"
HOOKS = "https://hooks.example/"


class Recorder:
    """The repository, with a record of which of its methods were called."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.inner, name)


class SeedRules:
    """An engine's own rule: this one cannot honour seed 13."""

    def validate(self, spec: ModelSpec, request: GenerationRequest) -> list[FieldError]:
        return [FieldError("seed", "13 is unlucky here")] if request.seed == 13 else []


@dataclass
class World:
    service: GenerationService
    store: MemoryStore
    repository: Recorder
    clock: ManualClock
    storage: LocalStorage
    captured: list[ImageRef]

    async def key(self, credits: int | None = 100, **options: Any) -> ApiKey:
        key, _ = await self.store.keys.create(
            f"k{len(self.store.ledger())}", credits=credits, **options
        )
        return key

    async def balance(self, key: ApiKey) -> int | None:
        current = await self.store.keys.get(key.id)
        assert current is not None
        return current.credits


@pytest.fixture(scope="module")
def fetcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SafeFetcher]:
    # One for the module: building its TLS context costs more than a test here. Data URIs,
    # the only images these tests send, never reach it.
    shared = SafeFetcher.from_settings(make_settings(tmp_path_factory.mktemp("fetcher")))
    yield shared
    asyncio.run(shared.aclose())


@pytest.fixture
async def world(tmp_path: Path, fetcher: SafeFetcher) -> AsyncIterator[World]:
    settings = make_settings(tmp_path / "data")
    clock = ManualClock()
    store = MemoryStore(clock=clock)
    repository = Recorder(store.generations)
    storage = LocalStorage(tmp_path / "files")
    captured: list[ImageRef] = []
    capture = ImageCapture(fetcher, settings)

    async def capture_image(ref: ImageRef) -> Any:
        captured.append(ref)
        await asyncio.sleep(0)  # as a fetch would: other requests run meanwhile
        return await capture(ref)

    async def check_webhook_url(url: str) -> str | None:
        return None if url.startswith(HOOKS) else "is not a receiver this test allows"

    service = GenerationService(
        generations=repository,  # type: ignore[arg-type]
        catalog=Catalog.build(),
        engines={"preview": SeedRules()},
        capture_image=capture_image,
        check_webhook_url=check_webhook_url,
        remove_outputs=functools.partial(remove_outputs, storage),
        settings=settings,
    )
    yield World(service, store, repository, clock, storage, captured)


IMAGE = ImageRef(url=data_uri(make_image(64, 36)))
PORTRAIT = ImageRef(url=data_uri(make_image(36, 64)))


def request(**fields: Any) -> GenerationRequest:
    values: dict[str, Any] = {"model": GEN4, "prompt": "a harbour", "first_image": IMAGE}
    return GenerationRequest(**(values | fields))


async def test_a_submit_is_stored_queued_and_charged_its_price(world: World) -> None:
    key = await world.key(credits=100)
    submitted = await world.service.submit(
        key, request(first_image=PORTRAIT, duration=10, webhook_url=HOOKS + "x")
    )
    gen = submitted.generation
    assert not submitted.replayed
    assert (gen.status, gen.credits, gen.duration) == (Status.QUEUED, 15, 10)
    # No ratio given: taken from the portrait image; no seed given: one is chosen and kept.
    assert gen.aspect_ratio == "9:16" and gen.height > gen.width
    assert (await world.service.get(key, gen.id)).seed == gen.seed
    assert gen.has_first_image and gen.facts.sources == {"first": "data URI"}
    assert gen.facts.webhook is not None and gen.facts.wants("completed")
    assert await world.balance(key) == 85
    assert [(e.reason, e.delta) for e in world.store.ledger(gen.id)] == [("charge", -15)]


async def test_a_key_short_of_credits_is_refused_before_its_images_are_fetched(
    world: World,
) -> None:
    key = await world.key(credits=7)
    with pytest.raises(InsufficientCredits) as refused:
        await world.service.submit(key, request())
    assert (refused.value.required, refused.value.available) == (8, 7)
    assert world.captured == []
    assert world.repository.calls == []
    assert await world.balance(key) == 7


async def test_the_balance_checked_when_the_job_is_stored_is_the_current_one(
    world: World,
) -> None:
    # The key the request authenticated with still shows 8 credits; another request spent them.
    key = await world.key(credits=8)
    await world.service.submit(key, request())
    with pytest.raises(InsufficientCredits):
        await world.service.submit(key, request())
    assert len((await world.service.list(key))[0]) == 1


BAD_REQUESTS = {
    "a NUL in the prompt": (request(prompt="a\x00b"), "prompt"),
    "a NUL in an image URL": (request(first_image=ImageRef(url="https://x/\x00")), "first_image"),
    "an unknown model": (request(model="nope"), "model"),
    "no image for an image model": (request(first_image=None), "first_image"),
    "a ratio the model lacks": (request(aspect_ratio="2:1"), "aspect_ratio"),
    "a duration the model lacks": (request(duration=11), "duration"),
    "an unknown webhook event": (
        request(webhook_url=HOOKS, webhook_events=("started", "done")),
        "webhook_events",
    ),
    "webhook events without a URL": (request(webhook_events=("started",)), "webhook_events"),
    "a webhook URL the server may not call": (
        request(webhook_url="http://169.254.169.254/"),
        "webhook_url",
    ),
    "what the engine cannot honour": (request(seed=13), "seed"),
    "an image that is not one": (
        request(first_image=ImageRef(url=data_uri(b"not a picture"))),
        "first_image",
    ),
    "a last frame without a first": (
        request(model="gen3a_turbo", first_image=None, last_image=IMAGE),
        "last_image",
    ),
    "an empty Idempotency-Key": (request(idempotency_key=" ", fingerprint="f"), "idempotency_key"),
}


@pytest.mark.parametrize(("bad", "field"), BAD_REQUESTS.values(), ids=list(BAD_REQUESTS))
async def test_an_invalid_request_names_its_field_and_reaches_no_store(
    world: World, bad: GenerationRequest, field: str
) -> None:
    key = await world.key(credits=100)
    with pytest.raises(InvalidRequest) as refused:
        await world.service.submit(key, bad)
    assert field in {e.field for e in refused.value.errors}
    assert world.repository.calls == []
    assert await world.balance(key) == 100


async def test_text_that_cannot_be_stored_is_refused_before_any_image_is_fetched(
    world: World,
) -> None:
    key = await world.key()
    with pytest.raises(InvalidRequest):
        await world.service.submit(key, request(prompt="\x00", first_image=PORTRAIT))
    assert world.captured == []


async def test_the_same_idempotency_key_and_request_replay_without_a_second_charge(
    world: World,
) -> None:
    key = await world.key(credits=100)
    once = request(idempotency_key="order-1", fingerprint="f1")
    first = await world.service.submit(key, once)
    again = await world.service.submit(key, once)
    assert again.replayed and again.generation.id == first.generation.id
    assert await world.balance(key) == 92
    with pytest.raises(Conflict, match="different request"):
        await world.service.submit(key, replace(once, fingerprint="f2"))
    # Another key's Idempotency-Key of the same name is its own.
    other = await world.key(credits=100)
    assert not (await world.service.submit(other, once)).replayed
    # After 24 hours the key may be used again, for a new generation.
    world.clock.advance(timedelta(hours=24, seconds=1).total_seconds())
    later = await world.service.submit(key, replace(once, fingerprint="f2"))
    assert not later.replayed and later.generation.id != first.generation.id
    assert await world.balance(key) == 84


async def test_concurrent_retries_with_one_idempotency_key_make_one_generation(
    world: World,
) -> None:
    # Every retry looks for the key before any of them has stored a job (the image capture in
    # between lets them interleave); one stores it, the others lose the race and replay it.
    key = await world.key(credits=100)
    once = request(idempotency_key="burst", fingerprint="f")
    results = await asyncio.gather(*(world.service.submit(key, once) for _ in range(8)))
    assert len({r.generation.id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * 7
    assert world.repository.calls.count("create") == 8
    assert await world.balance(key) == 92


async def test_cancelling_a_queued_generation_ends_it_at_once_refunded(world: World) -> None:
    key = await world.key(credits=8)
    gen = (await world.service.submit(key, request())).generation
    cancelled = await world.service.cancel(key, gen.id)
    assert cancelled.status is Status.CANCELLED
    assert cancelled.error is not None and cancelled.error.name == "Cancelled"
    assert await world.balance(key) == 8
    assert await world.store.jobs.claim_next("w", lease_seconds=30) is None


async def test_cancelling_a_running_generation_answers_it_running_and_flags_it(
    world: World,
) -> None:
    key = await world.key(credits=8)
    gen = (await world.service.submit(key, request())).generation
    await world.store.jobs.claim_next("w", lease_seconds=30)
    told = await world.service.cancel(key, gen.id)
    assert told.status is Status.GENERATING
    beat = await world.store.jobs.heartbeat(gen.id, "w", lease_seconds=30, progress=0.5)
    assert beat.cancel_requested
    assert await world.balance(key) == 0  # refunded when the worker ends it


async def test_cancelling_a_finished_generation_changes_nothing(world: World) -> None:
    key = await world.key(credits=8)
    gen = (await world.service.submit(key, request())).generation
    await world.store.jobs.claim_next("w", lease_seconds=30)
    await world.store.jobs.complete(gen.id, "w", OUTPUT)
    assert (await world.service.cancel(key, gen.id)).status is Status.COMPLETED
    assert await world.balance(key) == 0


@pytest.mark.parametrize("act", ["get", "cancel", "delete"])
async def test_another_keys_generation_and_an_impossible_id_are_not_found(
    world: World, act: str
) -> None:
    owner, other = await world.key(), await world.key()
    gen = (await world.service.submit(owner, request())).generation
    call = getattr(world.service, act)
    with pytest.raises(NotFound):
        await call(other, gen.id)
    world.repository.calls.clear()
    with pytest.raises(NotFound, match="'not-an-id'"):
        await call(owner, "not-an-id")
    assert world.repository.calls == []
    assert (await world.service.get(owner, gen.id)).status is Status.QUEUED


async def test_deleting_a_queued_generation_cancels_refunds_and_hides_it(world: World) -> None:
    key = await world.key(credits=8)
    gen = (await world.service.submit(key, request())).generation
    deleted = await world.service.delete(key, gen.id)
    assert deleted.status is Status.CANCELLED
    assert await world.balance(key) == 8
    with pytest.raises(NotFound):
        await world.service.get(key, gen.id)
    assert (await world.service.list(key))[0] == []


async def put_outputs(storage: LocalStorage, job_id: str, tmp_path: Path) -> None:
    for name in (video_key(job_id), thumbnail_key(job_id)):
        source = tmp_path / Path(name).name
        source.write_bytes(b"x")
        await storage.put_file(name, source, "application/octet-stream")


async def test_deleting_a_finished_generation_removes_its_files(
    world: World, tmp_path: Path
) -> None:
    key = await world.key()
    gen = (await world.service.submit(key, request())).generation
    await world.store.jobs.claim_next("w", lease_seconds=30)
    await put_outputs(world.storage, gen.id, tmp_path)
    await world.store.jobs.complete(gen.id, "w", OUTPUT)
    assert (await world.service.delete(key, gen.id)).status is Status.COMPLETED
    assert await world.storage.stat(video_key(gen.id)) is None
    assert await world.storage.stat(thumbnail_key(gen.id)) is None


async def test_deleting_a_running_generation_leaves_its_files_to_its_worker(
    world: World, tmp_path: Path
) -> None:
    # Its worker may be storing them right now; it removes them when its completion loses.
    key = await world.key(credits=8)
    gen = (await world.service.submit(key, request())).generation
    await world.store.jobs.claim_next("w", lease_seconds=30)
    await put_outputs(world.storage, gen.id, tmp_path)
    assert (await world.service.delete(key, gen.id)).status is Status.GENERATING
    assert await world.storage.stat(video_key(gen.id)) is not None
    with pytest.raises(NotFound):
        await world.service.get(key, gen.id)


@pytest.mark.parametrize("after", ["", "  ", "not-an-id", "00000000-0000-4000-8000-000000000000"])
async def test_a_list_cursor_that_names_none_of_the_keys_generations_is_refused(
    world: World, after: str
) -> None:
    key = await world.key()
    await world.service.submit(key, request())
    with pytest.raises(InvalidRequest) as refused:
        await world.service.list(key, after=after)
    assert [e.field for e in refused.value.errors] == ["after"]


async def test_a_queued_generation_of_a_key_at_its_limit_is_throttled(world: World) -> None:
    key = await world.key(max_concurrency=1)
    first = (await world.service.submit(key, request())).generation
    second = (await world.service.submit(key, request())).generation
    assert not await world.service.is_throttled(key, second)
    await world.store.jobs.claim_next("w", lease_seconds=30)
    assert await world.service.is_throttled(key, second)
    running = await world.service.get(key, first.id)
    assert not await world.service.is_throttled(key, running)

"""Models their provider retired (the catalog's ``retired``), through ``GenerationService`` on
the in-memory store: refused where routed to the engine that retired them, served as the
operator's substitute (``VIDGEN_MODEL_SUBSTITUTES``), and still served everywhere else."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import data_uri, make_image, make_settings
from vidgen.core.catalog import Catalog
from vidgen.core.keys import ApiKey
from vidgen.core.models import GenerationRequest, ImageRef
from vidgen.core.storage import remove_outputs
from vidgen.errors import InvalidRequest
from vidgen.media.capture import ImageCapture
from vidgen.media.fetch import SafeFetcher
from vidgen.service.generations import GenerationService
from vidgen.storage.local import LocalStorage
from vidgen.store.memory import MemoryStore

GEN3A = "gen3a_turbo"
IMAGE = ImageRef(url=data_uri(make_image(64, 36)))


@pytest.fixture
async def served(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Any]]:
    fetchers: list[SafeFetcher] = []

    async def build(
        routes: dict[str, str], substitutes: dict[str, str] | None = None
    ) -> tuple[GenerationService, MemoryStore, ApiKey]:
        settings = make_settings(tmp_path / "data", model_substitutes=substitutes or {})
        fetcher = SafeFetcher.from_settings(settings)
        fetchers.append(fetcher)
        store = MemoryStore()
        key, _ = await store.keys.create("k", credits=100)

        async def no_webhooks(url: str) -> str | None:
            return None

        service = GenerationService(
            generations=store.generations,
            catalog=Catalog.build(routes=routes),
            engines={},
            capture_image=ImageCapture(fetcher, settings),
            check_webhook_url=no_webhooks,
            remove_outputs=functools.partial(remove_outputs, LocalStorage(tmp_path / "files")),
            settings=settings,
        )
        return service, store, key

    yield build
    for fetcher in fetchers:
        await fetcher.aclose()


def gen3a(**fields: Any) -> GenerationRequest:
    return GenerationRequest(
        **({"model": GEN3A, "prompt": "a harbour", "first_image": IMAGE} | fields)
    )


async def test_a_model_routed_to_the_engine_that_retired_it_is_refused_naming_model_and_date(
    served: Callable[..., Any],
) -> None:
    service, store, key = await served({GEN3A: "runway"})
    with pytest.raises(InvalidRequest) as refused:
        await service.submit(key, gen3a())
    [error] = refused.value.errors
    assert error.field == "model"
    assert "gen3a_turbo was retired by its provider on 2026-06-10" in error.text()
    # Named as an aimlapi client may name it: the name fills the model's place only, and the
    # note, which holds the id too, reads as the catalog wrote it.
    named = error.text("runway/gen3a_turbo")
    assert named.startswith("runway/gen3a_turbo was retired by its provider on 2026-06-10")
    assert "(Runway removed gen3a_turbo from its published API;" in named
    assert (await service.list(key))[0] == []
    assert (await store.keys.get(key.id)).credits == 100  # type: ignore[union-attr]


async def test_with_a_substitute_the_request_is_served_as_the_substitute_by_its_rules(
    served: Callable[..., Any],
) -> None:
    service, _, key = await served({GEN3A: "runway"}, {GEN3A: "runway/gen4_turbo"})
    gen = (await service.submit(key, gen3a(aspect_ratio="16:9"))).generation
    # gen4_turbo's 16:9 size (gen3a's was 1280×768), and its id on the generation.
    assert (gen.model, gen.width, gen.height) == ("runway/gen4_turbo", 1280, 720)
    # A ratio that gen3a_turbo never had is fine: the substitute's rules apply.
    square = (await service.submit(key, gen3a(aspect_ratio="1:1"))).generation
    assert (square.width, square.height) == (960, 960)


@pytest.mark.parametrize("engine", ["preview", "aimlapi"])
async def test_a_retired_model_is_still_served_where_it_is_not_routed_to_its_retirer(
    served: Callable[..., Any], engine: str
) -> None:
    service, _, key = await served({GEN3A: engine}, {GEN3A: "runway/gen4_turbo"})
    gen = (await service.submit(key, gen3a())).generation
    assert (gen.model, gen.width, gen.height) == (GEN3A, 1280, 768)

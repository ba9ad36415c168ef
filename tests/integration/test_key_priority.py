"""Per-key priority: a key's priority is copied onto each job it creates, and claims serve
higher priorities first, whatever the other keys have queued. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import data_uri, make_image, make_settings
from vidgen.core.models import GenerationRequest, ImageRef
from vidgen.wiring import Runtime

MODEL = "runway/gen4_turbo"


@pytest.fixture(params=["sqlite", "postgresql"])
async def runtime(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
    overrides: dict[str, object] = {"routes": {MODEL: "noop"}}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    started = await Runtime.start(make_settings(tmp_path / "data", **overrides))
    yield started
    await started.aclose()


async def submit(runtime: Runtime, key_name: str, count: int) -> list[str]:
    (key,) = await runtime.keys.find(key_name)
    image = ImageRef(url=data_uri(make_image(64, 36)))
    request = GenerationRequest(
        model=MODEL, prompt="a harbour at dawn", first_image=image, duration=5
    )
    return [
        (await runtime.service.generations.submit(key, request)).generation.id for _ in range(count)
    ]


async def claim_order(runtime: Runtime) -> list[str]:
    order = []
    while (claim := await runtime.jobs.claim_next("w", lease_seconds=30)) is not None:
        order.append(claim.generation.id)
    return order


async def test_a_higher_priority_keys_job_is_claimed_before_an_earlier_backlog(
    runtime: Runtime,
) -> None:
    await runtime.keys.create("bulk")
    vip, _ = await runtime.keys.create("vip", priority=5)
    assert vip.priority == 5

    backlog = await submit(runtime, "bulk", 4)
    (urgent,) = await submit(runtime, "vip", 1)

    assert await claim_order(runtime) == [urgent, *backlog]


async def test_a_changed_priority_applies_to_the_keys_next_jobs(runtime: Runtime) -> None:
    bulk, _ = await runtime.keys.create("bulk")
    await runtime.keys.create("late")
    early = await submit(runtime, "late", 1)
    backlog = await submit(runtime, "bulk", 2)

    changed = await runtime.keys.configure(bulk.id, priority=-1, max_concurrency=3)
    assert changed is not None and (changed.priority, changed.max_concurrency) == (-1, 3)
    demoted = await submit(runtime, "bulk", 1)
    later = await submit(runtime, "late", 3)

    # Jobs keep the priority they were created with; the demoted key's new job goes last.
    order = await claim_order(runtime)
    assert order[-1] == demoted[0]
    assert set(order[:-1]) == {*early, *backlog, *later}

    unlimited = await runtime.keys.configure(bulk.id, unlimited_concurrency=True)
    assert unlimited is not None and unlimited.max_concurrency is None
    assert unlimited.priority == -1
    assert await runtime.keys.configure("no-such-key", priority=1) is None

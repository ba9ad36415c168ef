"""Runway's own API as the official ``runwayml`` SDK (strict) sees it: the organization, its usage,
gen4_turbo's durations, and the error shape of every ``/v1`` route."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import httpx
import pytest
import runwayml

from tests.conftest import LiveServer, data_uri, make_image, shared_server
from vidgen.core.catalog import Catalog

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

KEYS = [f"vg_runway_dialect_{n:02d}_" + "r" * 24 for n in range(16)]
_unused_keys = iter(KEYS)
IMAGE = data_uri(make_image(640, 360))
VERSION = {"X-Runway-Version": "2024-11-06"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from shared_server(tmp_path_factory, "runway-dialect", KEYS)


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """No worker: every task stays pending until it is cancelled (refunded), deterministically."""
    yield from shared_server(tmp_path_factory, "runway-dialect-idle", KEYS, "--no-worker")


@pytest.fixture
def key() -> str:
    return next(_unused_keys)


def sdk(server: LiveServer, key: str) -> runwayml.RunwayML:
    return runwayml.RunwayML(
        api_key=key, base_url=server.base_url, max_retries=0, _strict_response_validation=True
    )


def make_key(server: LiveServer, *options: str) -> str:
    data = str(server.data_dir)
    made = subprocess.run(
        [sys.executable, "-m", "vidgen.cli.main", "keys", "create", *options, "--data-dir", data],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/v1/text_to_speech", "runway"),
        ("/v1/sound_effect", "runway"),
        ("/v1/videos/x/unknown", "openai"),
        ("/v1/models/x", "aimlapi"),
        ("/v2/nothing", "aimlapi"),
    ],
)
def test_unknown_routes_answer_404_in_the_shape_of_the_api_they_fall_under(
    server: LiveServer, key: str, path: str, shape: str
) -> None:
    answer = httpx.post(server.base_url + path, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 404
    body = answer.json()
    if shape == "runway":
        assert set(body) == {"error"} and isinstance(body["error"], str)
    elif shape == "openai":
        assert body["error"]["type"] == "invalid_request_error"
    else:
        assert body["statusCode"] == 404 and body["path"] == path


def test_the_sdk_reads_an_unlimited_keys_organization(server: LiveServer, key: str) -> None:
    client = sdk(server, key)
    before = client.organization.retrieve()
    assert before.credit_balance == 2**31 - 1  # no limit: the largest 32-bit integer
    assert before.tier.max_monthly_credit_spend == 2**31 - 1
    # Every model the catalog has a Runway name for, by that name.
    assert set(before.tier.models) == set(Catalog.build().named_in("runway"))
    assert {"gen4_turbo", "gen3a_turbo", "gen4.5", "veo3.1", "act_two"} <= set(before.tier.models)
    assert before.tier.models["gen4_turbo"].max_concurrent_generations is None
    assert {m: u.daily_generations for m, u in before.usage.models.items()} == dict.fromkeys(
        before.tier.models, 0
    )
    client.image_to_video.create(model="gen4_turbo", prompt_image=IMAGE, ratio="1280:720")
    client.image_to_video.create(model="gen4_turbo", prompt_image=IMAGE, ratio="720:1280")
    after = client.organization.retrieve()
    assert after.usage.models["gen4_turbo"].daily_generations == 2
    assert after.usage.models["gen3a_turbo"].daily_generations == 0


def test_a_limited_keys_organization_shows_its_balance_and_concurrency(
    server: LiveServer,
) -> None:
    key = make_key(server, "--name", "org", "--credits", "100", "--max-concurrency", "2")
    client = sdk(server, key)
    assert client.organization.retrieve().credit_balance == 100
    client.image_to_video.create(
        model="gen4_turbo", prompt_image=IMAGE, ratio="1280:720", duration=7
    )
    org = client.organization.retrieve()
    assert org.credit_balance == 100 - 12
    assert org.tier.models["gen3a_turbo"].max_concurrent_generations == 2
    assert org.tier.models["gen4_turbo"].max_daily_generations is None


def test_usage_is_net_credits_per_day_and_model(idle_server: LiveServer, key: str) -> None:
    client = sdk(idle_server, key)
    client.image_to_video.create(model="gen4_turbo", prompt_image=IMAGE, ratio="1280:720")
    client.image_to_video.create(
        model="gen3a_turbo", prompt_image=IMAGE, ratio="1280:768", duration=10
    )
    refunded = client.image_to_video.create(
        model="gen4_turbo", prompt_image=IMAGE, ratio="1280:720", duration=3
    )
    client.tasks.delete(refunded.id)  # pending: cancelled and refunded
    today = datetime.now(UTC).date()
    # A day either side: a charge just before midnight and its refund just after still net out.
    usage = client.organization.retrieve_usage(
        start_date=today - timedelta(days=1), before_date=today + timedelta(days=2)
    )
    spent: Counter[str] = Counter()
    for day in usage.results:
        for used in day.used_credits:
            spent[used.model] += used.amount
    assert spent == {"gen4_turbo": 8, "gen3a_turbo": 15}
    assert sorted(usage.models) == ["gen3a_turbo", "gen4_turbo"]
    nothing = client.organization.retrieve_usage(start_date=today - timedelta(days=40))
    assert (nothing.models, nothing.results) == ([], [])  # 40 to 10 days ago


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        ({"startDate": "2026-03-01", "beforeDate": "2026-03-01"}, "after startDate"),
        ({"startDate": "2026-01-01", "beforeDate": "2026-06-01"}, "90 days"),
        ({"startDate": "March"}, "date"),
        # 30 days after it is past the calendar's end: a 400, not a crash.
        ({"startDate": "9999-12-20"}, "give beforeDate"),
    ],
)
def test_usage_dates_are_checked_naming_the_field(
    server: LiveServer, key: str, dates: dict[str, str], message: str
) -> None:
    with pytest.raises(runwayml.BadRequestError) as info:
        sdk(server, key).organization.retrieve_usage(extra_body=dates)
    body = info.value.body
    assert isinstance(body, dict) and message in str(body["issues"])
    assert body["issues"][0]["path"] in (["beforeDate"], ["startDate"])


def test_gen4_turbo_takes_any_whole_second_from_2_to_10_priced_per_second(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    client = sdk(server, key)
    task = client.image_to_video.create(
        model="gen4_turbo", prompt_image=IMAGE, ratio="1280:720", duration=7
    )
    assert task.estimated_cost.credits == 12  # 1.6 a second, rounded up
    done = task.wait_for_task_output(timeout=120)
    assert done.status == "SUCCEEDED"
    path = tmp_path / "seven.mp4"
    path.write_bytes(httpx.get(done.output[0]).content)
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 7 * 24
    pending = client.image_to_video.create(
        model="gen4_turbo", prompt_image=IMAGE, ratio="1280:720", duration=2
    )
    assert client.tasks.retrieve(pending.id).to_dict()["estimatedCost"] == {"credits": 4}
    for model, duration, ratio, expected in (
        ("gen4_turbo", 11, "1280:720", "from 2 to 10"),
        ("gen4_turbo", 1, "1280:720", "from 2 to 10"),
        ("gen3a_turbo", 7, "1280:768", "5 or 10"),
    ):
        with pytest.raises(runwayml.BadRequestError) as info:
            client.image_to_video.create(
                model=model,  # type: ignore[arg-type]
                prompt_image=IMAGE,
                ratio=ratio,  # type: ignore[arg-type]
                duration=duration,
            )
        issues = info.value.body["issues"]  # type: ignore[index]
        assert [i["path"] for i in issues] == [["duration"]] and expected in issues[0]["message"]


def test_an_unknown_model_is_reported_as_unknown_not_as_a_missing_ratio(
    server: LiveServer, key: str
) -> None:
    headers = {**VERSION, "Authorization": f"Bearer {key}"}
    for body in ({"model": "gen9"}, {"model": "gen5", "promptImage": IMAGE}):
        answer = httpx.post(f"{server.base_url}/v1/image_to_video", json=body, headers=headers)
        assert answer.status_code == 400
        issues = answer.json()["issues"]
        assert [i["path"] for i in issues] == [["model"]], issues
        assert "gen4_turbo" in issues[0]["message"]
    missing = httpx.post(
        f"{server.base_url}/v1/image_to_video",
        json={"model": "gen4_turbo", "promptImage": IMAGE},
        headers=headers,
    )
    assert missing.status_code == 400
    assert [i["path"] for i in missing.json()["issues"]] == [["ratio"]]


def test_a_task_without_a_first_image_is_refused_naming_prompt_image(
    server: LiveServer, key: str
) -> None:
    headers = {**VERSION, "Authorization": f"Bearer {key}"}
    for body in (
        {"model": "gen4_turbo", "ratio": "1280:720", "promptText": "a cat"},
        {
            "model": "gen3a_turbo",
            "ratio": "1280:768",
            "promptImage": [{"uri": IMAGE, "position": "last"}],
        },
    ):
        answer = httpx.post(f"{server.base_url}/v1/image_to_video", json=body, headers=headers)
        assert answer.status_code == 400, answer.text
        assert ["promptImage"] in [i["path"] for i in answer.json()["issues"]]

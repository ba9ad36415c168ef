"""Providers' webhooks end to end: a real ``vidgen serve`` with ``VIDGEN_PUBLIC_URL`` set (its own
loopback address) in front of the Replicate and fal stand-ins, which call the webhook URL that
the create named when the job ends (``tests/fakes/*_server.py``).

The poll interval with hooks on is set to a minute, so a job that completes here did so because
the hook woke its poll: the stand-in's count of status reads says how many polls there were.
Without a public URL nothing changes: ``test_hosted_providers`` checks that no webhook is asked
for and that polling alone finishes the jobs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest

from tests.conftest import LiveServer, data_uri, make_image
from tests.e2e.test_hosted_providers import finish, new_server, submit, wait_until
from tests.fakes.fal_server import FAKE_FAL_KEY, FakeFal
from tests.fakes.host import FakeHost
from tests.fakes.replicate_server import FAKE_TOKEN, FakeReplicate

pytestmark = pytest.mark.slow

#: engine → (a model it serves, the path prefix of its create at the stand-in)
MODELS = {
    "replicate": ("replicate/wan-2.5", "/v1/models/"),
    "fal": ("fal/kling-v2.5-turbo-pro", "/fal-ai/"),
}


@pytest.fixture(scope="module")
def hooked(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, FakeHost], LiveServer]]:
    """Both stand-ins and one vidgen with both keys, a public URL and a minute between polls."""
    fakes: dict[str, FakeHost] = {"replicate": FakeReplicate().start(), "fal": FakeFal().start()}
    root = tmp_path_factory.mktemp("hooks")
    server = new_server(
        root,
        "vidgen",
        REPLICATE_API_TOKEN=FAKE_TOKEN,
        VIDGEN_REPLICATE_BASE_URL=fakes["replicate"].base_url,
        FAL_KEY=FAKE_FAL_KEY,
        VIDGEN_FAL_QUEUE_URL=fakes["fal"].base_url,
        VIDGEN_FAL_WEBHOOK_JWKS_URL=fakes["fal"].jwks_url,
        VIDGEN_UPSTREAM_BACKOFF_SECONDS="0.05",
        VIDGEN_WEBHOOK_POLL_INTERVAL="60",
    )
    server.env["VIDGEN_PUBLIC_URL"] = server.base_url
    server.start()
    yield fakes, server
    server.stop()
    for fake in fakes.values():
        fake.stop()


def held_job(
    hooked: tuple[dict[str, FakeHost], LiveServer], engine: str
) -> tuple[FakeHost, LiveServer, str, str]:
    """A job submitted and held running at the host; returns the webhook URL its create named."""
    fakes, server = hooked
    fake = fakes[engine]
    fake.reset()
    fake.runs_alone = True
    fake.hold = True
    model, prefix = MODELS[engine]
    gen_id = submit(server, model=model, prompt="a heron", image_url=data_uri(make_image()))
    [create] = wait_until(lambda: fake.seen("POST", prefix), "the create at the host")
    if engine == "replicate":
        assert create.body["webhook_events_filter"] == ["completed"]
        hook = create.body["webhook"]
    else:
        [hook] = parse_qs(create.query)["fal_webhook"]
    assert hook.startswith(f"{server.base_url}/hooks/{engine}/{gen_id}?token=")
    return fake, server, gen_id, hook


def pokes(server: LiveServer, gen_id: str) -> int:
    with sqlite3.connect(server.data_dir / "vidgen.db") as db:
        return int(db.execute("SELECT pokes FROM jobs WHERE id = ?", (gen_id,)).fetchone()[0])


@pytest.mark.parametrize("engine", MODELS)
def test_the_providers_webhook_wakes_the_job_which_completes_after_one_poll(
    hooked: tuple[dict[str, FakeHost], LiveServer], engine: str
) -> None:
    fake, server, gen_id, _ = held_job(hooked, engine)
    fake.hold = False  # the host finishes the job and calls the webhook
    done = finish(server, gen_id, timeout=30)  # polling alone would wait a minute first
    assert done["status"] == "completed", done
    assert httpx.get(done["video"]["url"], timeout=30).content == fake.video_bytes()
    assert fake.hooks == [204]
    # The only status read is the one the hook woke: none before it, none after.
    assert fake.only_job().polls == 1


@pytest.mark.parametrize("engine", MODELS)
def test_a_forged_webhook_is_refused_and_wakes_nothing(
    hooked: tuple[dict[str, FakeHost], LiveServer], engine: str
) -> None:
    fake, server, gen_id, hook = held_job(hooked, engine)
    url, token = hook.split("?token=")
    forged = [
        (url, {"token": token[:-1] + ("0" if token[-1] != "0" else "1")}),  # a wrong token
        (url, {}),  # none
        (url, {"token": "é" * 64}),  # not even ASCII
        (url.replace(gen_id, "gen-unknown"), {"token": token}),  # another job's token
        (url.replace(f"/hooks/{engine}/", "/hooks/gemini/"), {"token": token}),  # no such hooks
    ]
    answers = [
        httpx.post(target, params=params, json={"status": "succeeded"}, timeout=10)
        for target, params in forged
    ]
    assert [a.status_code for a in answers] == [404] * len(forged)
    assert len({a.content for a in answers}) == 1  # the same answer whether the job exists
    too_long = httpx.post(url.replace(engine, "x" * 100), params={"token": token}, timeout=10)
    assert too_long.status_code == 400  # a bad path is the client's error, never a 5xx
    # The right token but no signature of the host's: refused too.
    unsigned = httpx.post(hook, json={"id": "x", "status": "succeeded"}, timeout=10)
    assert unsigned.status_code == 404
    assert pokes(server, gen_id) == 0  # nothing reached the job
    fake.hold = False
    assert finish(server, gen_id, timeout=30)["status"] == "completed"
    assert fake.hooks == [204]
    assert pokes(server, gen_id) == 1
    assert fake.only_job().polls == 1


def test_a_server_killed_while_waiting_for_the_hook_resumes_its_request_and_the_hook_wakes_it(
    hooked: tuple[dict[str, FakeHost], LiveServer],
) -> None:
    fake, server, gen_id, _ = held_job(hooked, "replicate")
    server.kill()  # SIGKILL while the worker waits for the hook
    server.start()
    # The dead worker's lease (4 s here) expires; the attempt that resumes polls first.
    wait_until(lambda: fake.only_job().polls == 1, "the resumed attempt's poll", timeout=30)
    fake.hold = False
    assert finish(server, gen_id, timeout=30)["status"] == "completed"
    assert fake.hooks == [204]
    assert fake.creations == 1
    assert fake.only_job().polls == 2  # the resume's, and the one the hook woke

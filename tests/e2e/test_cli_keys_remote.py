"""``vidgen keys --base-url`` with ``VIDGEN_ADMIN_KEY``: the same commands as against the local
database, through a live server's admin routes, with the same output (the server's own database
is local here, so each command is run both ways and compared)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import TEST_KEY, LiveServer, shared_server
from vidgen.cli.main import app

pytestmark = pytest.mark.slow

ADMIN = "vg_cli_remote_admin_" + "a" * 28


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    for made in shared_server(tmp_path_factory, "cli-keys-remote", [TEST_KEY]):
        made.env["VIDGEN_ADMIN_KEYS"] = ADMIN
        made.stop()
        made.start()
        yield made


def vidgen(*args: str, admin_key: str | None = ADMIN) -> Result:
    env = {"COLUMNS": "80", "VIDGEN_ADMIN_KEY": admin_key or ""}
    return CliRunner().invoke(app, list(args), env=env, color=False)


def both(server: LiveServer, *args: str) -> tuple[Result, Result]:
    """The command against the server, then against its database."""
    remote = vidgen(*args, "--base-url", server.base_url)
    local = vidgen(*args, "--data-dir", str(server.data_dir))
    assert remote.exit_code == 0, remote.output
    assert local.exit_code == 0, local.output
    return remote, local


def test_keys_against_a_server_create_list_set_credit_and_revoke(server: LiveServer) -> None:
    created = vidgen(
        "keys", "create", "--name", "remote-made", "--credits", "30", "--base-url",
        server.base_url,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    first, hook, secret = created.output.strip().splitlines()
    assert first.startswith("Created key ") and "credits: 30." in first
    assert hook.startswith("Webhook signing secret: ")
    remote, local = both(server, "keys", "list", "--json")
    assert json.loads(remote.output) == json.loads(local.output)
    assert "remote-made" in {k["name"] for k in json.loads(remote.output)}
    remote, local = both(server, "keys", "list")
    assert remote.output == local.output
    assert "remote-made" in remote.output and secret[:10] in remote.output

    changed = vidgen(
        "keys", "set", "remote-made", "--priority", "4", "--max-concurrency", "2", "--base-url",
        server.base_url,
    )  # fmt: skip
    assert changed.output.endswith("priority 4, concurrency 2.\n"), changed.output
    remote, local = both(server, "keys", "set", "remote-made", "--monthly-credit-limit", "90")
    assert remote.output == local.output
    assert remote.output.endswith("monthly credit limit: 90.\n")
    credited = vidgen("keys", "credit", secret[:10], "12", "--base-url", server.base_url)
    assert credited.output.endswith("(remote-made) now has 42 credits.\n"), credited.output
    # Credits taken away as the admin route takes them: a negative amount, with a reason.
    remote, local = both(server, "keys", "credit", "remote-made", "-5", "--reason", "chargeback")
    assert remote.output.endswith("(remote-made) now has 37 credits.\n"), remote.output
    assert local.output == remote.output.replace("37 credits", "32 credits")
    too_much = vidgen("keys", "credit", "remote-made", "-33", "--base-url", server.base_url)
    assert too_much.exit_code == 1 and "below zero" in too_much.output, too_much.output
    unlimited = vidgen("keys", "credit", "env-1", "5", "--base-url", server.base_url)
    assert "has unlimited credits; nothing to add." in unlimited.output

    revoked = vidgen("keys", "revoke", "remote-made", "--base-url", server.base_url)
    again = vidgen("keys", "revoke", "remote-made", "--base-url", server.base_url)
    assert revoked.output.startswith("Revoked key ") and "was already revoked" in again.output
    remote, local = both(server, "keys", "list", "--json")
    assert json.loads(remote.output) == json.loads(local.output)


def test_keys_against_a_server_need_an_admin_key(server: LiveServer) -> None:
    missing = vidgen("keys", "list", "--base-url", server.base_url, admin_key=None)
    assert missing.exit_code == 2 and "VIDGEN_ADMIN_KEY" in missing.output
    client = vidgen("keys", "list", "--base-url", server.base_url, admin_key=TEST_KEY)
    assert client.exit_code == 3 and "admin key" in client.output and "(403)" in client.output
    nobody = vidgen("keys", "list", "--base-url", "http://127.0.0.1:9")
    assert nobody.exit_code == 7 and "cannot reach" in nobody.output
    unknown = vidgen("keys", "revoke", "no-such-key", "--base-url", server.base_url)
    assert unknown.exit_code == 1 and "no key matches" in unknown.output

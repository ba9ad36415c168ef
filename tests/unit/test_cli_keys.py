"""``vidgen keys``: which database it opens (the server's, from any directory; never a new one),
and ``keys list`` at 80 columns and as JSON."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from vidgen.cli.main import app
from vidgen.settings import Settings
from vidgen.store.db import Database
from vidgen.store.keys import KeyStore
from vidgen.store.tables import credit_ledger


def make_database(data_dir: Path, names: list[str]) -> None:
    """What ``vidgen serve`` leaves on its first start: a migrated database, with these keys."""

    async def make() -> None:
        db = Database(Settings(data_dir=data_dir).resolved_database_url)
        try:
            await db.migrate()
            for i, name in enumerate(names):
                await KeyStore(db).create(name, credits=None if i % 2 else 500 + i)
        finally:
            await db.dispose()

    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(make())


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's data dir of its own (XDG_DATA_HOME), no VIDGEN_* in the environment, and a
    current directory with nothing in it."""
    for name in ("VIDGEN_DATA_DIR", "VIDGEN_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return tmp_path / "xdg" / "vidgen"


def vidgen(*args: str, columns: int = 80) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)}, color=False)


def test_keys_from_any_directory_use_the_users_data_dir(user_home: Path) -> None:
    make_database(user_home, ["mobile-app"])
    listed = vidgen("keys", "list")
    assert listed.exit_code == 0, listed.output
    assert "mobile-app" in listed.output
    credited = vidgen("keys", "credit", "mobile-app", "200")
    assert credited.exit_code == 0, credited.output
    assert "now has 700 credits" in credited.output
    assert list(Path.cwd().iterdir()) == []  # nothing made where it ran


@pytest.mark.parametrize(
    "command",
    [["keys", "list"], ["keys", "create", "--name", "x"], ["keys", "credit", "x", "5"], ["worker"]],
    ids=" ".join,
)
def test_a_command_that_finds_no_database_says_where_it_looked_and_makes_none(
    user_home: Path, command: list[str]
) -> None:
    result = vidgen(*command)
    assert result.exit_code == 2, result.output
    assert f"no vidgen database at {user_home / 'vidgen.db'}" in result.output
    assert "VIDGEN_DATA_DIR" in result.output and "vidgen serve" in result.output
    assert not user_home.exists() and list(Path.cwd().iterdir()) == []


def test_a_given_data_dir_without_a_database_is_refused_too(
    user_home: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "typo"
    result = vidgen("keys", "list", "--data-dir", str(empty))
    assert result.exit_code == 2
    assert str(empty / "vidgen.db") in result.output and "--data-dir" in result.output
    assert not empty.exists()


def test_a_vidgen_data_dir_here_is_still_used_and_said(user_home: Path) -> None:
    make_database(Path.cwd() / "vidgen-data", ["old-install"])
    result = vidgen("keys", "list")
    assert result.exit_code == 0, result.output
    assert "old-install" in result.output
    assert f"using {Path.cwd() / 'vidgen-data'}" in result.output
    assert not user_home.exists()


LONG_NAME = "a-rather-long-key-name-for-the-nightly-batch-jobs"


def test_keys_list_fits_80_columns_and_cuts_no_name_and_no_prefix(user_home: Path) -> None:
    make_database(user_home, ["mobile-app", "batch", LONG_NAME])
    result = vidgen("keys", "list", columns=80)
    assert result.exit_code == 0, result.output
    lines = result.output.rstrip("\n").splitlines()
    assert max(len(line) for line in lines) <= 80
    as_json = json.loads(vidgen("keys", "list", "--json").output)
    # Only the prefixes end in "…" (their secrets are never shown); no column was cut short.
    assert result.output.count("…") == len(as_json)
    for key in as_json:
        assert key["prefix"] + "…" in result.output
    # The name column, read down: a long name wraps onto the next lines, whole.
    width = lines[0].index("key")
    names = [line[:width].strip() for line in lines[2:]]
    assert "".join(names[2:]) == LONG_NAME


def test_keys_list_json_has_every_field(user_home: Path) -> None:
    make_database(user_home, ["mobile-app", "batch"])
    result = vidgen("keys", "list", "--json")
    assert result.exit_code == 0, result.output
    keys = {key["name"]: key for key in json.loads(result.output)}
    assert keys["mobile-app"]["credits"] == 500 and keys["batch"]["credits"] is None
    assert set(keys["batch"]) == {
        "id",
        "name",
        "prefix",
        "credits",
        "priority",
        "max_concurrency",
        "role",
        "rate_limit_per_minute",
        "monthly_credit_limit",
        "source",
        "active",
        "created_at",
        "revoked_at",
    }
    assert keys["batch"]["active"] is True and keys["batch"]["prefix"].startswith("vg_")
    assert keys["batch"]["role"] == "client"


def test_keys_create_admin_makes_an_admin_key_with_its_limits(user_home: Path) -> None:
    make_database(user_home, [])
    made = vidgen(
        "keys", "create", "--name", "ops", "--admin", "--rate-limit-per-minute", "7",
        "--monthly-credit-limit", "900",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert made.output.startswith("Created admin key ")
    listed = json.loads(vidgen("keys", "list", "--json").output)
    assert [(k["role"], k["rate_limit_per_minute"], k["monthly_credit_limit"]) for k in listed] == [
        ("admin", 7, 900)
    ]
    # The 80-column list shows them too: the role, and each limit the key has, one a line.
    table = vidgen("keys", "list", columns=80).output.splitlines()
    assert max(len(line) for line in table) <= 80
    assert "admin" in table[2] and "7 creates/min" in table[2]
    assert "900 credits/mo" in table[3]


def test_keys_take_a_whole_id_a_name_or_the_prefix_as_listed_never_part_of_an_id(
    user_home: Path,
) -> None:
    make_database(user_home, ["mobile-app"])
    (key,) = json.loads(vidgen("keys", "list", "--json").output)
    for ident in (key["id"], "mobile-app", key["prefix"], key["prefix"] + "…"):
        result = vidgen("keys", "credit", ident, "1")
        assert result.exit_code == 0, (ident, result.output)
    partial = vidgen("keys", "credit", key["id"][:8], "1")
    assert partial.exit_code == 1
    assert "no key matches" in partial.output and "whole id" in partial.output


def test_keys_set_changes_and_clears_the_rate_and_monthly_limits(user_home: Path) -> None:
    make_database(user_home, ["studio"])
    limited = vidgen(
        "keys", "set", "studio", "--rate-limit-per-minute", "0", "--monthly-credit-limit", "300"
    )
    assert limited.exit_code == 0, limited.output
    assert limited.output.endswith("Rate limit per minute: 0; monthly credit limit: 300.\n")
    cleared = vidgen("keys", "set", "studio", "--monthly-credit-limit", "none")
    assert cleared.output.endswith("Rate limit per minute: 0; monthly credit limit: none.\n")
    listed = json.loads(vidgen("keys", "list", "--json").output)[0]
    assert (listed["rate_limit_per_minute"], listed["monthly_credit_limit"]) == (0, None)
    for bad in ("-1", "²", "lots"):
        refused = vidgen("keys", "set", "studio", "--rate-limit-per-minute", bad)
        assert refused.exit_code == 2, refused.output
        assert "--rate-limit-per-minute takes a whole number" in refused.output


def test_keys_credit_takes_credits_away_with_its_reason_in_the_ledger_never_below_zero(
    user_home: Path,
) -> None:
    make_database(user_home, ["mobile-app"])
    taken = vidgen("keys", "credit", "mobile-app", "-120", "--reason", "chargeback 7")
    assert taken.exit_code == 0, taken.output
    assert "now has 380 credits" in taken.output
    too_much = vidgen("keys", "credit", "mobile-app", "-381")
    assert too_much.exit_code == 1
    assert "would take the balance (380) below zero" in too_much.output

    async def ledger() -> list[tuple[str, int, str | None]]:
        db = Database(Settings(data_dir=user_home).resolved_database_url)
        try:
            query = select(credit_ledger.c.reason, credit_ledger.c.delta, credit_ledger.c.note)
            rows = await db.read(lambda conn: conn.execute(query.order_by(credit_ledger.c.id)))
            return [(row.reason, row.delta, row.note) for row in rows]
        finally:
            await db.dispose()

    assert asyncio.run(ledger()) == [("grant", 500, None), ("adjustment", -120, "chargeback 7")]

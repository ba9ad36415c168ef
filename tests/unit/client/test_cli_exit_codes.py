"""The CLI's exit codes: one per kind of SDK error, and the README's table kept in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from tests.unit.client.conftest import poll
from vidgen.cli.remote import ExitCode, exit_code_for, fail
from vidgen.client import (
    APIConnectionError,
    AuthenticationError,
    DownloadError,
    Generation,
    GenerationFailed,
    InsufficientCredits,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Timeout,
    ValidationError,
    VidgenError,
)

README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (GenerationFailed(Generation.parse(poll("error").json())), ExitCode.FAILED),
        (ValidationError("bad", status_code=400), ExitCode.BAD_INPUT),
        (ValidationError("no such file"), ExitCode.BAD_INPUT),
        (PayloadTooLarge("too big", status_code=413), ExitCode.BAD_INPUT),
        (AuthenticationError("who?", status_code=401), ExitCode.AUTH),
        (InsufficientCredits("poor", status_code=403), ExitCode.CREDITS),
        (Timeout("gen-1", 600.0, None), ExitCode.TIMEOUT),
        (NotFound("gone", status_code=404), ExitCode.NOT_FOUND),
        (RateLimited("slow down", status_code=429), ExitCode.UNAVAILABLE),
        (ServerError("oops", status_code=502), ExitCode.UNAVAILABLE),
        (APIConnectionError("refused"), ExitCode.UNAVAILABLE),
        (DownloadError("short"), ExitCode.UNAVAILABLE),
    ],
)
def test_each_kind_of_error_has_its_exit_code(error: VidgenError, code: ExitCode) -> None:
    assert exit_code_for(error) == code


def test_the_readmes_exit_code_table_lists_every_code() -> None:
    documented = {int(c) for c in re.findall(r"^\| (\d+) \|", README.read_text(), flags=re.M)}
    assert documented == {int(code) for code in ExitCode}


def test_a_refused_key_is_pointed_to_where_it_came_from_not_asked_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The hint was "Pass --api-key …", which read as if no key had been given at all.
    with pytest.raises(typer.Exit) as exit_info:
        fail(AuthenticationError("Invalid API key.", status_code=401), as_json=False)
    said = " ".join(capsys.readouterr().err.split())
    assert exit_info.value.exit_code == ExitCode.AUTH
    assert "Invalid API key." in said
    assert "--api-key or VIDGEN_API_KEY" in said and "Pass --api-key" not in said

"""Settings: parsing of the environment, refusals, and the README's table kept in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from vidgen.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme_table() -> None:
    documented = set(re.findall(r"^\| `(VIDGEN_[A-Z0-9_]+)`", README.read_text(), flags=re.M))
    declared = {f"VIDGEN_{name.upper()}" for name in Settings.model_fields}
    assert declared == documented


def test_keys_and_routes_are_read_from_comma_separated_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIDGEN_API_KEYS", " k1, k2 ,,")
    monkeypatch.setenv("VIDGEN_ROUTES", "runway/gen4_turbo=runway, gen3a_turbo=aimlapi")
    settings = Settings()
    assert settings.api_keys == ["k1", "k2"]
    assert settings.routes == {"runway/gen4_turbo": "runway", "gen3a_turbo": "aimlapi"}


def test_a_malformed_route_is_refused_with_the_offending_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIDGEN_ROUTES", "runway/gen4_turbo")
    with pytest.raises(ValidationError, match="model=engine"):
        Settings()


def test_production_refuses_relaxed_fetching_and_a_generated_secret() -> None:
    with pytest.raises(ValidationError, match="VIDGEN_FETCH_ALLOW_PRIVATE"):
        Settings(env="production", fetch_allow_private=True, signing_secret="x" * 40)
    with pytest.raises(ValidationError, match="VIDGEN_SIGNING_SECRET"):
        Settings(env="production")
    assert Settings(env="production", signing_secret="x" * 40).env == "production"


def test_the_generated_link_secret_is_kept_across_restarts(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).link_secret()
    assert len(first) >= 40
    assert Settings(data_dir=tmp_path).link_secret() == first
    assert (tmp_path / "signing.key").stat().st_mode & 0o077 == 0


def test_the_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/vidgen.db"
    assert settings.is_sqlite

"""Settings: parsing of the environment, refusals, and the README's table kept in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices, ValidationError

from vidgen.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def environment_names(name: str) -> set[str]:
    """The variables a field is read from: ``VIDGEN_<NAME>``, or the upper-case names of its
    alias (e.g. ``RUNWAYML_API_SECRET``, the name Runway's own tools use)."""
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return {c for c in alias.choices if isinstance(c, str) and c.isupper()}
    if isinstance(alias, str):
        return {alias}
    return {f"VIDGEN_{name.upper()}"}


def test_every_setting_is_documented_in_the_readme_table() -> None:
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", README.read_text(), flags=re.M))
    declared = set().union(*(environment_names(name) for name in Settings.model_fields))
    assert declared == documented


def test_the_runway_key_is_read_under_runways_own_name_and_kept_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNWAYML_API_SECRET", "key_abc123")
    settings = Settings()
    assert settings.runwayml_api_secret is not None
    assert settings.runwayml_api_secret.get_secret_value() == "key_abc123"
    assert "key_abc123" not in repr(settings)
    monkeypatch.delenv("RUNWAYML_API_SECRET")
    monkeypatch.setenv("VIDGEN_UPSTREAM_KEY", "vg_upstream")
    assert Settings().runwayml_api_secret is None
    assert "vg_upstream" not in repr(Settings())


def test_keys_and_routes_are_read_from_comma_separated_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIDGEN_API_KEYS", " k1, k2 ,,")
    monkeypatch.setenv("VIDGEN_ADMIN_KEYS", "a1 ,a2")
    monkeypatch.setenv("VIDGEN_ROUTES", "runway/gen4_turbo=runway, gen3a_turbo=aimlapi")
    monkeypatch.setenv("VIDGEN_MODEL_SUBSTITUTES", " gen3a_turbo = runway/gen4_turbo,")
    settings = Settings()
    assert settings.model_substitutes == {"gen3a_turbo": "runway/gen4_turbo"}
    assert settings.api_keys == ["k1", "k2"]
    assert settings.admin_keys == ["a1", "a2"]
    assert settings.routes == {"runway/gen4_turbo": "runway", "gen3a_turbo": "aimlapi"}


def test_a_malformed_route_is_refused_with_the_offending_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIDGEN_ROUTES", "runway/gen4_turbo")
    with pytest.raises(ValidationError, match="model=engine"):
        Settings()


def test_a_malformed_substitute_is_refused_with_the_offending_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIDGEN_MODEL_SUBSTITUTES", "gen3a_turbo")
    with pytest.raises(ValidationError, match="retired=substitute"):
        Settings()


def test_production_refuses_relaxed_fetching_a_generated_secret_and_open_metrics() -> None:
    safe = {"signing_secret": "x" * 40, "metrics_token": "t" * 20}
    with pytest.raises(ValidationError, match="VIDGEN_FETCH_ALLOW_PRIVATE"):
        Settings(env="production", fetch_allow_private=True, **safe)
    with pytest.raises(ValidationError, match="VIDGEN_SIGNING_SECRET"):
        Settings(env="production", metrics_token="t" * 20)
    with pytest.raises(ValidationError, match="VIDGEN_METRICS_TOKEN"):
        Settings(env="production", signing_secret="x" * 40)
    assert Settings(env="production", **safe).env == "production"
    assert Settings().metrics_token is None  # open by default, for a development server


def test_the_generated_link_secret_is_kept_across_restarts(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).link_secret()
    assert len(first) >= 40
    assert Settings(data_dir=tmp_path).link_secret() == first
    assert (tmp_path / "signing.key").stat().st_mode & 0o077 == 0


def test_the_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/vidgen.db"
    assert settings.is_sqlite

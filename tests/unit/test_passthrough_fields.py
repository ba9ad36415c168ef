"""Fields a dialect does not name: a model only the aimlapi upstream knows keeps them as sent,
within limits that keep every value storable and sendable; any other model takes only the ones
its catalog entry lists and refuses the rest, naming each."""

from __future__ import annotations

from typing import Any

import pytest

from vidgen.core.catalog import DEFAULT_MODELS, passthrough_model
from vidgen.core.models import GenerationRequest
from vidgen.core.passthrough import MAX_EXTRA_DEPTH, MAX_EXTRA_FIELDS, take_extras

UPSTREAM_ONLY = passthrough_model("acme/loop-2")
VEO = next(m for m in DEFAULT_MODELS if "resolution" in m.options)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return value


def request(model: str, options: dict[str, Any] | None = None, **extras: Any) -> GenerationRequest:
    return GenerationRequest(model=model, prompt="a boat", options=options or {}, extras=extras)


def test_a_pass_through_model_keeps_its_own_fields_as_sent() -> None:
    sent = {
        "camera_fixed": True,
        "resolution": "480p",
        "motion": {"strength": 0.4, "path": [[0, 0], [1, 2]]},
        "negative_prompt": None,
        "extra_ids": [1, 2**40],
    }
    taken, errors = take_extras(UPSTREAM_ONLY, request(UPSTREAM_ONLY.id, **sent))
    assert errors == []
    assert dict(taken.options) == sent
    assert taken.extras == {}


def test_a_field_the_dialect_names_keeps_its_meaning() -> None:
    taken, _ = take_extras(
        UPSTREAM_ONLY, request(UPSTREAM_ONLY.id, {"generate_audio": False}, camera_fixed=True)
    )
    assert dict(taken.options) == {"camera_fixed": True, "generate_audio": False}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\x00b", "NUL"),
        ({"k": ["\ud800"]}, "lone surrogate"),
        ({"a\x00": 1}, "key that must not contain the NUL"),
        (float("nan"), "not finite"),
        ([float("inf")], "not finite"),
        (2**64, "64-bit"),
        (_nested(MAX_EXTRA_DEPTH + 1), "nested more than"),
        (b"bytes", "not a JSON value"),
    ],
)
def test_a_pass_through_field_that_could_not_be_stored_or_sent_is_refused_by_name(
    value: Any, reason: str
) -> None:
    _, errors = take_extras(UPSTREAM_ONLY, request(UPSTREAM_ONLY.id, motion=value, ok=1))
    assert [e.field for e in errors] == ["motion"]
    assert reason in errors[0].reason


def test_too_many_or_too_large_pass_through_fields_are_refused() -> None:
    many = {f"f{n}": n for n in range(MAX_EXTRA_FIELDS + 1)}
    _, errors = take_extras(UPSTREAM_ONLY, request(UPSTREAM_ONLY.id, **many))
    assert [e.field for e in errors] == ["body"]
    assert f"at most {MAX_EXTRA_FIELDS}" in errors[0].reason
    _, errors = take_extras(UPSTREAM_ONLY, request(UPSTREAM_ONLY.id, notes="x" * 70_000))
    assert [e.field for e in errors] == ["body"] and "bytes as JSON" in errors[0].reason
    # Exactly at the depth limit is taken.
    _, errors = take_extras(UPSTREAM_ONLY, request(UPSTREAM_ONLY.id, deep=_nested(MAX_EXTRA_DEPTH)))
    assert errors == []


def test_a_catalog_model_refuses_a_field_it_does_not_list_and_takes_one_it_does() -> None:
    taken, errors = take_extras(VEO, request(VEO.id, resolution="720p", colour="red", camera=None))
    assert [(e.field, e.reason) for e in errors] == [
        ("colour", "is not a known field"),
        ("camera", "is not a known field"),
    ]
    assert dict(taken.options) == {"resolution": "720p"}
    _, errors = take_extras(VEO, request(VEO.id, resolution="7\x0020p"))
    assert [e.field for e in errors] == ["resolution"]

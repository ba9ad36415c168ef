"""How ``Cancel-After`` and ``Prefer`` values read: Replicate's durations, RFC 7240's
preferences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vidgen.core.deadlines import parse_cancel_after, parse_wait


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400), ("90", 90), ("2m5s", 125)],
)
def test_cancel_after_reads_replicates_durations(value: str, seconds: int) -> None:
    assert parse_cancel_after(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "value", ["", "soon", "1h30", "1h 30m", "30S", "-5s", "4s", "25h", "9" * 400 + "h"]
)
def test_cancel_after_refuses_what_is_not_a_duration_from_5s_to_24h(value: str) -> None:
    with pytest.raises(ValueError):
        parse_cancel_after(value)


@pytest.mark.parametrize(
    ("value", "wait"),
    [
        ("wait=5", 5),
        ("wait=600", 60),  # honoured as far as it can be; Preference-Applied says so
        ("wait", 60),
        ("respond-async, wait=10", 10),
        ('wait="7"', 7),
        ("handling=lenient", None),
    ],
)
def test_prefer_reads_its_wait_and_ignores_other_preferences(value: str, wait: int | None) -> None:
    assert parse_wait(value) == wait


@pytest.mark.parametrize("value", ["wait=soon", "wait=-1", "wait=1.5", "wait=٣"])
def test_a_wait_that_is_not_whole_seconds_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_wait(value)

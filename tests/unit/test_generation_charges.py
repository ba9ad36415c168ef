"""What a generation costs its key, as every dialect shows it (aimlapi's ``usage.credits_used``,
apiframe's ``creditCost``, Runway's ``cost``), and the error it shows, in every state."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from vidgen.core.models import Generation, GenerationError, Kind, Status

CREATED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
QUEUED = Generation(
    id="6f1c2a7e-0000-4000-8000-000000000000",
    key_id="key",
    model="runway/gen4_turbo",
    engine="preview",
    status=Status.QUEUED,
    progress=0.0,
    prompt="a slow zoom",
    aspect_ratio="16:9",
    width=1280,
    height=720,
    duration=7,
    fps=24,
    frames=168,
    seed=1,
    credits=12,
    created_at=CREATED,
    started_at=None,
    finished_at=None,
    error=None,
    video=None,
    dialect="aimlapi",
    kind=Kind.IMAGE_TO_VIDEO,
    has_first_image=True,
    has_last_image=False,
)
CANCELLED = GenerationError("Cancelled", "The generation was cancelled.")


def in_state(status: Status, error: GenerationError | None = None) -> Generation:
    return dataclasses.replace(QUEUED, status=status, error=error)


@pytest.mark.parametrize("status", [Status.QUEUED, Status.GENERATING, Status.COMPLETED])
def test_a_generation_that_may_yet_make_or_made_its_video_is_charged_its_price(
    status: Status,
) -> None:
    generation = in_state(status)
    assert generation.credits_charged == generation.credits == 12
    assert generation.failure is None


@pytest.mark.parametrize("status", [Status.FAILED, Status.CANCELLED])
def test_a_failed_or_cancelled_generation_is_charged_nothing_and_says_why(
    status: Status,
) -> None:
    generation = in_state(status, CANCELLED)
    assert generation.credits_charged == 0
    assert generation.credits == 12  # its price is still what it would have cost
    assert generation.failure == CANCELLED


def test_an_error_is_shown_only_once_the_generation_ended_without_a_video() -> None:
    # Only the ending transaction writes an error; were one read on a running job, it is not
    # why that job failed, because it has not.
    assert in_state(Status.GENERATING, CANCELLED).failure is None
    assert in_state(Status.FAILED).failure is None

"""``GET /v1/usage``: jobs, seconds of video, credits and failures over a window, grouped by day,
model or key, summed from the credit ledger and the jobs (``service.usage``). A client key sees
its own usage; an admin key every key's. Errors take the shape of vidgen's own routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from vidgen.api.deps import CurrentKey, ServiceDep
from vidgen.api.dialect import ServiceRoute
from vidgen.service.usage import UsageSums

__all__ = ["router"]

router = APIRouter(tags=["account"], route_class=ServiceRoute)


class Sums(BaseModel):
    jobs: int = Field(..., description="Generations created.")
    completed: int
    failed: int
    cancelled: int
    seconds_of_video: float = Field(..., description="Of the completed generations' outputs.")
    credits_charged: int
    credits_refunded: int
    credits_net: int = Field(..., description="Charged less refunded.")
    failures: dict[str, int] = Field(..., description="Failed generations per error name.")
    median_seconds_to_complete: float | None = Field(
        ..., description="From create to completed; null without a completed generation."
    )

    @classmethod
    def of(cls, sums: UsageSums) -> Sums:
        return cls(
            jobs=sums.jobs,
            completed=sums.completed,
            failed=sums.failed,
            cancelled=sums.cancelled,
            seconds_of_video=round(sums.seconds_of_video, 3),
            credits_charged=sums.credits_charged,
            credits_refunded=sums.credits_refunded,
            credits_net=sums.credits_net,
            failures=dict(sorted(sums.failures.items())),
            median_seconds_to_complete=None
            if sums.median_seconds_to_complete is None
            else round(sums.median_seconds_to_complete, 3),
        )


class Group(Sums):
    group: str = Field(..., description="The UTC day (YYYY-MM-DD), the model id or the key id.")


class UsageAnswer(BaseModel):
    start: datetime
    end: datetime
    group_by: Literal["day", "model", "key"]
    key_id: str | None = Field(..., description="Whose usage; null: every key's (admin).")
    totals: Sums
    groups: list[Group]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad window or grouping: the parameter is named."},
    401: {"description": "Missing, unknown or revoked API key."},
}


@router.get(
    "/v1/usage",
    response_model=UsageAnswer,
    responses=ERRORS,
    summary="Usage over a window, by day, model or key",
    description="Jobs count in the window they were created in; credits in the window their "
    "ledger entry (charge or refund) was written in. `start` defaults to 30 days before `end`, "
    "`end` to now; a time without a zone is UTC; at most 366 days.",
)
async def usage(
    key: CurrentKey,
    service: ServiceDep,
    start: Annotated[datetime | None, Query(description="Window start (inclusive).")] = None,
    end: Annotated[datetime | None, Query(description="Window end (exclusive).")] = None,
    group_by: Annotated[Literal["day", "model", "key"], Query()] = "day",
    key_id: Annotated[
        str | None, Query(max_length=64, description="Admin keys: one key's usage only.")
    ] = None,
) -> UsageAnswer:
    report = await service.usage.report(key, start=start, end=end, group_by=group_by, key_id=key_id)
    return UsageAnswer(
        start=report.start,
        end=report.end,
        group_by=report.group_by,
        key_id=report.key_id,
        totals=Sums.of(report.totals),
        groups=[
            Group(group=name, **Sums.of(sums).model_dump()) for name, sums in report.groups.items()
        ],
    )

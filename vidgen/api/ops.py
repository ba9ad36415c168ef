"""Operations: liveness, readiness, Prometheus metrics, and the model list with its routing."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security.utils import get_authorization_scheme_param
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from vidgen.api.deps import ServiceDep
from vidgen.api.dialect import ServiceRoute
from vidgen.core.models import Kind
from vidgen.errors import Unauthorized
from vidgen.metrics import QUEUE_DEPTH

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"], route_class=ServiceRoute)


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: the database and the storage are reachable",
    responses={503: {"description": "a dependency is down; `checks` says which"}},
)
async def ready(service: ServiceDep) -> JSONResponse:
    checks: dict[str, str] = {}

    async def probe(name: str, check: Any) -> None:
        try:
            await asyncio.wait_for(check(), timeout=5)
            checks[name] = "ok"
        except Exception as exc:
            log.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
            checks[name] = "unavailable"

    await asyncio.gather(*(probe(name, check) for name, check in service.checks.items()))
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


def check_metrics_token(request: Request, expected: str) -> None:
    """Refuse (401) a request without ``Authorization: Bearer <expected>``. Both sides are
    hashed before the constant-time comparison, so that not even the token's length leaks."""
    scheme, supplied = get_authorization_scheme_param(request.headers.get("authorization"))
    digest = hashlib.sha256(supplied.encode() if scheme.lower() == "bearer" else b"").digest()
    if not secrets.compare_digest(digest, hashlib.sha256(expected.encode()).digest()):
        raise Unauthorized("/metrics needs 'Authorization: Bearer <VIDGEN_METRICS_TOKEN>'.")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="With `VIDGEN_METRICS_TOKEN` set, send `Authorization: Bearer <that token>` "
    "(not an API key).",
    response_class=Response,
    responses={401: {"description": "VIDGEN_METRICS_TOKEN is set and was not sent."}},
)
async def metrics(request: Request, service: ServiceDep) -> Response:
    token = service.settings.metrics_token
    if token is not None:
        check_metrics_token(request, token.get_secret_value())
    try:
        depth = await service.queue_depth()
    except Exception:
        log.warning("queue depth unavailable", exc_info=True)
    else:
        for spec in service.catalog:
            QUEUE_DEPTH.labels(spec.id).set(depth.get(spec.id, 0))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RetiredInfo(BaseModel):
    on: str
    engine: str
    note: str


class OptionInfo(BaseModel):
    type: Literal["bool", "int", "number", "string"]
    values: list[str | int | float] = Field(
        default_factory=list, description="The values taken; empty: any value of the type."
    )
    minimum: float | None = None
    maximum: float | None = None
    default: str | int | float | bool | None = None
    description: str = ""


class ModelInfo(BaseModel):
    id: str
    object: str = "model"
    owned_by: str = "vidgen"
    title: str
    description: str
    engine: str = Field(..., description="The engine serving this model now (VIDGEN_ROUTES).")
    aliases: list[str]
    aspect_ratios: dict[str, str] = Field(
        ..., description="ratio → output frame size, e.g. 1280x720"
    )
    default_aspect_ratio: str
    durations: list[int]
    default_duration: int
    fps: int
    credits: dict[str, int] = Field(..., description="duration in seconds → credits charged")
    requires_image: bool
    accepts_last_image: bool
    max_prompt_chars: int
    kinds: list[str] = Field(
        ...,
        description="What the model does: text_to_video, image_to_video, video_to_video, "
        "character_performance, upscale, frame_rate.",
    )
    max_references: int = Field(..., description="Reference images a request may carry.")
    options: dict[str, OptionInfo] = Field(
        default_factory=dict,
        description="The model's own fields (aimlapi's names), e.g. `body_control`, "
        "`expression_intensity`: their type, values or range, and default.",
    )
    engines: list[str] = Field(..., description="The engines that can serve the model.")
    retired: RetiredInfo | None = Field(
        None, description="Set where a provider retired the model: which engine, since when."
    )
    price_estimate: bool = Field(
        ..., description="True where no published price is behind the credits (an estimate)."
    )
    prices_checked: str | None = Field(
        None, description="The day the prices were checked against the provider's list."
    )
    passthrough: bool = Field(
        False,
        description="True for a model only the aimlapi upstream knows (VIDGEN_AIMLAPI_MODELS, or "
        "its own list with VIDGEN_AIMLAPI_READ_MODELS): "
        "its limits here are permissive, the upstream checks the rest.",
    )


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelInfo]


@router.get(
    "/v1/models", response_model=ModelList, summary="Models, their limits, prices and engines"
)
async def list_models(service: ServiceDep) -> ModelList:
    return ModelList(
        data=[
            ModelInfo(
                id=spec.id,
                title=spec.title,
                description=spec.description,
                engine=service.catalog.engine_for(spec.id),
                aliases=list(spec.aliases),
                aspect_ratios={r: f"{w}x{h}" for r, (w, h) in spec.frame_sizes.items()},
                default_aspect_ratio=spec.default_ratio,
                durations=list(spec.durations),
                default_duration=spec.default_duration,
                fps=spec.fps,
                credits={str(d): c for d, c in spec.prices.items()},
                requires_image=spec.requires_image,
                accepts_last_image=spec.accepts_last_image,
                max_prompt_chars=spec.max_prompt_chars,
                kinds=[kind.value for kind in Kind if spec.takes(kind)],
                max_references=spec.max_references,
                options={
                    name: OptionInfo(
                        type=option.type,
                        values=list(option.values),
                        minimum=option.minimum,
                        maximum=option.maximum,
                        default=option.default,
                        description=option.description,
                    )
                    for name, option in spec.options.items()
                },
                engines=list(spec.engines),
                retired=None
                if spec.retired is None
                else RetiredInfo(
                    on=spec.retired.on, engine=spec.retired.engine, note=spec.retired.note
                ),
                price_estimate=spec.price_estimate,
                prices_checked=spec.prices_checked,
                passthrough=spec.passthrough,
            )
            for spec in service.catalog
        ]
    )

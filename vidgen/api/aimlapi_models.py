"""aimlapi's model list, ``GET /models``, in its shape: the catalog's models, every one a video
model. aimlapi publishes it without a key, so a client (or another vidgen whose ``aimlapi`` engine
reads its upstream's list, ``VIDGEN_AIMLAPI_READ_MODELS``) can see which ids it may send to
``/v2/video/generations`` before it has one. vidgen's own, fuller list is ``/v1/models``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from vidgen.api.aimlapi import DIALECT
from vidgen.api.deps import ServiceDep
from vidgen.core.models import Kind

__all__ = ["router"]

router = APIRouter(tags=["aimlapi"], route_class=DIALECT.route_class())
#: The route every model listed here is created through.
ENDPOINT = "/v2/video/generations"


class ModelInfo(BaseModel):
    name: str
    developer: str = Field(..., description="The part of the id before its `/`, if any.")
    description: str


class UpstreamModel(BaseModel):
    id: str = Field(..., description="The id to send as `model`.")
    type: Literal["video"] = "video"
    info: ModelInfo
    features: list[str] = Field(
        ..., description="What the model does: `text_to_video`, `image_to_video`, …"
    )
    endpoints: list[str] = Field(..., description="The routes the model is served through.")


@router.get(
    "/models",
    response_model=list[UpstreamModel],
    summary="The video models, in aimlapi's model list shape (no key needed)",
)
async def list_upstream_models(service: ServiceDep) -> list[UpstreamModel]:
    return [
        UpstreamModel(
            id=spec.name_in(DIALECT.name),
            info=ModelInfo(
                name=spec.title,
                developer=spec.id.partition("/")[0] if "/" in spec.id else "",
                description=spec.description,
            ),
            features=[kind.value for kind in Kind if spec.takes(kind)],
            endpoints=[ENDPOINT],
        )
        for spec in service.catalog
    ]

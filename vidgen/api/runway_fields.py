"""The Runway dialect's fields that more than one create endpoint shares: reference images in
each shape the SDK sends them, and the model's own fields that the body does not name."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_snake

from vidgen.core.catalog import ModelSpec
from vidgen.core.models import ImageRef
from vidgen.errors import FieldError, InvalidRequest

__all__ = ["ReferenceImage", "model_options", "reference_refs"]


class ReferenceImage(BaseModel):
    """A reference image in each shape the SDK sends one: ``{uri}`` (Seedance, Hailuo, Gemini,
    Wan, Grok, kling_4), ``{uri, position}`` (Kling O3) or ``{type: "image", uri}``
    (gen4_aleph's)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["image"] = "image"
    uri: str = Field(..., description="An https URL or a data URI.")
    position: Literal["first", "last"] | None = Field(
        None, description="Kling O3: a frame position; vidgen takes reference images only."
    )


def reference_refs(references: list[ReferenceImage] | str | None) -> tuple[ImageRef, ...]:
    """The reference images; a bare string is Kling O3's one-reference form in the SDK's
    types. A ``position`` (a reference used as a first or last frame) is a 400 naming it."""
    if references is None:
        return ()
    if isinstance(references, str):
        return (ImageRef(url=references),)
    placed = [i for i, ref in enumerate(references) if ref.position is not None]
    if placed:
        raise InvalidRequest(
            [
                FieldError(
                    f"references.{i}.position",
                    "vidgen takes reference images only, not a first or last frame; leave "
                    "position out",
                )
                for i in placed
            ]
        )
    return tuple(ImageRef(url=ref.uri) for ref in references)


def model_options(
    spec: ModelSpec, named: dict[str, Any], extra: dict[str, Any] | None
) -> dict[str, Any]:
    """The request's options: the fields the dialect names (``named``, snake_case already) and
    the body's other fields (camelCase, as the SDK sends them) that the model's catalog entry
    lists among its options under their snake_case names. Any other field is a 400 naming it as
    sent: a typo is an error, never silently dropped."""
    taken: dict[str, Any] = {}
    unknown: list[FieldError] = []
    for name, value in (extra or {}).items():
        option = to_snake(name)
        # Only the wire's own spelling (cfgScale): cfg_scale or CfgScale is a typo, not an alias.
        if option in spec.options and to_camel(option) == name:
            if value is not None:  # a null is an option left out
                taken[option] = value
        else:
            unknown.append(FieldError(name, "is not a known field", as_sent=True))
    if unknown:
        raise InvalidRequest(unknown)
    return {**taken, **named}

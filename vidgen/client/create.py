"""A create's options, said once: their types (for the sync and async methods alike) and the
aimlapi request body they become.

``Generations.create``/``generate`` and their async twins take ``**options:
Unpack[CreateOptions]`` (PEP 692), so a type checker or an IDE still sees each keyword with its
type, while the list itself lives only here. ``create_options`` gives those methods at run
time what a spelled-out parameter list would: the signature that ``help()`` and
``inspect.signature`` show, and a ``TypeError`` for a keyword that is not an option.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any, TypedDict, TypeVar, cast

from vidgen.client.config import default_model
from vidgen.client.images import (
    ImageInput,
    VideoInput,
    character_to_input,
    image_to_url,
    video_to_url,
)

__all__ = ["CreateOptions", "create_body", "create_options"]

F = TypeVar("F", bound=Callable[..., Any])


class CreateOptions(TypedDict, total=False):
    """The keyword arguments of every create (see ``Generations.create``), each optional.
    Their order here is their order in the methods' signatures."""

    image: ImageInput | None
    prompt: str | None
    model: str | None
    tail_image: ImageInput | None
    video: VideoInput | None
    references: Sequence[ImageInput] | None
    character: ImageInput | VideoInput | None
    performance: VideoInput | None
    body_control: bool | None
    expression_intensity: int | None
    resolution: str | None
    target_framerate: str | None
    aspect_ratio: str | None
    duration: int | None
    seed: int | None
    extra_body: dict[str, Any] | None


#: Sent as they are, under their own names, when given.
_PLAIN = (
    "aspect_ratio",
    "duration",
    "seed",
    "body_control",
    "expression_intensity",
    "resolution",
    "target_framerate",
)


def create_options(method: F) -> F:
    """``method`` (``def m(self, *, …, **options: Unpack[CreateOptions])``) as it would be with
    every option spelled out before its own keywords, each defaulting to None: that signature
    (for ``help()`` and ``inspect.signature``), and a keyword that is none of them refused with
    Python's own ``TypeError``. An ``async def`` stays one (its refusal comes when awaited)."""
    signature = inspect.signature(method)
    options = [
        # TypedDict keeps each annotation as a ForwardRef: shown as its text, as before.
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=getattr(kind, "__forward_arg__", kind),
        )
        for name, kind in CreateOptions.__annotations__.items()
    ]
    own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    spelled_out = signature.replace(parameters=[own[0], *options, *own[1:]])
    known = frozenset(spelled_out.parameters)

    def refuse_unknown(keywords: dict[str, Any]) -> None:
        for name in keywords:
            if name not in known:
                raise TypeError(
                    f"{method.__qualname__}() got an unexpected keyword argument {name!r}"
                )

    checked: Callable[..., Any]
    if inspect.iscoroutinefunction(method):

        async def checked(*args: Any, **keywords: Any) -> Any:
            refuse_unknown(keywords)
            return await method(*args, **keywords)

    else:

        def checked(*args: Any, **keywords: Any) -> Any:
            refuse_unknown(keywords)
            return method(*args, **keywords)

    functools.update_wrapper(checked, method)
    vars(checked)["__signature__"] = spelled_out
    return cast(F, checked)


def create_body(options: CreateOptions) -> dict[str, Any]:
    """The JSON body of ``POST /v2/video/generations``; a ``ValidationError`` names an input
    the server's way (``image_url``, ``references.0.url``…) when it cannot be read."""
    image = options.get("image")
    video = options.get("video")
    character = options.get("character")
    model = options.get("model")
    if model is None:
        model = default_model(
            has_image=image is not None,
            has_video=video is not None,
            has_character=character is not None,
            upscales=options.get("resolution") is not None,
            retimes=options.get("target_framerate") is not None,
        )
    body: dict[str, Any] = {"model": model}
    if (prompt := options.get("prompt")) is not None:
        body["prompt"] = prompt
    if image is not None:
        body["image_url"] = image_to_url(image, field="image_url")
    if (tail_image := options.get("tail_image")) is not None:
        body["tail_image_url"] = image_to_url(tail_image, field="tail_image_url")
    if video is not None:
        body["video_url"] = video_to_url(video, field="video_url")
    if references := options.get("references"):
        body["references"] = _references(references)
    if character is not None:
        body["character"] = character_to_input(character, field="character.url")
    if (performance := options.get("performance")) is not None:
        # aimlapi calls the performance that drives the character its ``reference``.
        url = video_to_url(performance, field="reference.url")
        body["reference"] = {"type": "video", "url": url}
    plain: dict[str, Any] = {name: options.get(name) for name in _PLAIN}
    body.update({k: v for k, v in plain.items() if v is not None})
    body.update(options.get("extra_body") or {})
    return body


def _references(references: Sequence[ImageInput]) -> list[dict[str, str]]:
    """aimlapi's ``references``, each image named in errors as the server names it."""
    # A lone path or URL is a sequence too (of characters): refused, not sent letter by letter.
    if isinstance(references, str | bytes | bytearray | memoryview | os.PathLike):
        raise TypeError("references: expected a list of images, not a single one")
    return [
        {"type": "image", "url": image_to_url(ref, field=f"references.{i}.url")}
        for i, ref in enumerate(references)
    ]

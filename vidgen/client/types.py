"""Typed results, read leniently from the aimlapi response shapes.

vidgen answers a poll with ``{id, status, video: {url, duration}, duration, error: {name, message},
meta: {usage, engine, model, seed, aspect_ratio, progress, thumbnail_url, created_at,
completed_at}}``. Other aimlapi-compatible services (AI/ML API itself) send only ``id``,
``status``, ``video``, ``error`` and ``meta.usage``, and older answers carry ``video`` as a list
of URLs. So every field but ``id`` is optional here, and the decoded body stays in ``raw``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "COMPLETED",
    "ERROR",
    "FINAL_STATUSES",
    "Generation",
    "GenerationError",
    "GenerationPage",
    "Model",
    "Usage",
    "Video",
    "parse_models",
]

COMPLETED = "completed"
ERROR = "error"
#: Statuses after which a generation never changes. aimlapi uses ``completed`` and ``error``; the
#: others are what similar services say. Any other word (``queued``, ``generating``, ``waiting``…)
#: counts as still running, so a service that invents a new in-between word does not end a wait.
FINAL_STATUSES = frozenset({COMPLETED, ERROR, "failed", "cancelled", "canceled"})


def _number(value: Any) -> int | float | None:
    """A count as the server sent it: an int stays an int, a whole float becomes one."""
    number = _float(value)
    if number is None:
        return None
    return int(number) if number.is_integer() else number


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None and number.is_integer() else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Video:
    """Where to download the result. ``url`` is signed and expires (24 h on vidgen)."""

    url: str
    duration: float | None = None

    @classmethod
    def parse(cls, value: Any, duration: float | None = None) -> Video | None:
        """``{url, duration}``, or the older forms: a list of URLs, or one URL."""
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value:
            return cls(url=value, duration=duration)
        if isinstance(value, dict) and _str(value.get("url")):
            return cls(url=value["url"], duration=_float(value.get("duration")) or duration)
        return None


@dataclass(frozen=True)
class GenerationError:
    """Why a generation ended in ``error``: ``name`` (e.g. ``Cancelled``) and ``message``."""

    name: str
    message: str

    @classmethod
    def parse(cls, value: Any) -> GenerationError | None:
        if isinstance(value, str) and value:
            return cls(name="Error", message=value)
        if isinstance(value, dict) and value:
            name = _str(value.get("name")) or _str(value.get("code")) or "Error"
            return cls(name=name, message=str(value.get("message") or ""))
        return None


@dataclass(frozen=True)
class Usage:
    """What the generation cost. A failed or cancelled one is refunded and reads 0."""

    # Whole numbers stay ints (8 credits, not 8.0); a service may also charge fractions.
    credits_used: int | float | None = None
    tokens_used: int | float | None = None

    @classmethod
    def parse(cls, value: Any) -> Usage | None:
        if not isinstance(value, dict):
            return None
        return cls(_number(value.get("credits_used")), _number(value.get("tokens_used")))


@dataclass(frozen=True)
class Generation:
    """One generation, as the server last reported it.

    Every field but ``id`` and ``status`` may be None: the ``meta`` fields (``engine``, ``seed``,
    ``progress``, ``thumbnail_url``…) are vidgen extensions, and a generation that was only just
    created knows little more than its id. ``raw`` is the decoded JSON body.

    Example::

        generation = client.generations.get("6f1c…")
        if generation.succeeded:
            print(generation.video.url, generation.seed)
    """

    id: str
    status: str
    video: Video | None = None
    duration: float | None = None
    error: GenerationError | None = None
    usage: Usage | None = None
    model: str | None = None
    engine: str | None = None
    seed: int | None = None
    aspect_ratio: str | None = None
    progress: float | None = None
    thumbnail_url: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Generation:
        """Read a create, poll or cancel answer. Raises ``ValueError`` when it has no id."""
        gen_id = body.get("id")
        if not isinstance(gen_id, str | int) or isinstance(gen_id, bool) or gen_id == "":
            raise ValueError(f"the server's answer has no generation id: {dict(body)!r:.300}")
        meta = _dict(body.get("meta"))
        duration = _float(body.get("duration"))
        progress = _float(meta.get("progress"))
        return cls(
            id=str(gen_id),
            status=str(body.get("status") or "").lower(),
            video=Video.parse(body.get("video"), duration),
            duration=duration,
            error=GenerationError.parse(body.get("error")),
            usage=Usage.parse(meta.get("usage", body.get("usage"))),
            model=_str(meta.get("model")) or _str(body.get("model")),
            engine=_str(meta.get("engine")),
            seed=_int(meta.get("seed")),
            aspect_ratio=_str(meta.get("aspect_ratio")),
            progress=None if progress is None else min(1.0, max(0.0, progress)),
            thumbnail_url=_str(meta.get("thumbnail_url")),
            created_at=_datetime(meta.get("created_at")),
            completed_at=_datetime(meta.get("completed_at")),
            raw=dict(body),
        )

    @property
    def is_final(self) -> bool:
        """True once the generation will not change any more (completed, or ended in error)."""
        return self.status in FINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        """True when it completed (its video is ready to download)."""
        return self.status == COMPLETED

    @property
    def failed(self) -> bool:
        """True when it ended without a video (an error, or a cancel)."""
        return self.is_final and not self.succeeded


@dataclass(frozen=True)
class GenerationPage:
    """One page of ``generations.list`` (a vidgen extension), newest first.

    Pass ``next_cursor`` as ``after`` to get the next page while ``has_more`` is true.
    """

    data: list[Generation]
    has_more: bool = False
    next_cursor: str | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> GenerationPage:
        items = body.get("data")
        data = [Generation.parse(item) for item in items or [] if isinstance(item, dict)]
        return cls(
            data=data,
            has_more=bool(body.get("has_more")),
            next_cursor=_str(body.get("next_cursor")),
        )

    def __iter__(self) -> Iterator[Generation]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Model:
    """A model the server offers, from ``GET /v1/models``.

    ``aspect_ratios`` maps each ratio to its output frame size (``{"16:9": "1280x720"}``) and
    ``credits`` maps each duration in seconds to its price; both are vidgen extensions and empty
    where a service does not say.
    """

    id: str
    engine: str | None = None
    title: str | None = None
    description: str | None = None
    aliases: list[str] = field(default_factory=list)
    aspect_ratios: dict[str, str] = field(default_factory=dict)
    default_aspect_ratio: str | None = None
    durations: list[int] = field(default_factory=list)
    default_duration: int | None = None
    credits: dict[int, int] = field(default_factory=dict)
    fps: int | None = None
    max_prompt_chars: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Model:
        ratios = _dict(body.get("aspect_ratios"))
        credits = _dict(body.get("credits"))
        return cls(
            id=str(body.get("id", "")),
            engine=_str(body.get("engine")),
            title=_str(body.get("title")),
            description=_str(body.get("description")),
            aliases=[a for a in body.get("aliases") or [] if isinstance(a, str)],
            aspect_ratios={str(k): str(v) for k, v in ratios.items()},
            default_aspect_ratio=_str(body.get("default_aspect_ratio")),
            durations=[d for d in map(_int, body.get("durations") or []) if d is not None],
            default_duration=_int(body.get("default_duration")),
            credits={
                seconds: price
                for seconds, price in ((_int(k), _int(v)) for k, v in credits.items())
                if seconds is not None and price is not None
            },
            fps=_int(body.get("fps")),
            max_prompt_chars=_int(body.get("max_prompt_chars")),
            raw=dict(body),
        )


def parse_models(body: Any) -> list[Model]:
    """``{object: "list", data: [...]}`` (OpenAI style, vidgen) or a bare list of models."""
    items = body.get("data") if isinstance(body, dict) else body
    return [Model.parse(item) for item in items or [] if isinstance(item, dict) and item.get("id")]

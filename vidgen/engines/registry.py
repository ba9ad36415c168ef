"""Engine discovery. Built-in engines register through the same entry-point group
(``vidgen.engines`` in pyproject.toml) that third-party plugins use, so a plugin is a package that
declares ``[project.entry-points."vidgen.engines"] my-engine = "my_pkg:MyEngine"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points

from vidgen.engines.base import Engine
from vidgen.settings import Settings

__all__ = [
    "ENTRY_POINT_GROUP",
    "UnknownEngine",
    "available_engines",
    "build_engines",
    "engine_class",
]

ENTRY_POINT_GROUP = "vidgen.engines"


class UnknownEngine(LookupError):
    pass


def available_engines() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def engine_class(name: str) -> type[Engine]:
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Engine)):
            raise TypeError(f"entry point {ep.value!r} is not an Engine subclass")
        return cls
    raise UnknownEngine(
        f"no engine named {name!r}; installed engines: {', '.join(available_engines())}"
    )


def build_engines(settings: Settings, names: Iterable[str]) -> dict[str, Engine]:
    """Instantiate each named engine once."""
    return {name: engine_class(name)(settings) for name in sorted(set(names))}

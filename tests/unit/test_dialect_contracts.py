"""The import contracts that keep a dialect a translation hold every dialect module: a module
that serves a dialect's routes and is missing from them could reach past the service unseen."""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path

import vidgen.api

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"
]


def dialect_modules() -> set[str]:
    """The modules under ``vidgen.api`` whose router renders errors in a dialect's shape."""
    found = set()
    for info in pkgutil.iter_modules(vidgen.api.__path__, "vidgen.api."):
        router = getattr(importlib.import_module(info.name), "router", None)
        if router is not None and hasattr(router.route_class, "dialect"):
            found.add(info.name)
    return found


def test_every_dialect_module_is_held_by_each_contract_about_dialects() -> None:
    modules = dialect_modules()
    assert {"vidgen.api.aimlapi", "vidgen.api.runway_uploads"} <= modules
    about_dialects = [c for c in CONTRACTS if c["name"].startswith("A dialect")]
    assert about_dialects
    for contract in about_dialects:
        assert sorted(modules - set(contract["source_modules"])) == [], contract["name"]

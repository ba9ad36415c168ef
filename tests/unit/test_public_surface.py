"""Public surfaces are explicit: the SDK's exported names change only on purpose, and every
module of vidgen says with ``__all__`` what it offers the others.

The modules are read as source (``ast``), not imported: importing every module would load torch
and diffusers for the GPU engine, seconds that this check does not need."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import vidgen.client

PACKAGE = Path(vidgen.__file__).resolve().parent

#: The SDK's public API (``pip install vidgen-api``). A change here is a change for every user
#: of the SDK: add a name on purpose, and remove or rename one only with a new major version.
SDK_NAMES = {
    "AIMLAPI_BASE_URL",
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "AsyncGenerations",
    "AsyncModels",
    "AuthenticationError",
    "Client",
    "Clock",
    "DEFAULT_BASE_URL",
    "DEFAULT_FRAME_RATE_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_PERFORMANCE_MODEL",
    "DEFAULT_TEXT_MODEL",
    "DEFAULT_UPSCALE_MODEL",
    "DEFAULT_VIDEO_MODEL",
    "DownloadError",
    "FieldProblem",
    "Generation",
    "GenerationError",
    "GenerationFailed",
    "GenerationPage",
    "Generations",
    "ImageInput",
    "InsufficientCredits",
    "Model",
    "Models",
    "NotFound",
    "PayloadTooLarge",
    "PollPolicy",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Timeout",
    "Usage",
    "ValidationError",
    "Video",
    "VideoInput",
    "VidgenError",
    "character_to_input",
    "image_to_url",
    "video_to_url",
}


def test_the_sdk_exports_exactly_its_public_names() -> None:
    assert len(vidgen.client.__all__) == len(set(vidgen.client.__all__))  # no name twice
    assert set(vidgen.client.__all__) == SDK_NAMES
    star: dict[str, object] = {}
    exec("from vidgen.client import *", star)  # what `import *` gives a user
    assert set(star) - {"__builtins__"} == SDK_NAMES


def modules() -> Iterator[tuple[str, Path, ast.Module]]:
    """Every module of the package but the Alembic scripts (run by Alembic, never imported)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if "migrations" in relative.parts:
            continue
        name = ".".join(relative.parts).removesuffix(".__init__")
        yield name, path, ast.parse(path.read_text(), filename=str(path))


def declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert node.value is not None
                value = ast.literal_eval(node.value)
                assert isinstance(value, list)
                return value
    return None


def bound_at_run_time(statements: list[ast.stmt]) -> set[str]:
    """The names these top-level statements bind when the module runs (a name bound only
    under ``if TYPE_CHECKING:`` does not exist then)."""
    names: set[str] = set()
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                names |= bound_at_run_time(node.body)
            names |= bound_at_run_time(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                names |= bound_at_run_time(block)
    return names


def is_bare_package_marker(path: Path, tree: ast.Module) -> bool:
    """An ``__init__.py`` with no code (at most a docstring): it offers nothing of its own."""
    code = [
        node
        for node in tree.body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    return path.name == "__init__.py" and not code


def test_every_module_declares_its_public_names_and_each_exists() -> None:
    missing: list[str] = []
    unbound: dict[str, list[str]] = {}
    for name, path, tree in modules():
        names = declared_all(tree)
        if names is None:
            if not is_bare_package_marker(path, tree):
                missing.append(name)
            continue
        assert len(names) == len(set(names)), f"{name}: a name twice in __all__"
        absent = sorted(set(names) - bound_at_run_time(tree.body))
        if absent:
            unbound[name] = absent
    assert missing == []
    assert unbound == {}


def test_what_one_module_takes_from_another_is_in_that_modules_public_names() -> None:
    """``from vidgen.x import name`` and ``module.name`` across vidgen: ``name`` is one of the
    names ``vidgen.x`` declares, so ``__all__`` lists all that the others rely on."""
    declared = {name: declared_all(tree) for name, _, tree in modules()}
    reached: list[str] = []
    for importer, _, tree in modules():
        aliases: dict[str, str] = {}
        taken: set[tuple[str, str]] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if not node.module.startswith("vidgen"):
                    continue
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in declared:  # a submodule, not a name
                        aliases[alias.asname or alias.name] = full
                    else:
                        taken.add((node.module, alias.name))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                taken.add((aliases[node.value.id], node.attr))
        for module, name in sorted(taken):
            if module == importer or module not in declared:
                continue
            if name not in (declared[module] or ()):
                reached.append(f"{importer} takes {name} from {module}")
    assert reached == []

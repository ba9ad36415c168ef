"""Every reason that names a model is a template (``FieldError.naming``): each of its fields is
a value it is given, or ``{model}``, so filling it in for a 400 cannot fail as a 500."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import vidgen


def templates() -> list[tuple[str, str, set[str]]]:
    """Each constant template passed to ``FieldError.naming`` or ``InvalidRequest.single(…,
    model=…)`` in vidgen: where, the template, the names of the values given with it."""
    found = []
    for path in Path(vidgen.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            given = {k.arg for k in node.keywords if k.arg}
            if node.func.attr == "naming":
                template = node.args[2]
            elif node.func.attr == "single" and "model" in given:
                template = node.args[1]
            else:
                continue
            if isinstance(template, ast.Constant) and isinstance(template.value, str):
                found.append((f"{path.name}:{node.lineno}", template.value, given))
    return found


def test_each_template_has_every_value_it_names_and_names_every_value_it_has() -> None:
    found = templates()
    assert len(found) > 10  # the walk found them
    for where, template, given in found:
        fields = {
            name.split(".")[0].split("[")[0]
            for _, name, _, _ in string.Formatter().parse(template)
            if name
        }
        assert "model" in fields, where
        assert fields - {"model"} == given - {"model", "location"}, where

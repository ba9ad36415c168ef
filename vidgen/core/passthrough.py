"""A request's fields that no dialect names (``GenerationRequest.extras``): kept for a model only
the aimlapi upstream knows, refused for every other.

vidgen has no list of a pass-through model's own fields (``ModelSpec.passthrough``), so it cannot
tell a typo from a field the upstream takes: it forwards them as sent and the upstream's own
checks decide. What vidgen still checks is what it must store and send on: each value is plain
JSON that both databases store and that encodes again as JSON (no NUL, no lone surrogate, no
NaN, no integer beyond 64 bits), and the lot stays small and shallow, so nothing a client sends
here can make vidgen answer 5xx. Any other model takes such a field only where its catalog entry
lists it among its options (``ModelSpec.options``, then checked like any option), and refuses the
rest with a 400 naming each: a typo is an error, not silently ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from vidgen.core.model_spec import ModelSpec
from vidgen.core.models import GenerationRequest
from vidgen.core.validation import text_problem
from vidgen.errors import FieldError

__all__ = ["MAX_EXTRA_BYTES", "MAX_EXTRA_DEPTH", "MAX_EXTRA_FIELDS", "take_extras"]

#: At most this many fields of a pass-through model's own (aimlapi's largest model documents
#: take about twenty).
MAX_EXTRA_FIELDS: Final = 32
#: Nesting deeper than this is refused (a field's value at depth 1; ``{"a": [1]}`` is 2).
MAX_EXTRA_DEPTH: Final = 8
#: The fields together, as compact JSON: they are stored with the job and sent upstream.
MAX_EXTRA_BYTES: Final = 64 * 1024
_MAX_NAME_CHARS: Final = 100
_INT_RANGE: Final = (-(2**63), 2**63 - 1)


def _value_problem(value: Any, depth: int) -> str | None:
    if depth > MAX_EXTRA_DEPTH:
        return f"is nested more than {MAX_EXTRA_DEPTH} levels deep"
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            return "holds an integer outside the 64-bit range"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "holds a number that is not finite"
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, list):
        for item in value:
            if (problem := _value_problem(item, depth + 1)) is not None:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or (problem := text_problem(key)) is not None:
                return f"has a key that {problem or 'is not text'}"
            if (problem := _value_problem(item, depth + 1)) is not None:
                return problem
        return None
    return f"is not a JSON value (got {type(value).__name__})"


def take_extras(
    spec: ModelSpec, request: GenerationRequest
) -> tuple[GenerationRequest, list[FieldError]]:
    """The request with its unnamed fields (``extras``) resolved against the model, and what is
    wrong with them. A pass-through model keeps them all as options, each checked to be
    storable, sendable JSON. Any other model takes those its catalog entry lists as options
    (checked later against the entry, like any option) and refuses the rest."""
    extras = request.extras
    if not extras:
        return request, []
    if spec.passthrough:
        errors = _passthrough_errors(extras)
        kept = dict(extras)
    else:
        # A null is an option left out, as for the options the dialect names.
        kept = {n: v for n, v in extras.items() if n in spec.options and v is not None}
        errors = [
            FieldError(name, "is not a known field", as_sent=True)
            for name in extras
            if name not in spec.options
        ]
        # Checked like the dialect's own options' text (``text_errors``) before the database
        # sees them; their type and values are the entry's to check (``option_errors``).
        errors += [
            FieldError(name, problem)
            for name, value in kept.items()
            if (problem := _value_problem(value, 1)) is not None
        ]
    # The dialect's own fields keep their meaning: an extra never replaces one.
    return replace(request, options={**kept, **request.options}, extras={}), errors


def _passthrough_errors(extras: Mapping[str, Any]) -> list[FieldError]:
    if len(extras) > MAX_EXTRA_FIELDS:
        return [
            FieldError(
                "body",
                f"has {len(extras)} fields vidgen does not know; at most "
                f"{MAX_EXTRA_FIELDS} are sent to the upstream",
            )
        ]
    errors: list[FieldError] = []
    for name, value in extras.items():
        if len(name) > _MAX_NAME_CHARS:
            errors.append(
                FieldError(
                    name[:40] + "…", f"is longer than {_MAX_NAME_CHARS} characters", as_sent=True
                )
            )
        elif (problem := text_problem(name)) is not None:
            errors.append(
                FieldError(ascii(name)[:40], f"is a field name that {problem}", as_sent=True)
            )
        elif (problem := _value_problem(value, 1)) is not None:
            errors.append(FieldError(name, problem, as_sent=True))
    if not errors:
        size = len(json.dumps(dict(extras), separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_EXTRA_BYTES:
            errors.append(
                FieldError(
                    "body",
                    f"the fields vidgen does not know take {size} bytes as JSON; at most "
                    f"{MAX_EXTRA_BYTES} are sent to the upstream",
                )
            )
    return errors

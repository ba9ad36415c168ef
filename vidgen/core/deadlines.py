"""``Cancel-After`` and ``Prefer: wait``: how long a client lets a generation run, and how long
it holds a create's answer. Both are headers, parsed here so that every dialect reads them the
same way (``service.generations`` applies them).

``Cancel-After`` takes Replicate's duration format, Go's ``time.ParseDuration`` without the
sub-second units: one or more ``<number><unit>`` with units ``h``, ``m`` and ``s`` (``30s``,
``5m``, ``1h30m``, ``1.5h``), or a bare number of seconds (``90``). It must be 5 s to 24 h, as
Replicate bounds it: shorter could never let a job start; longer is no deadline at all.

``Prefer: wait=N`` (RFC 7240) asks the server to hold the answer for up to N seconds. As RFC 7240
says, preferences the server does not know are ignored, and so are the other preferences in the
header; a ``wait`` above ``MAX_WAIT_SECONDS`` is honoured partially, for that long (the answer's
``Preference-Applied`` says how long); ``wait`` alone is ``wait=60``, as Replicate reads it. A
``wait`` whose value is not a whole number of seconds is refused (400 naming ``Prefer``): the
client asked to wait and would otherwise be answered at once without knowing why.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = [
    "CANCEL_AFTER",
    "DEADLINE_EXCEEDED",
    "MAX_CANCEL_AFTER",
    "MAX_WAIT_SECONDS",
    "MIN_CANCEL_AFTER",
    "PREFER",
    "parse_cancel_after",
    "parse_wait",
]

#: The headers' names, as the errors name them.
CANCEL_AFTER = "Cancel-After"
PREFER = "Prefer"
MIN_CANCEL_AFTER = timedelta(seconds=5)
MAX_CANCEL_AFTER = timedelta(hours=24)
MAX_WAIT_SECONDS = 60
#: The error of a job that its Cancel-After deadline ended.
DEADLINE_EXCEEDED = (
    "DeadlineExceeded",
    "The generation did not finish before its Cancel-After deadline; it was cancelled and refunded.",
)

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)([hms])")
_BARE = re.compile(r"\d+(?:\.\d+)?")


def parse_cancel_after(value: str) -> timedelta:
    """The duration a ``Cancel-After`` value says; ``ValueError`` with the reason otherwise."""
    text = value.strip()
    if _BARE.fullmatch(text):
        seconds = float(text)
    else:
        position, seconds = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            position = match.end()
        if position == 0 or position != len(text):
            raise ValueError(
                f"{value[:40]!r} is not a duration: use a number with h, m or s, as 30s, 5m "
                "or 1h30m (a bare number is seconds)"
            )
    # Compared as a number first: a huge value would overflow ``timedelta``.
    if not MIN_CANCEL_AFTER.total_seconds() <= seconds <= MAX_CANCEL_AFTER.total_seconds():
        raise ValueError("must be from 5s to 24h")
    return timedelta(seconds=seconds)


def parse_wait(value: str) -> int | None:
    """The seconds a ``Prefer`` header asks to wait (at most ``MAX_WAIT_SECONDS``), or None when
    it has no ``wait`` preference; ``ValueError`` when its ``wait`` is not whole seconds."""
    for preference in value.split(","):
        token = preference.partition(";")[0]  # parameters after ";" do not apply to wait
        name, has_value, raw = token.partition("=")
        if name.strip().lower() != "wait":
            continue
        if not has_value:
            return MAX_WAIT_SECONDS
        raw = raw.strip().strip('"')
        if not raw.isascii() or not raw.isdigit():
            raise ValueError(f"wait must be a whole number of seconds, 0 to {MAX_WAIT_SECONDS}")
        return min(int(raw), MAX_WAIT_SECONDS)
    return None

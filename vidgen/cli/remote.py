"""What the commands that talk to a server share: its address and key, ``--json``, and one
mapping from SDK errors to messages and exit codes.

These commands use the SDK (``vidgen.client``) only, so they work against any vidgen, or any
aimlapi-compatible service, exactly as a Python program would.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from vidgen.client import (
    APIError,
    AuthenticationError,
    Client,
    GenerationFailed,
    InsufficientCredits,
    NotFound,
    PollPolicy,
    Timeout,
    ValidationError,
    VidgenError,
)

__all__ = [
    "ApiKey",
    "BaseUrl",
    "ExitCode",
    "JsonOutput",
    "connect",
    "err",
    "error_json",
    "exit_code_for",
    "fail",
    "out",
    "print_json",
    "reporting_errors",
]


class ExitCode(IntEnum):
    """Exit statuses of ``generate``, ``status``, ``list``, ``cancel`` and ``models``."""

    OK = 0
    FAILED = 1  # the generation ended in error, or was cancelled
    BAD_INPUT = 2  # 400/413/422, an unreadable image or video, no input, a bad option
    AUTH = 3  # 401: missing, unknown or revoked key
    CREDITS = 4  # 402/403: not enough credits; nothing was created
    TIMEOUT = 5  # --timeout ran out; the generation goes on
    NOT_FOUND = 6  # 404: no such generation for this key
    UNAVAILABLE = 7  # unreachable, 5xx or 429 after retries, download failed
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="Server to talk to (env VIDGEN_BASE_URL; default http://127.0.0.1:8000).",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="API key (env VIDGEN_API_KEY, or AIMLAPI_KEY for https://api.aimlapi.com).",
        show_default=False,
    ),
]
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print the result (or the error) as JSON on stdout.")
]

#: Messages, the live display and prompts go to stderr, so stdout holds only results.
err = Console(stderr=True, highlight=False, soft_wrap=True)
# In a pipe rich would assume 80 columns and cut ids short; a file or a pager can take more.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def connect(base_url: str | None, api_key: str | None, *, max_poll: float = 5.0) -> Client:
    """An SDK client for the options given (the SDK reads the environment for the rest)."""
    return Client(api_key, base_url=base_url, poll=PollPolicy(maximum=max_poll))


def print_json(value: Any) -> None:
    """One JSON document on stdout, as it is (no colours, no wrapping)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
    sys.stdout.flush()


def exit_code_for(error: VidgenError) -> ExitCode:
    """The exit status for an SDK error (see ``ExitCode``)."""
    table: list[tuple[type[VidgenError], ExitCode]] = [
        (GenerationFailed, ExitCode.FAILED),
        (ValidationError, ExitCode.BAD_INPUT),
        (AuthenticationError, ExitCode.AUTH),
        (InsufficientCredits, ExitCode.CREDITS),
        (Timeout, ExitCode.TIMEOUT),
        (NotFound, ExitCode.NOT_FOUND),
    ]
    return next((code for cls, code in table if isinstance(error, cls)), ExitCode.UNAVAILABLE)


def error_json(error: VidgenError) -> dict[str, Any]:
    """``{"error": {...}}`` for ``--json``: the type, message, status and fields at fault."""
    detail: dict[str, Any] = {"type": type(error).__name__, "message": error.message}
    if isinstance(error, APIError):
        detail["status_code"] = error.status_code
        detail["request_id"] = error.request_id
    if isinstance(error, ValidationError):
        detail["errors"] = [{"field": p.field, "message": p.message} for p in error.errors]
    if isinstance(error, Timeout):
        detail["generation_id"] = error.generation_id
    return {"error": detail}


def fail(error: VidgenError, *, as_json: bool) -> NoReturn:
    """Report ``error`` (on stderr; also as JSON on stdout with ``--json``) and exit."""
    code = exit_code_for(error)
    if as_json:
        print_json(error_json(error))
    if isinstance(error, ValidationError) and error.errors:
        # vidgen's message repeats every field on one line; one line per field reads better.
        status = f" ({error.status_code})" if error.status_code else ""
        err.print(f"[red]error:[/] the request is invalid{status}:")
        for problem in error.errors:
            err.print(f"  [bold]{escape(problem.field or 'request')}[/]: {escape(problem.message)}")
    else:
        err.print(f"[red]error:[/] {escape(str(error))}")
    hint = _hints.get(code)
    if hint:
        err.print(f"[dim]{escape(hint)}[/]")
    raise typer.Exit(code)


_hints = {
    # Said for a missing key and a refused one alike: both are fixed where the key comes from.
    ExitCode.AUTH: "The key is --api-key or VIDGEN_API_KEY; `vidgen keys create` makes one.",
    # The server looks ids up whole (it has no search by prefix), as `vidgen keys` does.
    ExitCode.NOT_FOUND: "Give the whole id, as `vidgen list` shows it; another key's "
    "generations are not found either.",
    ExitCode.UNAVAILABLE: "Is the server running? Check --base-url or VIDGEN_BASE_URL.",
}


@contextmanager
def reporting_errors(*, as_json: bool) -> Iterator[None]:
    """Turn SDK errors raised inside into a message and the matching exit code."""
    try:
        yield
    except VidgenError as exc:
        fail(exc, as_json=as_json)
    except KeyboardInterrupt:
        # click would say "Aborted!" and exit 1, which reads like a failure of the command.
        raise typer.Exit(ExitCode.INTERRUPTED) from None

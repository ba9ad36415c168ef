"""Structured logging: one JSON object per line, each carrying the request and generation ids.

The ids live in context variables, set by the HTTP middleware (request id) and by the service and
the worker (generation id), so every log call made while serving them carries them without being
passed around. ``VIDGEN_LOG_FORMAT=console`` prints the same fields for humans (the default
when stderr is a terminal).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ConsoleFormatter",
    "JsonFormatter",
    "configure_logging",
    "generation_id_var",
    "log_request",
    "request_id_var",
    "resolve_format",
]

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
generation_id_var: ContextVar[str | None] = ContextVar("generation_id", default=None)

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged as a field.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.generation_id = generation_id_var.get()
        return True


_OWN_FIELDS = _STANDARD_ATTRS | {"ts", "level", "logger", "msg", "request_id", "generation_id"}
_LEVELS = {level: logging.getLevelName(level).lower() for level in range(0, 60, 10)}


class _Clock:
    """ISO 8601 timestamps to the millisecond, UTC; the date and time to the second are
    formatted once per second (the API writes a line per request)."""

    last: tuple[int, str] = (-1, "")  # one attribute: threads swap it whole

    @classmethod
    def iso(cls, created: float) -> str:
        second = int(created)
        cached, prefix = cls.last
        if second != cached:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            cls.last = (second, prefix)
        return f"{prefix}.{int((created - second) * 1000):03d}+00:00"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": _Clock.iso(record.created),
        "level": _LEVELS.get(record.levelno) or record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
        "request_id": getattr(record, "request_id", None),
        "generation_id": getattr(record, "generation_id", None),
    }
    for name, value in record.__dict__.items():
        if name not in _OWN_FIELDS:
            fields[name] = value
    if record.exc_info:
        # Kept in the log for operators; never sent to a client.
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    return fields


class JsonFormatter(logging.Formatter):
    # One encoder for every line: json.dumps with options builds a new one per call.
    _encoder = json.JSONEncoder(default=str, ensure_ascii=False)

    def format(self, record: logging.LogRecord) -> str:
        return self._encoder.encode(_fields(record))


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        head = f"{fields.pop('ts')[11:23]} {fields.pop('level'):<7} {fields.pop('msg')}"
        fields.pop("logger")
        exc = fields.pop("exc", None)
        tail = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return f"{head}  {tail}" + (f"\n{exc}" if exc else "")


class _RequestLog:
    """Where ``log_request`` may write directly: the handler ``configure_logging`` installed
    (None until then, and for the console format)."""

    handler: logging.StreamHandler | None = None  # type: ignore[type-arg]


def log_request(
    logger: logging.Logger, level: int, method: str, path: str, status: int, route: str, ms: float
) -> None:
    """The API's line for one request: ``logger.log(level, "<method> <path> <status>", extra=
    {status, route, ms})``, written as exactly the line that call would print.

    The API writes one per request, and going through ``logging`` for it (a LogRecord, the
    logger chain, the handler's filter and formatter) cost ~40 µs of a ~260 µs poll on a busy
    2-core server, the largest single part. So while the output is what ``configure_logging``
    set up (our one JSON handler on the root, nothing added to the loggers in between), the
    line is encoded here and written under the handler's own lock; otherwise, or for the
    console format, it goes through ``logging`` like any other line."""
    handler = _RequestLog.handler
    if handler is None or not _plain_chain(logger, handler):
        logger.log(
            level,
            "%s %s %s",
            method,
            path,
            status,
            extra={"status": status, "route": route, "ms": ms},
        )
        return
    if not logger.isEnabledFor(level) or level < handler.level:
        return
    line = JsonFormatter._encoder.encode(
        {
            "ts": _Clock.iso(time.time()),
            "level": _LEVELS[level],
            "logger": logger.name,
            "msg": f"{method} {path} {status}",
            "request_id": request_id_var.get(),
            "generation_id": generation_id_var.get(),
            "status": status,
            "route": route,
            "ms": ms,
        }
    )
    with handler.lock:  # type: ignore[union-attr]
        handler.stream.write(line + "\n")
        handler.stream.flush()


def _plain_chain(logger: logging.Logger, handler: logging.Handler) -> bool:
    """Nothing between ``logger`` and the root would see the record but ``handler``."""
    node: logging.Logger | None = logger
    while node is not None and node is not logging.root:
        if node.handlers or node.filters or not node.propagate:
            return False
        node = node.parent
    root = logging.root
    return (
        not root.filters
        and len(root.handlers) == 1
        and root.handlers[0] is handler
        and isinstance(handler.formatter, JsonFormatter)
        and len(handler.filters) == 1
        and isinstance(handler.filters[0], _ContextFilter)
    )


def resolve_format(fmt: str) -> str:
    """``auto``: the console format for a person at a terminal, JSON for everything else (a
    file, a pipe, journald, a log collector). An explicit format always wins."""
    if fmt != "auto":
        return fmt
    return "console" if sys.stderr.isatty() else "json"


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    fmt = resolve_format(fmt)
    # What a record would collect and no line prints: the caller's file and line, the thread
    # and process names (the logging HOWTO's "Optimization" section). A few µs per record,
    # and the API writes one per request.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(_ContextFilter())
    _RequestLog.handler = handler if fmt == "json" else None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own handlers would print unstructured lines; route them through ours. Its access
    # log is replaced by the API's request log, which has the request id and the route.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # runwayml's debug log dumps whole request bodies: inline images, megabytes each.
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration", "runwayml"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

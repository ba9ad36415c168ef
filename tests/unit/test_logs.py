"""Structured logs: the API's request line is the line ``logging`` would print, however it is
written."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
from collections.abc import Iterator
from pathlib import Path

import pytest

from vidgen.api.app import new_request_id
from vidgen.logs import configure_logging, generation_id_var, log_request, request_id_var
from vidgen.settings import Settings


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Logging configured as ``vidgen serve`` configures it, into a string."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    saved = logging.root.handlers[:], logging.root.level
    configure_logging("INFO", "json")
    yield stream
    logging.root.handlers[:], level = saved
    logging.root.setLevel(level)


def only_ours() -> None:
    """Take pytest's capture handlers off the root for this test's body (it adds them to
    every phase), so that the root holds only the handler ``configure_logging`` installed."""
    logging.root.handlers[:] = logging.root.handlers[:1]


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_line_is_the_line_logging_would_print(
    stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = logging.getLogger("vidgen.http")
    request = request_id_var.set("req-1")
    generation = generation_id_var.set("gen-1")
    records: list[str] = []
    make_record = logging.Logger.makeRecord

    def spy(*args: object, **kwargs: object) -> logging.LogRecord:
        records.append(str(args[2]))
        return make_record(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(logging.Logger, "makeRecord", spy)
    only_ours()
    try:
        log_request(logger, logging.INFO, "GET", '/v2/"quoted" ü', 404, "/v2/x", 0.42)
        assert records == []  # written directly, without a LogRecord
        logger.log(
            logging.INFO,
            "%s %s %s",
            "GET",
            '/v2/"quoted" ü',
            404,
            extra={"status": 404, "route": "/v2/x", "ms": 0.42},
        )
    finally:
        request_id_var.reset(request)
        generation_id_var.reset(generation)
    direct, through_logging = lines(stderr)
    assert direct.pop("ts") and through_logging.pop("ts")
    assert list(direct.items()) == list(through_logging.items())  # same fields, same order
    assert direct["msg"] == 'GET /v2/"quoted" ü 404' and direct["request_id"] == "req-1"


def test_request_lines_follow_the_level_and_reach_handlers_added_later(
    stderr: io.StringIO,
) -> None:
    logger = logging.getLogger("vidgen.http")
    only_ours()
    log_request(logger, logging.DEBUG, "GET", "/health", 200, "/health", 0.1)
    assert lines(stderr) == []  # below INFO
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    added = Capture()
    logger.addHandler(added)
    try:
        log_request(logger, logging.INFO, "POST", "/v2/video/generations", 201, "/v2/x", 3.0)
    finally:
        logger.removeHandler(added)
    assert [r.getMessage() for r in captured] == ["POST /v2/video/generations 201"]
    assert captured[0].route == "/v2/x"  # type: ignore[attr-defined]
    assert [line["msg"] for line in lines(stderr)] == ["POST /v2/video/generations 201"]


def test_request_ids_look_like_uuids_and_do_not_repeat() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 36 and i[14] == "4" for i in ids)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    saved = logging.root.handlers[:], logging.root.level
    yield
    logging.root.handlers[:], level = saved
    logging.root.setLevel(level)


def logged_line(monkeypatch: pytest.MonkeyPatch, *, terminal: bool, env: str | None) -> str:
    """One log line, configured from the settings as ``vidgen serve`` does, with stderr a real
    terminal (a pty) or a pipe, and VIDGEN_LOG_FORMAT as given."""
    if env is None:
        monkeypatch.delenv("VIDGEN_LOG_FORMAT", raising=False)
    else:
        monkeypatch.setenv("VIDGEN_LOG_FORMAT", env)
    reader, writer = pty.openpty() if terminal else os.pipe()
    with os.fdopen(writer, "w") as stream:
        monkeypatch.setattr("sys.stderr", stream)
        settings = Settings(data_dir=Path("unused"))
        configure_logging(settings.log_level, settings.log_format)
        only_ours()
        logging.getLogger("vidgen.test").info("hello", extra={"answer": 42})
        stream.flush()
        text = os.read(reader, 4096).decode()
    os.close(reader)
    return text.strip()


def test_logs_are_for_humans_at_a_terminal_and_json_elsewhere_unless_told(
    monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    at_terminal = logged_line(monkeypatch, terminal=True, env=None)
    assert "hello" in at_terminal and "answer=42" in at_terminal
    assert not at_terminal.startswith("{")
    piped = json.loads(logged_line(monkeypatch, terminal=False, env=None))
    assert (piped["msg"], piped["answer"]) == ("hello", 42)
    # An explicit format wins either way.
    assert json.loads(logged_line(monkeypatch, terminal=True, env="json"))["msg"] == "hello"
    assert logged_line(monkeypatch, terminal=False, env="console").endswith("answer=42")

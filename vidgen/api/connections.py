"""What a client connection may hold on a ``vidgen serve`` process: time to send its request's
head, time to stay idle, bytes of head, and a place among a capped number of connections; and
the open-file limit raised to fit them. (The minimum body rate is the app's business: see
``api.app.RequestContextMiddleware``, the only layer that knows when it waits for a body.)

uvicorn (0.55, with httptools, the parser ``vidgen serve`` uses) offers part of this only:

- ``timeout_keep_alive`` closes a connection that stays silent after an answer, and that is
  all: it is armed when a response completes and cancelled by any byte received. A connection
  that never sends a byte, or sends its request line a byte at a time and never ends its
  headers, has no timer at all and is held for ever.
- ``limit_concurrency`` answers 503 once open connections (or running requests) reach the limit,
  but only to a request that has sent its headers, and it logs a warning for each one. Every
  socket is still accepted and kept, so idle ones use the limit up, and file descriptors run
  out all the same; then ``accept()`` fails and nothing is served.
- ``h11_max_incomplete_event_size`` bounds a request head under h11 only; with httptools the URL
  and headers grow without bound for as long as they keep coming.

``guarded_protocol`` adds the rest to uvicorn's httptools protocol, in a subclass of it: the
smallest place that sees a connection from its first byte.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vidgen.settings import Settings

__all__ = ["ConnectionLimits", "guarded_protocol", "raise_open_file_limit"]

log = logging.getLogger("vidgen.http")

#: The largest request head (request line and headers) read; above it, 431 and a close.
MAX_HEAD_BYTES = 64 * 1024
#: Files kept for what is not a client connection (the database, stored videos, image
#: fetches, webhooks, encoders, logs: about 20 at rest), out of the open-file limit.
RESERVED_FILES = 128
#: At most one warning this often while connections are being refused.
WARN_EVERY_SECONDS = 60.0

_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 29\r\nconnection: close\r\n\r\n"
    b"Request head is over 64 KiB.\n"
)


class HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing a request head over MAX_HEAD_BYTES."""


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit (a server holds a file per
    connection, and the soft limit is often 1024); return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:  # e.g. an unlimited hard limit the kernel refuses
            log.warning("could not raise the open-file limit", extra={"error": repr(exc)})
        else:
            log.info("open-file limit raised", extra={"from": soft, "to": hard})
            soft = hard
    return soft


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    idle_timeout: float
    max_connections: int

    @classmethod
    def for_process(cls, settings: Settings, open_files: int) -> ConnectionLimits:
        """The settings' limits, with the connection cap lowered to what ``open_files`` leaves
        room for: past it, ``accept()`` would fail and stop all service."""
        room = max(1, open_files - min(RESERVED_FILES, open_files // 2))
        cap = settings.max_connections
        if cap > room:
            log.warning(
                "VIDGEN_MAX_CONNECTIONS lowered to fit the open-file limit",
                extra={"configured": cap, "lowered_to": room, "open_file_limit": open_files},
            )
            cap = room
        return cls(settings.header_timeout_seconds, settings.idle_timeout_seconds, cap)


class _RefusalLog:
    """Counts refused connections; logs one warning when the cap is first reached, then at
    most one every ``WARN_EVERY_SECONDS`` with the count, never one per connection."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.refused = 0
        self.next_warning = 0.0

    def refused_one(self) -> None:
        self.refused += 1
        now = time.monotonic()
        if now >= self.next_warning:
            log.warning(
                "connection cap (VIDGEN_MAX_CONNECTIONS) reached: refusing new connections",
                extra={"max_connections": self.cap, "refused": self.refused},
            )
            self.refused = 0
            self.next_warning = now + WARN_EVERY_SECONDS


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with vidgen's connection limits, for ``uvicorn.Config(
    http=…)``. uvicorn builds one instance per connection; the limits and the refusal log are
    shared by all of them."""
    refusals = _RefusalLog(limits.max_connections)

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # uvicorn's keep-alive timer, armed after each answer; also armed below for the
            # wait before the first request. (Set here: uvicorn's own option is an int.)
            self.timeout_keep_alive = limits.idle_timeout  # type: ignore[assignment]
            self.head_timer: asyncio.TimerHandle | None = None
            self.in_head = False
            self.head_bytes = 0
            self.head_too_large = False
            self.discarding = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                refusals.refused_one()
                transport.close()
                return
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.discarding:  # after a 431: read what the client still sends, unparsed
                return
            super().data_received(data)
            if self.discarding or self.transport.is_closing():
                return
            if self.in_head:
                self.head_bytes += len(data)
                if self.head_bytes > MAX_HEAD_BYTES:
                    self._refuse_head()
                    return
            if self.head_timer is None and (self.cycle is None or self.cycle.response_complete):
                # Bytes while no request is being handled: a head begun, blank lines, or the
                # rest of a body nobody read. Together they get the header timeout, however
                # slowly they trickle (uvicorn's keep-alive timer is cancelled by every byte).
                self.head_timer = self.loop.call_later(limits.header_timeout, self._time_out)

        def on_message_begin(self) -> None:
            self.in_head = True
            self.head_bytes = 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self.in_head = False
            self._stop_head_timer()
            # A head that came whole in one read is measured here, before the app sees it.
            if len(self.url) + sum(len(n) + len(v) for n, v in self.headers) > MAX_HEAD_BYTES:
                self.head_too_large = True
                raise HeadTooLarge  # stops the parser: uvicorn calls send_400_response
            super().on_headers_complete()

        def send_400_response(self, msg: str) -> None:
            if self.head_too_large:
                self._refuse_head()
            else:
                super().send_400_response(msg)

        def _stop_head_timer(self) -> None:
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None

        def _time_out(self) -> None:
            self.head_timer = None
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()
            else:  # a pipelined request's head is late: end the connection after this answer
                self.cycle.keep_alive = False

        def _refuse_head(self) -> None:
            # Answer, then read and drop what follows until the client closes or the header
            # timeout does: closing with unread bytes would reset the connection, and the
            # client would likely never see the 431.
            self.transport.write(_HEAD_TOO_LARGE)
            self.discarding = True
            if self.transport.can_write_eof():
                self.transport.write_eof()
            if self.head_timer is None:
                self.head_timer = self.loop.call_later(limits.header_timeout, self._time_out)

    return GuardedHttpToolsProtocol

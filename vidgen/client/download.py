"""Write a download to disk so that a broken or short transfer never leaves a bad MP4 behind.

Bytes go to ``<name>.part`` beside the target. A transfer that breaks resumes with a ``Range``
request where the server allows it (vidgen's file links do). The file is renamed into place only
when it has exactly the length the server announced.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import IO

import httpx

from vidgen.client.errors import DownloadError

__all__ = ["LinkRefused", "PartialFile", "RetryableDownload"]

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class LinkRefused(DownloadError):
    """403/404/410 on the link itself: usually an expired signature; a fresh link may work."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"the download link was refused ({status_code}); it may have expired")
        self.status_code = status_code


class RetryableDownload(DownloadError):
    """408/429/5xx on the download: worth another try after a pause."""


class PartialFile:
    """The target file's ``.part`` sibling, filled by one or more responses, then checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.received = 0
        self.total: int | None = None
        self._file: IO[bytes] | None = None

    def request_headers(self) -> dict[str, str]:
        # identity: a compressed transfer could not be checked against Content-Length.
        headers = {"Accept-Encoding": "identity"}
        if self.received:
            headers["Range"] = f"bytes={self.received}-"
        return headers

    def begin(self, response: httpx.Response) -> None:
        """Take the response's status and headers; decide whether to append or start over."""
        status = response.status_code
        if status in (403, 404, 410):
            raise LinkRefused(status)
        if status in (408, 429) or status >= 500:
            raise RetryableDownload(f"the download answered {status}")
        if status == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
            if self.received and match and int(match[1]) == self.received:
                self.total = None if match[3] == "*" else int(match[3])
                self._open(append=True)
                return
            self.received = 0  # not the range we asked for: the next try asks for it all
            raise RetryableDownload("the download answered with an unexpected range")
        if status != 200:
            raise DownloadError(f"the download answered {status}")
        # The whole file (a server may ignore Range): start over from byte 0.
        self.received = 0
        encoded = response.headers.get("content-encoding", "identity") != "identity"
        length = response.headers.get("content-length")
        self.total = int(length) if length and length.isdigit() and not encoded else None
        self._open(append=False)

    def _open(self, *, append: bool) -> None:
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.part.open("ab" if append else "wb")

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "begin() opens the file"
        self._file.write(chunk)
        self.received += len(chunk)

    def finish(self) -> Path:
        """Check the length and move the file into place."""
        self.close()
        if self.total is not None and self.received != self.total:
            raise DownloadError(
                f"the download is incomplete: {self.received} of {self.total} bytes"
            )
        if self.received == 0:
            raise DownloadError("the download is empty")
        os.replace(self.part, self.path)
        return self.path

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self.close()
        self.part.unlink(missing_ok=True)

"""Ephemeral uploads: a client's file kept for a day, then named in a request by its URI.

Runway's upload flow has two steps, and vidgen serves both: ``start`` answers the first
(``POST /v1/uploads``) with a URL to post the file to and the form fields to post with it, and
``store`` takes that post. The second step carries no API key (the runwayml SDK sends it with a
bare HTTP client, as to a storage bucket), so the fields carry an HMAC over the key and the
upload id, made with the server's link secret, and only that proves who uploads.

A stored upload lives under its key's own prefix, so ``resolve`` finds only the calling key's
uploads: another key's URI reads as unknown. Its expiry is part of its id, so no table is needed;
an expired upload is refused when named, and ``sweep`` (run hourly beside the lease reaper, see
``worker.runner``) removes its bytes once ``SWEEP_GRACE_SECONDS`` more have passed: a job
captures an upload's bytes when it is submitted, so an expired one is never read again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from vidgen.core.storage import Storage
from vidgen.errors import InvalidRequest, NotFound, PayloadTooLarge

__all__ = [
    "SWEEP_GRACE_SECONDS",
    "UPLOAD_SCHEME",
    "UPLOAD_TTL_SECONDS",
    "StartedUpload",
    "Uploads",
]

log = logging.getLogger(__name__)

#: How long an upload may be named in a request: Runway's own ephemeral uploads last 24 hours.
UPLOAD_TTL_SECONDS: Final = 24 * 3600
#: The scheme of an upload's URI, as Runway spells it.
UPLOAD_SCHEME: Final = "runway://"
#: How long after its expiry an upload's bytes are kept: a request that found the upload fresh
#: a moment before it expired still reads them (and another server's clock may be a little off).
SWEEP_GRACE_SECONDS: Final = 3600
_PREFIX: Final = "uploads/"
_ID = re.compile(r"(\d{10})-([0-9a-f]{32})")
#: A key's id (the stores make 32 hex digits), and the hex HMAC of ``_sign``.
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StartedUpload:
    upload_id: str
    fields: dict[str, str]  # to post with the file
    uri: str  # what the client names in a request


class Uploads:
    def __init__(self, storage: Storage, secret: bytes, max_bytes: int) -> None:
        self.storage = storage
        self.secret = secret
        self.max_bytes = max_bytes

    def start(self, key_id: str, now: float | None = None) -> StartedUpload:
        expires = int((time.time() if now is None else now) + UPLOAD_TTL_SECONDS)
        upload_id = f"{expires:010d}-{secrets.token_hex(16)}"
        fields = {"key": key_id, "signature": self._sign(key_id, upload_id)}
        return StartedUpload(upload_id, fields, UPLOAD_SCHEME + upload_id)

    async def store(
        self, upload_id: str, key_id: str, signature: str, chunks: AsyncIterator[bytes]
    ) -> int:
        """Keep the posted file; refuses a bad signature (404, as for an unknown upload), an
        expired upload URL, and a file over the input-video cap (``VIDGEN_MAX_VIDEO_BYTES``)."""
        self.authorize(upload_id, key_id, signature)
        with tempfile.NamedTemporaryFile(delete=False) as out:
            size = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_bytes:
                    break
                out.write(chunk)
        if size > self.max_bytes or size == 0:
            await asyncio.to_thread(os.unlink, out.name)
            if size:
                raise PayloadTooLarge(f"an upload may be at most {self.max_bytes} bytes")
            raise InvalidRequest.single("file", "the uploaded file is empty")
        return await self.storage.put_file(
            _key(key_id, upload_id), Path(out.name), "application/octet-stream", consume=True
        )

    def authorize(self, upload_id: str, key_id: str, signature: str) -> None:
        """Refuses a file post whose fields are not those ``start`` handed out for this upload
        (404, as for an unknown upload) or whose upload URL has expired; cheap, so that it can
        run before the file's bytes are read."""
        # Fields of another shape than those ``start`` hands out are no upload of this server's
        # (checked first: a lone surrogate cannot even be encoded to be signed).
        well_formed = (
            _ID.fullmatch(upload_id)
            and _KEY_ID.fullmatch(key_id)
            and _SIGNATURE.fullmatch(signature)
        )
        if not well_formed or not hmac.compare_digest(signature, self._sign(key_id, upload_id)):
            raise NotFound("no such upload")
        self._check_fresh(upload_id, "file")

    async def resolve(self, key_id: str, uri: str, field: str) -> bytes:
        """The bytes of the calling key's upload named by ``uri`` (captured, verified and
        probed as any input then); a 400 naming ``field`` when it is not one."""
        upload_id = uri.removeprefix(UPLOAD_SCHEME)
        self._check_fresh(upload_id, field)
        key = _key(key_id, upload_id)
        stored = await self.storage.stat(key)
        if stored is None:
            raise InvalidRequest.single(field, f"{uri} is not an upload of this API key")
        return b"".join([chunk async for chunk in self.storage.read_range(key, 0, stored.size - 1)])

    async def sweep(self, now: float | None = None) -> tuple[int, int]:
        """Remove every upload that expired more than ``SWEEP_GRACE_SECONDS`` before ``now``;
        how many were removed, and their bytes. Several processes may sweep at once: removing
        an object that another sweep removed first is no error (a delete of a missing key
        succeeds on both backends)."""
        cutoff = (time.time() if now is None else now) - SWEEP_GRACE_SECONDS
        removed = removed_bytes = 0
        async for key, stored in self.storage.list_objects(_PREFIX):
            match = _ID.fullmatch(key.rpartition("/")[2])
            # Anything else under the prefix is none of this module's: left alone.
            if match is None or int(match.group(1)) >= cutoff:
                continue
            await self.storage.delete(key)
            removed += 1
            removed_bytes += stored.size
        if removed:
            log.info("expired uploads removed", extra={"count": removed, "bytes": removed_bytes})
        return removed, removed_bytes

    def _sign(self, key_id: str, upload_id: str) -> str:
        message = f"upload:{key_id}:{upload_id}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _check_fresh(upload_id: str, field: str) -> None:
        match = _ID.fullmatch(upload_id)
        if match is None:
            raise InvalidRequest.single(
                field, "is not a runway:// upload URI that this server made"
            )
        if int(match.group(1)) < time.time():
            raise InvalidRequest.single(field, "the upload has expired (uploads last 24 hours)")


def _key(key_id: str, upload_id: str) -> str:
    return f"{_PREFIX}{key_id}/{upload_id}"

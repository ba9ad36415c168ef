"""Where finished videos live: the blob-storage port, and the keys a generation's files take.

Implemented by ``vidgen.storage.local`` (the default), which keeps files under the data dir,
served through ``/files/…`` with a signed, expiring ``?_jwt=`` token, and ``vidgen.storage.s3``,
an S3-compatible bucket that hands out presigned URLs instead, or streams through the same
``/files/…`` route when ``VIDGEN_STORAGE_PROXY_DOWNLOADS`` says so. Keys are deterministic per generation
(``videos/<id>.mp4``), so a job that is retried after a crash overwrites its own object rather
than leaving a second one behind.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CHUNK_BYTES",
    "Storage",
    "StoredObject",
    "remove_outputs",
    "thumbnail_key",
    "video_key",
    "webp_thumbnail_key",
]

log = logging.getLogger(__name__)

#: Bytes read per chunk when a download is streamed through the API.
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    size: int
    media_type: str | None = None


def video_key(generation_id: str) -> str:
    return f"videos/{generation_id}.mp4"


def thumbnail_key(generation_id: str) -> str:
    return f"thumbnails/{generation_id}.jpg"


def webp_thumbnail_key(generation_id: str) -> str:
    """The thumbnail as WebP, made from the JPEG one when a client first asks for it."""
    return f"thumbnails/{generation_id}.webp"


class Storage(ABC):
    """A blob store for outputs."""

    @abstractmethod
    async def put_file(
        self, key: str, source: Path, media_type: str, *, consume: bool = False
    ) -> int:
        """Store ``source`` under ``key`` atomically (readers never see a partial object);
        returns its size in bytes. Overwrites an existing object with the same key.

        ``consume=True``: the caller gives ``source`` up, so a backend may move the file
        rather than copy it (local storage on the same filesystem renames it). Calling again
        for the same key after a consumed put succeeded (a retry) is safe."""

    async def put_files(
        self, files: Sequence[tuple[str, Path, str]], *, consume: bool = False
    ) -> list[int]:
        """``put_file`` for each ``(key, source, media_type)``, in order; their sizes. A
        backend may store them together (local storage: in one trip to a thread)."""
        return [await self.put_file(k, s, m, consume=consume) for k, s, m in files]

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def check(self) -> None:
        """Raise if the store cannot be written to (used by ``/ready``)."""

    @abstractmethod
    def list_objects(self, prefix: str) -> AsyncIterator[tuple[str, StoredObject]]:
        """Every object whose key starts with ``prefix``, with its size, in no set order (keys
        as passed to ``put_file``). Objects stored or removed meanwhile may or may not show."""

    async def presigned_url(
        self, key: str, *, ttl_seconds: int, filename: str, media_type: str | None = None
    ) -> tuple[str, int] | None:
        """A direct download URL from the store itself and its expiry (unix seconds), or None
        to serve through the API."""
        return None

    def local_path(self, key: str) -> Path | None:
        """The file behind ``key`` when the store is a local directory, else None."""
        return None

    async def stat(self, key: str) -> StoredObject | None:
        """The object's size (None when it does not exist)."""
        path = self.local_path(key)
        if path is None or not path.is_file():
            return None
        return StoredObject(size=path.stat().st_size)

    async def read_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (inclusive) of the object, in chunks."""
        path = self.local_path(key)
        if path is None:
            raise FileNotFoundError(key)
        with path.open("rb") as fh:
            fh.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = await asyncio.to_thread(fh.read, min(CHUNK_BYTES, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    async def aclose(self) -> None:
        return None


async def remove_outputs(storage: Storage, generation_id: str) -> None:
    """Remove whatever is stored under a generation's output keys. The keys are the
    generation's own, so this is right for any generation that did not complete (a worker
    may have stored its video before losing the job to a cancel, or before dying) and for
    one that is deleted. A failure is logged, not raised: the caller's answer stands."""
    for key in (
        video_key(generation_id),
        thumbnail_key(generation_id),
        webp_thumbnail_key(generation_id),
    ):
        try:
            await storage.delete(key)
        except Exception:
            log.warning("could not remove %s", key, exc_info=True)

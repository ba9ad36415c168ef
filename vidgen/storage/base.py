"""Where finished videos live, behind one small interface.

``local`` (the default) keeps files under the data dir and serves them through ``/files/…`` with
a signed, expiring ``?_jwt=`` token. An S3-compatible backend hands out presigned URLs instead.
Keys are deterministic per generation (``videos/<id>.mp4``), so a job that is retried after a
crash overwrites its own object rather than leaving a second one behind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path


def video_key(generation_id: str) -> str:
    return f"videos/{generation_id}.mp4"


def thumbnail_key(generation_id: str) -> str:
    return f"thumbnails/{generation_id}.jpg"


class Storage(ABC):
    """A blob store for outputs."""

    #: True when downloads are served by vidgen's own ``/files`` route (signed with ``_jwt``).
    serves_through_api: bool = True

    @abstractmethod
    async def put_file(self, key: str, source: Path, media_type: str) -> int:
        """Store ``source`` under ``key`` atomically (readers never see a partial object);
        returns its size in bytes. Overwrites an existing object with the same key."""

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def check(self) -> None:
        """Raise if the store cannot be written to (used by ``/ready``)."""

    async def presigned_url(self, key: str, *, ttl_seconds: int, filename: str) -> str | None:
        """A direct download URL from the store itself, or None to serve through the API."""
        return None

    def local_path(self, key: str) -> Path | None:
        """The file behind ``key`` when the store is a local directory, else None."""
        return None

    async def aclose(self) -> None:
        return None


def open_storage(url: str) -> Storage:
    """Build the store that ``VIDGEN_STORAGE_URL`` names."""
    if url.startswith("file://"):
        from vidgen.storage.local import LocalStorage

        return LocalStorage.from_url(url)
    raise ValueError(f"unsupported VIDGEN_STORAGE_URL scheme: {url!r} (expected file://)")

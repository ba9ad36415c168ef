"""Downloads: the links answers carry, and the objects those links and ``/content`` open.

A link is either presigned by the storage itself (an S3 bucket) or a ``/files/<key>?_jwt=`` link
under the answer's base URL, signed so that it cannot be forged or reused for another object and
expires with ``VIDGEN_LINK_TTL_SECONDS``.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from vidgen.core.models import Generation
from vidgen.core.ports import LinkSigner
from vidgen.core.storage import Storage, webp_thumbnail_key
from vidgen.media.video import jpeg_to_webp

__all__ = ["Download", "Links", "Variant"]

#: What a generation's files are: the video, a JPEG of its middle frame, the same as WebP.
Variant = Literal["video", "thumbnail", "webp"]
_MEDIA_TYPES = {"thumbnail": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class Download:
    """One stored object to send: where it is, and how to present it."""

    storage: Storage
    key: str
    media_type: str
    filename: str


class Links:
    def __init__(self, storage: Storage, signer: LinkSigner, ttl_seconds: int) -> None:
        self.storage = storage
        self.signer = signer
        self.ttl_seconds = ttl_seconds

    async def file_url(
        self, generation: Generation, base_url: str, thumbnail: bool = False
    ) -> tuple[str, int] | None:
        """A download URL for the generation's video (or JPEG thumbnail) and its expiry (unix
        seconds): presigned by the storage itself, or a signed ``/files`` link under
        ``base_url``. None while there is no such file."""
        if generation.video is None:
            return None
        key = generation.video.thumbnail_key if thumbnail else generation.video.key
        if key is None:
            return None
        filename = f"{generation.id}.{key.rsplit('.', 1)[-1]}"
        media_type = "image/jpeg" if thumbnail else generation.video.media_type
        presigned = await self.storage.presigned_url(
            key, ttl_seconds=self.ttl_seconds, filename=filename, media_type=media_type
        )
        if presigned is not None:
            return presigned
        token, expires = self.signer.sign(generation_id=generation.id, key=key)
        return f"{base_url.rstrip('/')}/files/{quote(key)}?_jwt={token}", expires

    async def content(self, generation: Generation, variant: Variant) -> Download | None:
        """The generation's file in ``variant``, streamed through the API (OpenAI's
        ``/content``), or None while there is none."""
        video = generation.video
        if video is None:
            return None
        if variant == "video":
            key: str | None = video.key
        elif variant == "thumbnail":
            key = video.thumbnail_key
        else:
            key = await self._webp_thumbnail(generation)
        if key is None:
            return None
        extension = {"video": "mp4", "thumbnail": "jpg", "webp": "webp"}[variant]
        return Download(
            storage=self.storage,
            key=key,
            media_type=_MEDIA_TYPES.get(variant, video.media_type),
            filename=f"{generation.id}.{extension}",
        )

    def signed_file(self, key: str, token: str | None) -> Download:
        """The object a ``/files`` link names, once its token is checked (``LinkRefused``)."""
        self.signer.verify(token, key=key)
        return Download(
            storage=self.storage,
            key=key,
            media_type="video/mp4" if key.endswith(".mp4") else "",
            filename=key.rsplit("/", 1)[-1],
        )

    async def _webp_thumbnail(self, generation: Generation) -> str | None:
        """The storage key of the generation's thumbnail as WebP, or None while it has none.

        Made from the JPEG thumbnail on the first request and stored beside it, so later
        requests only stream it: re-encoding costs a few milliseconds of CPU per request, and
        storing a WebP for every job would cost a write for every job although only clients of
        the OpenAI dialect ever ask for one. Two first requests at once both write the same
        bytes (a put is atomic)."""
        source = generation.video.thumbnail_key if generation.video else None
        if source is None:
            return None
        key = webp_thumbnail_key(generation.id)
        if await self.storage.exists(key):
            return key
        info = await self.storage.stat(source)
        if info is None:
            return None
        jpeg = b"".join(
            [chunk async for chunk in self.storage.read_range(source, 0, info.size - 1)]
        )
        webp = await asyncio.to_thread(jpeg_to_webp, jpeg)
        with tempfile.TemporaryDirectory(prefix="vidgen-webp-") as scratch:
            path = Path(scratch) / "thumbnail.webp"
            path.write_bytes(webp)
            await self.storage.put_file(key, path, "image/webp", consume=True)
        return key

"""Capture an input image at submit time: fetch it safely (or decode its data URI), then verify
it. The job keeps the bytes, so a URL that changes or disappears later cannot change the job."""

from __future__ import annotations

import asyncio

from vidgen.core.models import CapturedImage, ImageRef
from vidgen.errors import ImageSourceError
from vidgen.media.data_uri import parse_data_uri
from vidgen.media.fetch import FetchError, SafeFetcher
from vidgen.media.images import ImageRejected, inspect_image
from vidgen.settings import Settings

__all__ = ["ImageCapture", "fetch_image_source"]


class ImageCapture:
    def __init__(self, fetcher: SafeFetcher, settings: Settings) -> None:
        self.fetcher = fetcher
        self.max_url_bytes = settings.max_url_image_bytes
        self.max_data_uri_bytes = settings.max_data_uri_bytes
        self.max_pixels = settings.max_image_pixels

    async def __call__(self, ref: ImageRef) -> CapturedImage:
        try:
            if ref.data is not None:
                if len(ref.data) > self.max_url_bytes:
                    raise ImageSourceError(
                        f"the uploaded image is larger than {self.max_url_bytes // 2**20} MB"
                    )
                data = ref.data
            elif ref.url is not None:
                data = await fetch_image_source(
                    self.fetcher,
                    ref.url,
                    max_url_bytes=self.max_url_bytes,
                    max_data_uri_bytes=self.max_data_uri_bytes,
                )
            else:
                raise ImageSourceError("no image given")
            # Decoding a large image is CPU work; keep it off the event loop.
            return await asyncio.to_thread(inspect_image, data, max_pixels=self.max_pixels)
        except (FetchError, ImageRejected) as exc:
            raise ImageSourceError(str(exc)) from exc


async def fetch_image_source(
    fetcher: SafeFetcher, ref: str, *, max_url_bytes: int, max_data_uri_bytes: int
) -> bytes:
    """The raw bytes of an input image given as an https URL or a ``data:image/...`` URI.

    The bytes are not decoded here; the caller verifies them with Pillow under its pixel cap.
    """
    if ref[:5].lower() == "data:":
        return parse_data_uri(ref, max_bytes=max_data_uri_bytes)[1]
    accept = "image/png,image/jpeg,image/webp;q=0.9,*/*;q=0.1"
    body = await fetcher.get_bytes(ref, max_bytes=max_url_bytes, subject="image", accept=accept)
    return body.content

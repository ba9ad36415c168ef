"""Capture an input image or video at submit time: fetch it safely (or decode its data URI), then
verify it. The job keeps the bytes, so a URL that changes or disappears later cannot change the
job. Videos go through the same fetcher (the same SSRF rules) as images, under their own caps."""

from __future__ import annotations

import asyncio

from vidgen.core.models import CapturedImage, CapturedMedia, CapturedVideo, ImageRef, MediaRef
from vidgen.errors import ImageSourceError
from vidgen.media.data_uri import IMAGE_MEDIA_TYPES, VIDEO_MEDIA_TYPES, parse_data_uri
from vidgen.media.fetch import FetchError, SafeFetcher
from vidgen.media.images import ImageRejected, inspect_image
from vidgen.media.input_video import VideoRejected, inspect_video, looks_like_image
from vidgen.settings import Settings

__all__ = ["ImageCapture", "VideoCapture", "fetch_image_source"]

_VIDEO_ACCEPT = "video/mp4,video/quicktime,video/webm;q=0.9,*/*;q=0.1"


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


class VideoCapture:
    """Captures an input video (``__call__``), or an input that may be an image or a video
    (``media``: a character of a character performance), told apart by its bytes."""

    def __init__(self, fetcher: SafeFetcher, settings: Settings) -> None:
        self.fetcher = fetcher
        self.images = ImageCapture(fetcher, settings)
        self.max_bytes = settings.max_video_bytes
        self.max_seconds = settings.max_video_seconds
        self.max_width = settings.max_video_width
        self.max_height = settings.max_video_height

    async def __call__(self, ref: MediaRef) -> CapturedVideo:
        return await self._verify(await self._fetch(ref, VIDEO_MEDIA_TYPES, "video"))

    async def media(self, ref: MediaRef) -> CapturedMedia:
        data = await self._fetch(ref, (*IMAGE_MEDIA_TYPES, *VIDEO_MEDIA_TYPES), "image or video")
        if looks_like_image(data):
            return await self.images(ImageRef(data=data, filename=ref.filename))
        return await self._verify(data)

    async def _fetch(self, ref: MediaRef, media_types: tuple[str, ...], subject: str) -> bytes:
        try:
            if ref.data is not None:
                data = ref.data
            elif ref.url is None:
                raise ImageSourceError(f"no {subject} given")
            elif ref.url[:5].lower() == "data:":
                data = parse_data_uri(
                    ref.url, max_bytes=self.max_bytes, subject=subject, media_types=media_types
                )[1]
            else:
                body = await self.fetcher.get_bytes(
                    ref.url, max_bytes=self.max_bytes, subject=subject, accept=_VIDEO_ACCEPT
                )
                data = body.content
        except FetchError as exc:
            raise ImageSourceError(str(exc)) from exc
        if len(data) > self.max_bytes:
            raise ImageSourceError(f"the {subject} is larger than {self.max_bytes // 2**20} MB")
        return data

    async def _verify(self, data: bytes) -> CapturedVideo:
        try:
            # Probing decodes a frame: CPU work, kept off the event loop.
            return await asyncio.to_thread(
                inspect_video,
                data,
                max_seconds=self.max_seconds,
                max_width=self.max_width,
                max_height=self.max_height,
            )
        except VideoRejected as exc:
            raise ImageSourceError(f"the video {exc}") from exc

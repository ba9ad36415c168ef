"""``data:`` URIs for input images: parsed (size-capped before decoding, media type checked),
and built for providers that take images inline, within their size limit."""

from __future__ import annotations

import base64
import binascii
import io
from urllib.parse import unquote_to_bytes

from PIL import Image

from vidgen.core.models import CapturedImage
from vidgen.media.fetch import FetchError, format_size
from vidgen.media.images import load_rgb

__all__ = [
    "IMAGE_MEDIA_TYPES",
    "VIDEO_MEDIA_TYPES",
    "InvalidDataUri",
    "parse_data_uri",
    "to_data_uri",
]

IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp")
#: The containers an input video may come in (PyAV probes what is inside).
VIDEO_MEDIA_TYPES = ("video/mp4", "video/quicktime", "video/webm")


class InvalidDataUri(FetchError):
    """A ``data:`` URI that is malformed, holds no image, or decodes to too many bytes."""


def parse_data_uri(
    uri: str,
    *,
    max_bytes: int,
    subject: str = "image",
    media_types: tuple[str, ...] = IMAGE_MEDIA_TYPES,
) -> tuple[str, bytes]:
    """``(media_type, data)`` from ``data:image/png;base64,...`` (one of ``media_types``: png,
    jpeg or webp unless told; base64 or percent-encoded). Raises ``InvalidDataUri`` naming what
    is wrong.

    >>> parse_data_uri("data:image/png;base64,iVBORw==", max_bytes=100)
    ('image/png', b'\\x89PNG')
    """
    label = f"{subject} data URI"
    if uri[:5].lower() != "data:":
        raise InvalidDataUri("malformed", f"{label} must start with 'data:'")
    header, comma, payload = uri[5:].partition(",")
    if not comma:
        raise InvalidDataUri("malformed", f"{label} is malformed: no ',' before the data")
    media_type, *params = (part.strip().lower() for part in header.split(";"))
    media_type = "image/jpeg" if media_type == "image/jpg" else media_type
    if media_type not in media_types:
        shown = media_type or "none"
        raise InvalidDataUri(
            "media_type",
            f"{label} has media type {shown[:60]}; only {', '.join(media_types)} are accepted",
        )
    too_large = InvalidDataUri("too_large", f"{label} is larger than {format_size(max_bytes)}")
    if "base64" in params:
        # Whitespace and line breaks are common in pasted data URIs and carry no data.
        text = "".join(unquote_to_bytes(payload).decode("ascii", "replace").split())
        if len(text) // 4 * 3 > max_bytes + 2:  # refuse before decoding anything huge
            raise too_large
        try:
            data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidDataUri("base64", f"{label} is not valid base64") from None
    else:
        if len(payload) // 3 > max_bytes:  # each byte takes 1 to 3 characters ("%xx")
            raise too_large
        data = unquote_to_bytes(payload)
    if not data:
        raise InvalidDataUri("empty", f"{label} holds no data")
    if len(data) > max_bytes:
        raise too_large
    return media_type, data


#: Re-encoding steps for an image too large to send inline: (scale, JPEG quality), gentlest
#: first. A 16 MB photo usually fits at the first or second step; the last ones are for
#: pathological inputs (huge noise images) and still leave more pixels than a 720p frame needs.
_SHRINK_STEPS = ((1.0, 90), (1.0, 80), (0.75, 85), (0.5, 85), (0.35, 85), (0.25, 80))
_EXIF_ORIENTATION = 0x0112


def to_data_uri(image: CapturedImage, *, max_chars: int) -> str:
    """``image`` as a ``data:`` URI of at most ``max_chars`` characters.

    The original bytes are sent when they fit and the image is stored upright. Otherwise (too
    large, or turned by an EXIF orientation tag that a provider might not honour) it is
    re-encoded as an upright sRGB JPEG, scaled down only as far as needed. CPU work: call it
    in a thread. Raises ValueError if even the smallest step does not fit.
    """
    uri = f"data:{image.media_type};base64,{base64.b64encode(image.data).decode('ascii')}"
    if len(uri) <= max_chars and not _is_turned(image):
        return uri
    picture = load_rgb(image)
    for scale, quality in _SHRINK_STEPS:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        resized = picture if scale == 1.0 else picture.resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.save(buffer, format="JPEG", quality=quality, optimize=True)
        uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        if len(uri) <= max_chars:
            return uri
    raise ValueError(f"the image cannot be made smaller than {format_size(max_chars)} inline")


def _is_turned(image: CapturedImage) -> bool:
    """Whether the stored pixels need an EXIF rotation or mirror to be seen upright."""
    with Image.open(io.BytesIO(image.data)) as opened:
        return bool(opened.getexif().get(_EXIF_ORIENTATION, 1) != 1)

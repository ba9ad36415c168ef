"""``data:`` URIs for input images: parsed, size-capped before decoding, media type checked."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_to_bytes

from vidgen.media.fetch import FetchError, format_size

IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp")


class InvalidDataUri(FetchError):
    """A ``data:`` URI that is malformed, holds no image, or decodes to too many bytes."""


def parse_data_uri(uri: str, *, max_bytes: int, subject: str = "image") -> tuple[str, bytes]:
    """``(media_type, data)`` from ``data:image/png;base64,...`` (png, jpeg or webp; base64 or
    percent-encoded). Raises ``InvalidDataUri`` naming what is wrong.

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
    if media_type not in IMAGE_MEDIA_TYPES:
        shown = media_type or "none"
        raise InvalidDataUri(
            "media_type",
            f"{label} has media type {shown[:60]}; only {', '.join(IMAGE_MEDIA_TYPES)} are accepted",
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

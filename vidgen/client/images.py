"""Turn what a caller has in hand (a path, bytes, a PIL image, a URL) into an ``image_url``.

The API takes an https URL or a ``data:`` URI. URLs and data URIs pass through untouched; the rest
is read here and sent inline, so a local file needs no upload step and no public host.
"""

from __future__ import annotations

import base64
import io
import mimetypes
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from vidgen.client.errors import FieldProblem, ValidationError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    ImageInput: TypeAlias = "str | os.PathLike[str] | bytes | PILImage"
else:
    ImageInput: TypeAlias = "str | os.PathLike[str] | bytes | Any"

__all__ = ["ImageInput", "image_to_url", "sniff_media_type"]

_PASS_THROUGH = ("https://", "http://", "data:")
# The formats the API accepts, told apart by their first bytes, as the server does.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_media_type(data: bytes) -> str | None:
    """``image/png``, ``image/jpeg``, ``image/webp`` or ``image/gif`` from the bytes, else None.

    >>> sniff_media_type(b"\\x89PNG\\r\\n\\x1a\\n....")
    'image/png'
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    return None


def _data_uri(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _from_pil(image: Any) -> str:
    # PNG keeps every pixel; a photo that would be large as PNG goes as JPEG instead, since
    # servers cap data URIs (vidgen: 5 MB decoded).
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    if buffer.tell() <= 4 * 1024 * 1024:
        return _data_uri(buffer.getvalue(), "image/png")
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=92)
    return _data_uri(buffer.getvalue(), "image/jpeg")


def _is_pil_image(value: object) -> bool:
    # Checked by module name, so PIL is never imported by the SDK itself.
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save")


def image_to_url(image: ImageInput, *, field: str = "image_url") -> str:
    """The ``image_url`` to send for ``image``.

    - a string starting with ``https://``, ``http://`` or ``data:`` is used as it is;
    - any other string, or a path, names a local file, which is read and sent as a data URI;
    - ``bytes`` are sent as a data URI (PNG, JPEG, WebP or GIF, told by their first bytes);
    - a PIL image is encoded as PNG (JPEG when that would be over 4 MB).

    A file that cannot be read, or bytes that are no known image, raise ``ValidationError``
    naming ``field``, before anything is sent.

    >>> image_to_url("https://example.com/cat.png")
    'https://example.com/cat.png'
    >>> image_to_url(b"\\xff\\xd8\\xff\\xe0 JFIF")[:30]
    'data:image/jpeg;base64,/9j/4CB'
    """
    if isinstance(image, str) and image.lower().startswith(_PASS_THROUGH):
        return image
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
        media_type = sniff_media_type(data)
        if media_type is None:
            raise _invalid(field, "the bytes are not a PNG, JPEG, WebP or GIF image")
        return _data_uri(data, media_type)
    if isinstance(image, str | os.PathLike):
        path = Path(image).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _invalid(field, f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
        media_type = sniff_media_type(data) or mimetypes.guess_type(path.name)[0]
        if media_type is None or not media_type.startswith("image/"):
            raise _invalid(field, f"{str(path)!r} is not a PNG, JPEG, WebP or GIF image")
        return _data_uri(data, media_type)
    if _is_pil_image(image):
        return _from_pil(image)
    raise TypeError(
        f"{field}: expected a URL, a path, bytes or a PIL image, not {type(image).__name__}"
    )


def _invalid(field: str, reason: str) -> ValidationError:
    return ValidationError(f"{field}: {reason}", [FieldProblem(field, reason)])

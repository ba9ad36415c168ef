"""Turn what a caller has in hand (a path, bytes, a PIL image, a URL) into an ``image_url``, and
an input video (a path, bytes, a URL) into a ``video_url``.

The API takes an https URL or a ``data:`` URI. URLs and data URIs pass through untouched; the rest
is read here and sent inline, so a local file needs no upload step and no public host.
"""

from __future__ import annotations

import base64
import io
import mimetypes
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from vidgen.client.errors import FieldProblem, ValidationError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    ImageInput: TypeAlias = "str | os.PathLike[str] | bytes | PILImage"
else:
    ImageInput: TypeAlias = "str | os.PathLike[str] | bytes | Any"

VideoInput: TypeAlias = "str | os.PathLike[str] | bytes"

__all__ = [
    "ImageInput",
    "VideoInput",
    "character_to_input",
    "image_to_url",
    "sniff_media_type",
    "sniff_video_type",
    "video_to_url",
]

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


def sniff_video_type(data: bytes) -> str | None:
    """``video/mp4``, ``video/quicktime`` or ``video/webm`` from the bytes, else None: the
    containers vidgen takes an input video in, told apart as the server tells them.

    >>> sniff_video_type(b"\\x00\\x00\\x00\\x18ftypisom....")
    'video/mp4'
    """
    if data[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM (and Matroska, which the server reads alike)
        return "video/webm"
    if data[4:8] == b"ftyp":
        # One box format for both; the brand says which the file says it is.
        return "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
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
        return _file_uri(image, field, sniff_media_type, "image/", "a PNG, JPEG, WebP or GIF image")
    if _is_pil_image(image):
        return _from_pil(image)
    raise TypeError(
        f"{field}: expected a URL, a path, bytes or a PIL image, not {type(image).__name__}"
    )


def video_to_url(video: VideoInput, *, field: str = "video_url") -> str:
    """The ``video_url`` to send for ``video``, by the rules of ``image_to_url``:

    - a string starting with ``https://``, ``http://`` or ``data:`` is used as it is;
    - any other string, or a path, names a local file, which is read and sent as a data URI;
    - ``bytes`` are sent as a data URI (MP4, QuickTime or WebM, told by their first bytes).

    A data URI counts against the server's request-size cap (vidgen: ``VIDGEN_MAX_BODY_BYTES``,
    16 MiB by default, so about 12 MB of video once base64-encoded); a larger video goes by URL.
    A file that cannot be read, or bytes that are no known video, raise ``ValidationError``
    naming ``field``, before anything is sent.

    >>> video_to_url("https://example.com/clip.mp4")
    'https://example.com/clip.mp4'
    """
    if isinstance(video, str) and video.lower().startswith(_PASS_THROUGH):
        return video
    if isinstance(video, bytes | bytearray | memoryview):
        data = bytes(video)
        media_type = sniff_video_type(data)
        if media_type is None:
            raise _invalid(field, f"the bytes are not {_VIDEOS}")
        return _data_uri(data, media_type)
    if isinstance(video, str | os.PathLike):
        return _file_uri(video, field, sniff_video_type, "video/", _VIDEOS)
    raise TypeError(f"{field}: expected a URL, a path or bytes, not {type(video).__name__}")


_VIDEOS = "an MP4, QuickTime or WebM video"


def character_to_input(
    character: ImageInput | VideoInput, *, field: str = "character.url"
) -> dict[str, str]:
    """aimlapi's ``character`` for a character performance, ``{"type": "image"|"video", "url"}``:
    an image (any form ``image_to_url`` takes) or a video (any form ``video_to_url`` takes). The
    type is told by the bytes for a file or ``bytes``, by the media type for a data URI and by
    the name's extension for a URL (a URL that names no video is taken for an image).

    >>> character_to_input("https://example.com/actor.mp4")
    {'type': 'video', 'url': 'https://example.com/actor.mp4'}
    >>> character_to_input("https://example.com/portrait")
    {'type': 'image', 'url': 'https://example.com/portrait'}
    """
    if isinstance(character, str) and character.lower().startswith(_PASS_THROUGH):
        if character.lower().startswith("data:"):
            is_video = character[5:].lower().startswith("video/")
        else:
            guessed = mimetypes.guess_type(character.split("?", 1)[0].split("#", 1)[0])[0]
            is_video = bool(guessed and guessed.startswith("video/"))
        return {"type": "video" if is_video else "image", "url": character}
    data: bytes | None = None
    if isinstance(character, bytes | bytearray | memoryview):
        data = bytes(character)
    elif isinstance(character, str | os.PathLike):
        try:
            data = Path(character).expanduser().read_bytes()
        except OSError as exc:
            reason = f"cannot read {str(character)!r}: {exc.strerror or exc}"
            raise _invalid(field, reason) from exc
    if data is not None and sniff_video_type(data) is not None:
        return {"type": "video", "url": video_to_url(data, field=field)}
    if data is not None and sniff_media_type(data) is None:
        raise _invalid(field, f"not an image (PNG, JPEG, WebP or GIF) or {_VIDEOS}")
    return {
        "type": "image",
        "url": image_to_url(data if data is not None else character, field=field),
    }


def _file_uri(
    name: str | os.PathLike[str],
    field: str,
    sniff: Callable[[bytes], str | None],
    family: str,
    what: str,
) -> str:
    """A local file as a data URI: its media type told by its bytes, else by its name."""
    path = Path(name).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _invalid(field, f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    media_type = sniff(data) or mimetypes.guess_type(path.name)[0]
    if media_type is None or not media_type.startswith(family):
        raise _invalid(field, f"{str(path)!r} is not {what}")
    return _data_uri(data, media_type)


def _invalid(field: str, reason: str) -> ValidationError:
    return ValidationError(f"{field}: {reason}", [FieldProblem(field, reason)])

"""Check, decode and frame the input images.

``inspect_image`` runs at submit time on bytes a client sent, so it assumes hostile input: it
trusts only the bytes (never a Content-Type or a file name), checks the pixel count before any
pixel is decoded, and decodes the whole image once so that a truncated or corrupt file is a 400
on the create call instead of a failed job. Engines later call ``load_rgb`` and
``fit_image_to_frame`` on the ``CapturedImage`` it returned::

    captured = inspect_image(png_bytes, max_pixels=40_000_000)  # raises ImageRejected
    frame = fit_image_to_frame(load_rgb(captured), 1280, 720)
"""

from __future__ import annotations

import hashlib
import io
from typing import Final

from PIL import Image, ImageCms, ImageOps

from vidgen.core.models import CapturedImage

__all__ = [
    "ACCEPTED_MEDIA_TYPES",
    "ImageRejected",
    "fit_image_to_frame",
    "inspect_image",
    "load_rgb",
    "sniff_image_format",
]

#: Pillow's format name → the media type we record. Nothing else is ever decoded.
ACCEPTED_MEDIA_TYPES: Final = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

_EXIF_ORIENTATION: Final = 0x0112
# EXIF orientations 5–8 are rotated by 90° (with or without a mirror): width and height swap.
_TRANSPOSED_ORIENTATIONS: Final = frozenset({5, 6, 7, 8})

# Transparent pixels are composited over black: that is what video tools do with an alpha
# channel that has nothing beneath it (premultiplied alpha: transparent means no light), so the
# preview looks like the same PNG dropped into an editor's timeline.
_MATTE: Final = (0, 0, 0)

_SRGB: Final = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class ImageRejected(ValueError):
    """An input image we will not use. ``reason`` is written for the client, e.g.
    ``"image data is truncated or corrupt"``; the API puts it next to the field name."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sniff_image_format(data: bytes) -> str | None:
    """The Pillow format name that the leading bytes announce, if it is one we accept."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def inspect_image(data: bytes, *, max_pixels: int) -> CapturedImage:
    """Verify that ``data`` is a whole PNG, JPEG or WebP image of at most ``max_pixels`` pixels,
    and describe it.

    The format is judged by the content alone, and only that format's decoder is let near the
    bytes. The pixel count is checked from the header, before any pixel is decoded, so a
    decompression bomb costs nothing. Then the file is verified (PNG chunk checksums) and fully
    decoded, which catches truncated and corrupt data. ``width`` and ``height`` are as the image
    is meant to be seen, i.e. after its EXIF orientation: a portrait phone photo stored
    sideways reports a portrait size. Of an animated PNG or WebP only the first frame is
    decoded and used; its canvas size is what is checked and reported.

    Raises ``ImageRejected`` with a reason a client can act on.
    """
    image_format = sniff_image_format(data)
    if image_format is None:
        raise ImageRejected("not a PNG, JPEG or WebP image")
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard fires at open for sizes far past any sane limit (the warning is an
        # exception only where warnings are errors); either way the reason is the size.
        raise ImageRejected(f"image has more pixels than the limit of {max_pixels}") from exc
    except Exception as exc:  # any decoder failure on client bytes is the client's problem
        raise ImageRejected("image data is truncated or corrupt") from exc
    if width <= 0 or height <= 0:
        raise ImageRejected("image has no pixels")
    if width * height > max_pixels:
        raise ImageRejected(f"image is {width}×{height} pixels; the limit is {max_pixels}")

    try:
        # verify() checks what decoding alone skips (PNG CRCs) but leaves the object unusable,
        # so the image is opened a second time to decode it.
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            image.verify()
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            image.load()
            orientation = image.getexif().get(_EXIF_ORIENTATION)
    except Exception as exc:  # see above: Pillow's decoders raise many exception types
        raise ImageRejected("image data is truncated or corrupt") from exc

    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    return CapturedImage(
        data=data,
        media_type=ACCEPTED_MEDIA_TYPES[image_format],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def load_rgb(image: CapturedImage, *, at_least: tuple[int, int] | None = None) -> Image.Image:
    """Decode a captured image (its first frame) as upright, 8-bit sRGB ``RGB``.

    EXIF orientation is applied; an embedded ICC profile (e.g. Display P3 from a phone) is
    converted to sRGB, which is what the BT.709-tagged video assumes; 16-bit images are scaled
    down; transparency is composited over black (see ``_MATTE`` for why).

    ``at_least=(width, height)`` lets a JPEG decode at a reduced DCT scale (½, ¼, ⅛) as long as
    the result still covers that size, which makes a 12-megapixel photo several times cheaper
    to decode for a 720p frame at no visible cost.
    """
    with Image.open(io.BytesIO(image.data), formats=list(ACCEPTED_MEDIA_TYPES)) as opened:
        if at_least is not None and opened.format == "JPEG":
            wanted = at_least
            if opened.getexif().get(_EXIF_ORIENTATION) in _TRANSPOSED_ORIENTATIONS:
                wanted = (at_least[1], at_least[0])
            opened.draft("RGB", wanted)
        opened.load()
        upright = ImageOps.exif_transpose(opened)
    return _to_srgb(upright)


def _to_srgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: convert("L") would clip at 255 instead of scaling.
        image = image.point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or ("transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else ("CMYK" if image.mode == "CMYK" else "RGB"))
    image = _convert_profile(image)
    if image.mode == "RGBA":
        matte = Image.new("RGBA", image.size, (*_MATTE, 255))
        image = Image.alpha_composite(matte, image)
    return image.convert("RGB")


def _convert_profile(image: Image.Image) -> Image.Image:
    """Convert from the embedded ICC profile to sRGB. A profile that LittleCMS cannot use is
    ignored rather than failing the job: the colours are then only slightly off."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image if image.mode != "CMYK" else image.convert("RGB")
    return converted if converted is not None else image


def fit_image_to_frame(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale ``image`` to fill ``width``×``height`` and crop the overflow equally from both
    sides: no letterbox bars, nothing stretched.

    >>> fit_image_to_frame(Image.new("RGB", (4000, 3000)), 1280, 720).size
    (1280, 720)
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}×{height}")
    return ImageOps.fit(
        image, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5)
    )

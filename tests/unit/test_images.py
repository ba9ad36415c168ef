"""Input images: what is accepted, what is refused and why, and how they are framed."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from vidgen.media.images import ImageRejected, fit_image_to_frame, inspect_image, load_rgb

LIMIT = 40_000_000


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo(width: int = 240, height: int = 160) -> Image.Image:
    """Smooth gradients plus some noise: compresses like a photo, not like a flat fill."""
    ys, xs = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(3)
    pixels = np.stack([xs * 255 / width, ys * 255 / height, (xs + ys) * 127 / (width + height)], -1)
    pixels += rng.normal(0, 8, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width``×``height`` but whose pixel data is a few bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")],
)
def test_png_jpeg_and_webp_are_accepted_and_described(fmt: str, media_type: str) -> None:
    data = encode(photo(240, 160), fmt)

    captured = inspect_image(data, max_pixels=LIMIT)

    assert captured.media_type == media_type
    assert (captured.width, captured.height) == (240, 160)
    assert captured.sha256 == hashlib.sha256(data).hexdigest()
    assert captured.data == data


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO"])
def test_other_image_formats_are_refused_by_their_content(fmt: str) -> None:
    with pytest.raises(ImageRejected) as info:
        inspect_image(encode(photo(32, 32), fmt), max_pixels=LIMIT)

    assert info.value.reason == "not a PNG, JPEG or WebP image"


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, world", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"RIFF\0\0\0\0WAVE"],
)
def test_bytes_that_are_no_image_at_all_are_refused(data: bytes) -> None:
    with pytest.raises(ImageRejected, match="not a PNG, JPEG or WebP image"):
        inspect_image(data, max_pixels=LIMIT)


def test_the_rejection_is_a_value_error_with_a_readable_message() -> None:
    with pytest.raises(ValueError, match="not a PNG, JPEG or WebP image"):
        inspect_image(b"GIF89a", max_pixels=LIMIT)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_truncated_image_is_refused(fmt: str) -> None:
    data = encode(photo(240, 160), fmt)

    with pytest.raises(ImageRejected) as info:
        inspect_image(data[: len(data) * 2 // 3], max_pixels=LIMIT)

    assert info.value.reason == "image data is truncated or corrupt"


def test_a_png_with_a_damaged_chunk_is_refused() -> None:
    data = bytearray(encode(photo(64, 64), "PNG"))
    data[data.find(b"IDAT") + 40] ^= 0xFF  # the CRC no longer matches

    with pytest.raises(ImageRejected, match="truncated or corrupt"):
        inspect_image(bytes(data), max_pixels=LIMIT)


def test_a_jpeg_signature_followed_by_garbage_is_refused() -> None:
    with pytest.raises(ImageRejected, match="truncated or corrupt"):
        inspect_image(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, max_pixels=LIMIT)


def test_an_oversized_image_is_refused_with_its_size_and_the_limit() -> None:
    with pytest.raises(ImageRejected) as info:
        inspect_image(encode(photo(300, 200), "PNG"), max_pixels=50_000)

    assert info.value.reason == "image is 300×200 pixels; the limit is 50000"


def test_the_pixel_limit_is_checked_before_any_pixel_is_decoded() -> None:
    # The header claims 9000×9000, the data holds almost nothing: decoding would report
    # corruption, so the size reason proves the check came first.
    with pytest.raises(ImageRejected) as info:
        inspect_image(png_header_only(9000, 9000), max_pixels=LIMIT)

    assert info.value.reason == "image is 9000×9000 pixels; the limit is 40000000"


def test_a_decompression_bomb_is_refused_without_decoding_it() -> None:
    bomb = png_header_only(30_000, 30_000)  # 900 megapixels, past Pillow's own bomb guard

    with pytest.raises(ImageRejected, match="pixels"):
        inspect_image(bomb, max_pixels=LIMIT)


def upright_marker_image() -> Image.Image:
    """Portrait 60×100, red in the top fifth, blue elsewhere: easy to see which way is up."""
    image = Image.new("RGB", (60, 100), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 60, 20))
    return image


@pytest.mark.parametrize(("orientation", "rotate"), [(6, 90), (8, -90), (3, 180)])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_an_exif_rotated_photo_is_measured_and_decoded_upright(
    fmt: str, orientation: int, rotate: int
) -> None:
    # A camera stores the sensor's pixels and an EXIF tag that says how to turn them upright.
    stored = upright_marker_image().rotate(rotate, expand=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))

    captured = inspect_image(data, max_pixels=LIMIT)
    upright = np.asarray(load_rgb(captured)).astype(int)

    assert (captured.width, captured.height) == (60, 100)
    assert upright.shape == (100, 60, 3)
    assert upright[5, 30, 0] > 200 and upright[5, 30, 2] < 60, "red band on top"
    assert upright[90, 30, 2] > 200 and upright[90, 30, 0] < 60, "blue below"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_an_animated_image_uses_its_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (48, 32), colour) for colour in [(250, 0, 0), (0, 250, 0)]]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], lossless=True)

    captured = inspect_image(data, max_pixels=LIMIT)
    pixel = np.asarray(load_rgb(captured))[16, 24].astype(int)

    assert (captured.width, captured.height) == (48, 32)
    assert pixel[0] > 240 and pixel[1] < 10


def test_transparent_pixels_are_shown_over_black() -> None:
    image = Image.new("RGBA", (20, 20), (255, 255, 255, 0))
    image.paste((255, 255, 255, 255), (10, 0, 20, 20))  # right half opaque white

    rgb = np.asarray(load_rgb(inspect_image(encode(image, "PNG"), max_pixels=LIMIT)))

    assert rgb[10, 5].tolist() == [0, 0, 0]
    assert rgb[10, 15].tolist() == [255, 255, 255]


def test_a_sixteen_bit_greyscale_png_is_scaled_not_clipped() -> None:
    levels = np.full((8, 8), 32768, np.uint16)  # mid grey in 16 bits
    data = encode(Image.fromarray(levels), "PNG")

    rgb = np.asarray(load_rgb(inspect_image(data, max_pixels=LIMIT)))

    assert rgb.dtype == np.uint8
    assert rgb[4, 4].tolist() == [128, 128, 128]


def test_an_unusable_colour_profile_is_ignored_rather_than_failing() -> None:
    data = encode(photo(40, 30), "PNG", icc_profile=b"not really an ICC profile")

    rgb = load_rgb(inspect_image(data, max_pixels=LIMIT))

    assert rgb.mode == "RGB" and rgb.size == (40, 30)


def test_a_large_jpeg_can_be_decoded_at_reduced_scale_that_still_covers_the_frame() -> None:
    data = encode(photo(1600, 1200), "JPEG", quality=90)
    captured = inspect_image(data, max_pixels=LIMIT)

    reduced = load_rgb(captured, at_least=(500, 300))

    assert reduced.size == (800, 600)
    assert load_rgb(captured).size == (1600, 1200)


def three_bands(width: int, height: int, horizontal: bool) -> Image.Image:
    """Red, green, blue bands in quarter / half / quarter, across or down the image."""
    image = Image.new("RGB", (width, height), (0, 255, 0))
    if horizontal:
        image.paste((255, 0, 0), (0, 0, width // 4, height))
        image.paste((0, 0, 255), (width - width // 4, 0, width, height))
    else:
        image.paste((255, 0, 0), (0, 0, width, height // 4))
        image.paste((0, 0, 255), (0, height - height // 4, width, height))
    return image


def test_fitting_a_wide_image_to_a_square_frame_crops_both_sides_equally() -> None:
    fitted = fit_image_to_frame(three_bands(400, 100, horizontal=True), 100, 100)

    pixels = np.asarray(fitted).astype(int)
    assert fitted.size == (100, 100)
    assert (np.abs(pixels - [0, 255, 0]).max(axis=2) < 8).all(), "only the green middle is left"


def test_fitting_a_tall_image_to_a_wide_frame_fills_it_without_bars() -> None:
    fitted = fit_image_to_frame(three_bands(100, 400, horizontal=False), 160, 90)

    pixels = np.asarray(fitted).astype(int)
    assert fitted.size == (160, 90)
    assert (np.abs(pixels - [0, 255, 0]).max(axis=2) < 8).all()


def test_fitting_scales_up_a_small_image_to_fill_the_frame() -> None:
    fitted = fit_image_to_frame(Image.new("RGB", (32, 18), (10, 20, 30)), 1280, 720)

    assert fitted.size == (1280, 720)
    assert np.asarray(fitted)[360, 640].tolist() == [10, 20, 30]

"""Procedural landscapes: the preview engine's first frame when a job has no first image.

Text-to-video needs *something* to animate. This paints a deterministic landscape from the prompt
and the seed: a graded sky, a sun or a moon with its glow, clouds or stars, layers of hills or
mountains that fade into the haze with distance, and water for sea scenes. A few words in the prompt
pick the palette ("night", "sunset", "snow", "desert", "ocean", …); a hash of the prompt and the
seed picks everything else, so the same prompt and seed always paint the same picture, and
another seed paints another one.

    >>> render_scene("a misty mountain valley at sunset", seed=42, width=1280, height=720).shape
    (720, 1280, 3)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["render_scene"]

FloatArray = npt.NDArray[np.float32]
Colour = tuple[float, float, float]


@dataclass(frozen=True)
class _Palette:
    sky_top: Colour
    sky_horizon: Colour
    sun: Colour
    land_near: Colour
    land_far: Colour
    water: Colour | None = None  # sea scenes
    night: bool = False
    clouds: bool = True


_DAY: Final = _Palette(
    (70, 130, 205), (190, 215, 235), (255, 250, 225), (55, 105, 50), (120, 150, 150)
)
_SUNSET: Final = _Palette(
    (60, 55, 120), (250, 160, 90), (255, 215, 140), (45, 35, 55), (150, 95, 110)
)
_NIGHT: Final = _Palette(
    (8, 12, 35),
    (35, 50, 90),
    (235, 235, 215),
    (12, 18, 28),
    (40, 50, 75),
    night=True,
    clouds=False,
)
_SNOW: Final = _Palette(
    (110, 160, 215), (215, 230, 240), (255, 255, 240), (225, 232, 240), (160, 180, 200)
)
_DESERT: Final = _Palette(
    (80, 145, 210),
    (225, 215, 190),
    (255, 245, 215),
    (200, 150, 90),
    (215, 180, 140),
    clouds=False,
)

_TIME_WORDS: Final = (
    (re.compile(r"\b(night|moon\w*|stars?|starry|midnight|dark)\b", re.I), _NIGHT),
    (re.compile(r"\b(sunset|sunrise|dusk|dawn|twilight|golden hour|evening)\b", re.I), _SUNSET),
)
_LAND_WORDS: Final = (
    (re.compile(r"\b(snow\w*|winter|ice|icy|glacier|arctic|frozen)\b", re.I), _SNOW),
    (re.compile(r"\b(desert|dunes?|sand\w*|sahara|canyon)\b", re.I), _DESERT),
)
_SEA_WORDS: Final = re.compile(r"\b(ocean|sea|seas|beach|lake|coast\w*|shore|waves?|bay)\b", re.I)
_MOUNTAIN_WORDS: Final = re.compile(r"\b(mountains?|peaks?|alps|alpine|cliffs?|summit)\b", re.I)


def render_scene(prompt: str, seed: int, *, width: int, height: int) -> npt.NDArray[np.uint8]:
    """Paint a ``height``×``width``×3 uint8 RGB landscape for ``prompt`` and ``seed``."""
    digest = hashlib.sha256(f"{prompt}\x00{seed}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    palette = _palette_for(prompt, rng)
    horizon = height * rng.uniform(0.5, 0.62)
    sun_x, sun_y = width * rng.uniform(0.2, 0.8), horizon * rng.uniform(0.3, 0.75)
    radius = min(width, height) * rng.uniform(0.035, 0.06)

    # The sky and the clouds are smooth, so they are painted at a quarter of the size and
    # scaled up: a fraction of the cost, and no visible difference.
    small = _sky(palette, width // 4, height // 4, horizon / 4, sun_x / 4, sun_y / 4, radius / 4)
    if palette.clouds:
        _clouds(small, rng, palette, horizon / 4)
    image = np.asarray(
        cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), np.float32
    )
    if palette.night:
        _stars(image, rng, horizon)
    cv2.circle(
        image,
        (round(sun_x * 16), round(sun_y * 16)),
        round(radius * 16),
        _f(palette.sun),
        -1,
        cv2.LINE_AA,
        shift=4,
    )
    if palette.water is not None:
        _ridges(image, rng, palette, horizon, width, layers=2, rough=0.04, peaked=False)
        _water(image, rng, palette, horizon, sun_x, radius)
    else:
        mountains = _MOUNTAIN_WORDS.search(prompt) is not None or rng.uniform() < 0.3
        _ridges(
            image,
            rng,
            palette,
            horizon,
            width,
            layers=4,
            rough=0.3 if mountains else 0.1,
            peaked=mountains,
        )
    # A little fixed grain dithers the gradients, which would otherwise band in 8 bits and in
    # H.264; it is part of the picture, so it moves with the camera.
    image += rng.standard_normal((height, width), dtype=np.float32)[:, :, None] * 1.2
    picture: npt.NDArray[np.uint8] = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    return picture


def _palette_for(prompt: str, rng: np.random.Generator) -> _Palette:
    palette = _DAY
    for pattern, land in _LAND_WORDS:
        if pattern.search(prompt):
            palette = land
            break
    for pattern, time_of_day in _TIME_WORDS:
        if pattern.search(prompt):
            # Time of day sets the sky; the land keeps its own colour, darkened to the light.
            light = 0.35 if time_of_day.night else 0.6
            palette = _Palette(
                time_of_day.sky_top,
                time_of_day.sky_horizon,
                time_of_day.sun,
                _mix(time_of_day.land_near, palette.land_near, light * 0.5),
                _mix(time_of_day.land_far, palette.land_far, light * 0.5),
                night=time_of_day.night,
                clouds=time_of_day.clouds and palette.clouds,
            )
            break
    if _SEA_WORDS.search(prompt):
        palette = replace(palette, water=_mix(palette.sky_top, (20, 60, 90), 0.5))
    # A seeded shift of hue and light, so that two seeds of one prompt differ in colour too.
    tint = rng.uniform(-12, 12, 3)

    def tinted(colour: Colour) -> Colour:
        r, g, b = (float(np.clip(c + t, 0, 255)) for c, t in zip(colour, tint, strict=True))
        return (r, g, b)

    return replace(
        palette,
        sky_top=tinted(palette.sky_top),
        sky_horizon=tinted(palette.sky_horizon),
        sun=tinted(palette.sun),
        land_near=tinted(palette.land_near),
        land_far=tinted(palette.land_far),
        water=None if palette.water is None else tinted(palette.water),
    )


def _sky(
    palette: _Palette,
    width: int,
    height: int,
    horizon: float,
    sun_x: float,
    sun_y: float,
    radius: float,
) -> FloatArray:
    rows = np.clip(np.arange(height, dtype=np.float32) / horizon, 0.0, 1.0)[:, None, None]
    top = np.array(palette.sky_top, np.float32)
    bottom = np.array(palette.sky_horizon, np.float32)
    sky = top + (bottom - top) * rows**1.3
    image = np.broadcast_to(sky, (height, width, 3)).copy()
    # The glow around the sun or moon, brightest at the disc and gone within a few radii.
    ys, xs = np.ogrid[:height, :width]
    distance_sq = ((xs - sun_x) ** 2 + (ys - sun_y) ** 2).astype(np.float32)
    glow = np.exp(-distance_sq / np.float32((radius * 5) ** 2))[:, :, None]
    strength = 0.35 if palette.night else 0.7
    image += (np.array(palette.sun, np.float32) - image) * glow * strength
    return image


def _stars(image: FloatArray, rng: np.random.Generator, horizon: float) -> None:
    height, width = image.shape[:2]
    count = int(width * height / 2500)
    xs = rng.uniform(0, width, count)
    ys = rng.uniform(0, horizon, count)
    brightness = rng.uniform(120, 255, count)
    for x, y, level in zip(xs, ys, brightness, strict=True):
        cv2.circle(image, (round(x * 16), round(y * 16)), 16, (level,) * 3, -1, cv2.LINE_AA, 4)


def _clouds(image: FloatArray, rng: np.random.Generator, palette: _Palette, horizon: float) -> None:
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(3, 7))):
        cx, cy = rng.uniform(0, width), rng.uniform(0.05, 0.7) * horizon
        puffs = int(rng.integers(4, 9))
        size = width * rng.uniform(0.03, 0.06)
        for _ in range(puffs):
            px = cx + rng.normal(0, size * 1.6)
            py = cy + rng.normal(0, size * 0.3)
            axes = (
                round(size * rng.uniform(1.0, 2.2) * 16),
                round(size * rng.uniform(0.5, 0.9) * 16),
            )
            cv2.ellipse(
                mask,
                (round(px * 16), round(py * 16)),
                axes,
                0,
                0,
                360,
                float(rng.uniform(0.5, 0.9)),
                -1,
                cv2.LINE_AA,
                4,
            )
    soft = np.asarray(cv2.GaussianBlur(mask, (0, 0), sigmaX=width / 120), np.float32)
    colour = np.array(_mix(palette.sun, (255, 255, 255), 0.5), np.float32)
    image += (colour - image) * np.clip(soft, 0, 1)[:, :, None] * 0.85


def _ridges(
    image: FloatArray,
    rng: np.random.Generator,
    palette: _Palette,
    horizon: float,
    width: int,
    *,
    layers: int,
    rough: float,
    peaked: bool,
) -> None:
    """Layers of hills from far to near, each darker and less hazy than the one behind it."""
    height = image.shape[0]
    xs = np.linspace(0.0, 1.0, width // 4 + 2)
    for layer in range(layers):
        depth = layer / max(1, layers - 1)  # 0 far … 1 near
        base = horizon + (height - horizon) * (0.05 + 0.45 * depth)
        profile = np.zeros_like(xs)
        for octave in range(5):
            frequency = rng.uniform(1.0, 2.2) * 2**octave
            profile += np.sin(2 * np.pi * (frequency * xs + rng.uniform())) / 1.9**octave
        profile = (profile - profile.min()) / max(1e-6, float(np.ptp(profile)))
        if peaked:
            profile = profile**2  # sharp summits over broad valleys
        ys = base - profile * height * rough * (1.0 - 0.4 * depth)
        points = np.stack([xs * width, ys], axis=1)
        polygon = np.concatenate([points, [[width, height], [0, height]]]).astype(np.float64)
        colour = _mix(palette.land_far, palette.land_near, depth)
        colour = _mix(palette.sky_horizon, colour, 0.45 + 0.55 * depth)  # haze
        cv2.fillPoly(image, [np.round(polygon * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)


def _water(
    image: FloatArray,
    rng: np.random.Generator,
    palette: _Palette,
    horizon: float,
    sun_x: float,
    radius: float,
) -> None:
    """A sea from the horizon down, darker toward the viewer, with the sun's glitter path.
    Painted at half size and scaled up, like the sky."""
    assert palette.water is not None
    height, width = image.shape[:2]
    top = int(horizon + height * 0.03)
    rows, cols = (height - top) // 2, width // 2
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    depth = (ys / max(1, rows - 1))[:, :, None]
    near = np.array(palette.water, np.float32)
    far = np.array(_mix(palette.sky_horizon, palette.water, 0.5), np.float32)
    water = far + (near - far) * depth
    spread = radius / 2 * (1.5 + 4.0 * depth[:, :, 0])
    path = np.exp(-(((xs - sun_x / 2) / spread) ** 2))
    ripples = 0.5 + 0.5 * np.sin(ys * rng.uniform(1.0, 1.8) + np.sin(xs * 0.04) * 3.0)
    glitter = (path * ripples * 0.6)[:, :, None]
    water += (np.array(palette.sun, np.float32) - water) * glitter
    image[top:] = cv2.resize(water, (width, height - top), interpolation=cv2.INTER_LINEAR)


def _mix(a: Colour, b: Colour, amount: float) -> Colour:
    return (
        a[0] + (b[0] - a[0]) * amount,
        a[1] + (b[1] - a[1]) * amount,
        a[2] + (b[2] - a[2]) * amount,
    )


def _f(colour: Colour) -> tuple[float, float, float]:
    return (float(colour[0]), float(colour[1]), float(colour[2]))

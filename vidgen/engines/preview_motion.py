"""Camera moves for the preview engine: which move, how far, and where the camera is at time t.

A camera looks at the fitted frame (the input image filled and cropped to the output size) through
a window: ``zoom`` ≥ 1 says how much smaller than the frame the window is, and ``(cx, cy)`` is the
window's centre in units of the frame. The window always stays inside the frame, so a move never
shows anything the image does not contain.

The move comes from the prompt when it names one ("slow zoom in", "the car rushes toward the
camera", "pan left across the valley"), else from the seed, which also varies the amplitude and
the direction of the move:

    >>> plan = plan_motion("a slow zoom in on the lighthouse", seed=7, has_tail=False)
    >>> plan.move, plan.first.at(0.0).zoom, plan.first.at(1.0).zoom > 1.1
    (<Move.ZOOM_IN: 'zoom in'>, 1.0, True)

Without a tail image a move runs from its start framing to its end framing. Zoom in and push in
start on the full fitted frame, so the first frame is the input image. Zoom out, pans and tilts
need room to move into, so they start on a window 1/1.3 to 1/1.12 the size of the frame: this
engine invents no pixels, so it cannot start a pan from the full frame.

With a tail image both ends are fixed: the first frame is the first image and the last frame is
the tail image, each on the full frame. The first image's camera leaves the full frame and the
tail image's camera arrives at it, moving the same way, while one dissolves into the other.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "IDENTITY",
    "Camera",
    "CameraPath",
    "MotionPlan",
    "Move",
    "move_from_prompt",
    "plan_motion",
]


class Move(StrEnum):
    ZOOM_IN = "zoom in"
    ZOOM_OUT = "zoom out"
    PAN_LEFT = "pan left"
    PAN_RIGHT = "pan right"
    TILT_UP = "tilt up"
    TILT_DOWN = "tilt down"
    PUSH_IN = "push in"


# Phrases → move. Where phrases overlap ("dolly out" and "dolly"), the longer one is listed
# first: the regex takes the first alternative that matches at the leftmost position.
_PHRASES: Final[tuple[tuple[str, Move], ...]] = (
    (r"zoom(?:s|ed|ing)? (?:in|into)", Move.ZOOM_IN),
    (r"zoom(?:s|ed|ing)? (?:out|back)", Move.ZOOM_OUT),
    (r"dolly(?:ing)? (?:out|back)|dollies (?:out|back)", Move.ZOOM_OUT),
    (r"pull(?:s|ed|ing)? (?:back|away|out)", Move.ZOOM_OUT),
    (r"reced(?:e|es|ed|ing)|mov(?:e|es|ed|ing) away|away from the camera", Move.ZOOM_OUT),
    (r"pan(?:s|ned|ning)? (?:to the )?left|truck(?:s|ing)? left", Move.PAN_LEFT),
    (r"pan(?:s|ned|ning)? (?:to the )?right|truck(?:s|ing)? right", Move.PAN_RIGHT),
    (r"tilt(?:s|ed|ing)? up|crane(?:s|d)? up|pedestal up", Move.TILT_UP),
    (r"tilt(?:s|ed|ing)? down|crane(?:s|d)? down|pedestal down", Move.TILT_DOWN),
    (r"push(?:es|ed|ing)? (?:in|into|forward)|dolly(?:ing)? in|dollies in", Move.PUSH_IN),
    (
        r"(?:rush|run|charge|fl[yi]|head|mov|come|walk|drive|race|lunge)\w* "
        r"(?:straight )?(?:toward|towards|at|into) (?:the )?(?:camera|viewer|lens)",
        Move.PUSH_IN,
    ),
    (r"toward(?:s)? the (?:camera|viewer|lens)|approach(?:es|ing)?", Move.PUSH_IN),
    (r"dolly|dollies", Move.PUSH_IN),
    (r"zoom(?:s|ing)?\b|close[- ]up", Move.ZOOM_IN),
)
_MOVE_PATTERN: Final = re.compile(
    "|".join(f"(?P<m{index}>\\b(?:{phrase}))" for index, (phrase, _) in enumerate(_PHRASES)),
    re.IGNORECASE,
)

# Amplitudes. A window smaller than 1/1.4 of the frame magnifies a 720p source enough to look
# soft, and a move smaller than ~10 % reads as a static shot.
_ZOOM_RANGE: Final = (1.15, 1.3)
_PUSH_RANGE: Final = (1.25, 1.4)
_PAN_ZOOM_RANGE: Final = (1.12, 1.22)
_THROUGH_ZOOM_RANGE: Final = (1.3, 1.5)  # zooms with a tail image: the dissolve hides softness


def move_from_prompt(prompt: str) -> Move | None:
    """The camera move the prompt asks for, judged by its first camera phrase, or None.

    >>> move_from_prompt("The dragon rushes toward the camera"), move_from_prompt("a cat")
    (<Move.PUSH_IN: 'push in'>, None)
    """
    match = _MOVE_PATTERN.search(prompt)
    if match is None or match.lastgroup is None:
        return None
    return _PHRASES[int(match.lastgroup[1:])][1]


def ease(t: float) -> float:
    """Smoothstep: the camera starts and stops gently instead of jerking into motion."""
    t = min(1.0, max(0.0, t))
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class Camera:
    """A window on the fitted frame: ``zoom`` ≥ 1, centre ``(cx, cy)`` in units of the frame."""

    zoom: float = 1.0
    cx: float = 0.5
    cy: float = 0.5

    @property
    def slack(self) -> float:
        """How far the centre may move from 0.5 (either axis) before the window leaves the frame."""
        return (1.0 - 1.0 / self.zoom) / 2.0

    def clamped(self) -> Camera:
        zoom = max(1.0, self.zoom)
        slack = (1.0 - 1.0 / zoom) / 2.0
        return Camera(
            zoom=zoom,
            cx=min(0.5 + slack, max(0.5 - slack, self.cx)),
            cy=min(0.5 + slack, max(0.5 - slack, self.cy)),
        )

    def inverse_affine(self, width: int, height: int) -> tuple[tuple[float, float, float], ...]:
        """The 2×3 matrix mapping an output pixel to its source pixel in a ``width``×``height``
        plane (for ``cv2.warpAffine`` with ``WARP_INVERSE_MAP``). Pixel centres sit at i + ½,
        so the same camera lines up on a full-size luma plane and a half-size chroma plane."""
        scale = 1.0 / self.zoom
        offset_x = self.cx * width + (0.5 - width / 2.0) * scale - 0.5
        offset_y = self.cy * height + (0.5 - height / 2.0) * scale - 0.5
        return ((scale, 0.0, offset_x), (0.0, scale, offset_y))


IDENTITY: Final = Camera()


@dataclass(frozen=True)
class CameraPath:
    """An eased move from ``start`` to ``end``. Zoom is interpolated on a log scale, so that a
    zoom feels steady instead of fast at first and slow at the end."""

    start: Camera
    end: Camera

    def at(self, t: float) -> Camera:
        progress = ease(t)
        zoom = self.start.zoom * (self.end.zoom / self.start.zoom) ** progress
        return Camera(
            zoom=zoom,
            cx=self.start.cx + (self.end.cx - self.start.cx) * progress,
            cy=self.start.cy + (self.end.cy - self.start.cy) * progress,
        ).clamped()


@dataclass(frozen=True)
class MotionPlan:
    """The whole motion of one clip: the camera on the first image, and, with a tail image, the
    camera on it and when it dissolves in."""

    move: Move
    first: CameraPath
    last: CameraPath | None = None
    dissolve: tuple[float, float] = (0.1, 0.9)  # t where the tail image starts and ends fading in

    def tail_weight(self, t: float) -> float:
        """How much of the tail image frame t shows: 0 at first, exactly 1 at the end."""
        if self.last is None:
            return 0.0
        begin, end = self.dissolve
        return ease((t - begin) / (end - begin))


def plan_motion(prompt: str, seed: int, *, has_tail: bool) -> MotionPlan:
    """Choose the move (prompt first, then seed) and its amplitudes (seed) for one clip."""
    rng = random.Random(f"vidgen-preview-motion:{seed}")
    move = move_from_prompt(prompt) or rng.choice(list(Move))
    if has_tail:
        return _plan_with_tail(move, rng)
    return MotionPlan(move=move, first=_free_path(move, rng))


def _free_path(move: Move, rng: random.Random) -> CameraPath:
    if move in (Move.ZOOM_IN, Move.ZOOM_OUT):
        zoomed = _toward(
            rng.uniform(*_ZOOM_RANGE), rng.uniform(0, 2 * math.pi), rng.uniform(0, 0.4)
        )
        return (
            CameraPath(IDENTITY, zoomed) if move is Move.ZOOM_IN else CameraPath(zoomed, IDENTITY)
        )
    if move is Move.PUSH_IN:
        # A push-in drifts off axis as it goes, like a dolly that is not quite straight.
        drifted = _toward(
            rng.uniform(*_PUSH_RANGE), rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 0.9)
        )
        return CameraPath(IDENTITY, drifted)
    zoom = rng.uniform(*_PAN_ZOOM_RANGE)
    slack = Camera(zoom).slack
    travel = slack * rng.uniform(0.85, 1.0)  # from near one edge to near the other
    across = slack * rng.uniform(-0.3, 0.3)  # a little off the axis, like a hand-held head
    sign = 1.0 if move in (Move.PAN_RIGHT, Move.TILT_DOWN) else -1.0
    # Panning left turns the camera left: the window moves left, the scene slides right.
    if move in (Move.PAN_LEFT, Move.PAN_RIGHT):
        start = Camera(zoom, 0.5 - sign * travel, 0.5 + across)
        end = Camera(zoom, 0.5 + sign * travel, 0.5 + across)
    else:
        start = Camera(zoom, 0.5 + across, 0.5 - sign * travel)
        end = Camera(zoom, 0.5 + across, 0.5 + sign * travel)
    return CameraPath(start, end)


def _plan_with_tail(move: Move, rng: random.Random) -> MotionPlan:
    if move in (Move.ZOOM_IN, Move.PUSH_IN):
        # Zoom through the first image while the tail image, held still, dissolves in.
        reach = 0.2 if move is Move.ZOOM_IN else 0.8
        through = _toward(rng.uniform(*_THROUGH_ZOOM_RANGE), rng.uniform(0, 2 * math.pi), reach)
        return MotionPlan(move, CameraPath(IDENTITY, through), CameraPath(IDENTITY, IDENTITY))
    if move is Move.ZOOM_OUT:
        # The mirror image: the first image holds while the tail image pulls back into view.
        through = _toward(rng.uniform(*_THROUGH_ZOOM_RANGE), rng.uniform(0, 2 * math.pi), 0.2)
        return MotionPlan(move, CameraPath(IDENTITY, IDENTITY), CameraPath(through, IDENTITY))
    # Pans and tilts: the camera leaves the first image toward the move's side and arrives on
    # the tail image from the other side, so the scene slides one way all along.
    zoom = rng.uniform(*_PAN_ZOOM_RANGE)
    travel = Camera(zoom).slack
    sign = 1.0 if move in (Move.PAN_RIGHT, Move.TILT_DOWN) else -1.0
    if move in (Move.PAN_LEFT, Move.PAN_RIGHT):
        leave, arrive = Camera(zoom, 0.5 + sign * travel), Camera(zoom, 0.5 - sign * travel)
    else:
        leave, arrive = Camera(zoom, cy=0.5 + sign * travel), Camera(zoom, cy=0.5 - sign * travel)
    return MotionPlan(move, CameraPath(IDENTITY, leave), CameraPath(arrive, IDENTITY))


def _toward(zoom: float, angle: float, reach: float) -> Camera:
    """A camera zoomed by ``zoom`` whose centre is ``reach`` (0…1) of the way to the edge of
    its slack, in direction ``angle``."""
    slack = Camera(zoom).slack
    return Camera(
        zoom, 0.5 + reach * slack * math.cos(angle), 0.5 + reach * slack * math.sin(angle)
    ).clamped()

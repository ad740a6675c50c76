"""Find the picture inside letterbox or pillarbox bars and padding.

Re-uploads often add bars around a picture: black or white padding, or a blurred,
enlarged copy of the picture itself (common on video and social sites). PDQ of the whole
frame then misses the original by 100+ bits. The bars are flat along their length (a
black bar is constant; a heavily blurred one changes by a grey level or so from pixel to
pixel), so a run of such rows or columns from an edge marks a bar, when the opposite edge
has a matching one. One-sided padding and app chrome are left to the robust matcher.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

_PROBE_SIDE = 512  # bands are measured on a reduced copy; enough to place them to ~0.2%
_FLAT = 2.0  # mean |luma step| along a row (0-255 scale) below which the row is a bar
_MIN_BAND = 0.03  # a bar must cover at least 3% of the side it sits on...
_MIN_CONTENT = 0.3  # ...and leave at least 30% of each side as picture
_SYMMETRY = 0.05  # the two bars of a pair differ by at most 5% of the side


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in pixels: rows ``top:bottom``, columns ``left:right``."""

    top: int
    bottom: int
    left: int
    right: int

    def crop(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        return np.ascontiguousarray(rgb[self.top : self.bottom, self.left : self.right])


def content_box(rgb: npt.NDArray[np.uint8]) -> Box | None:
    """The picture inside bars, or ``None`` when there are no bars worth trimming."""
    height, width = rgb.shape[:2]
    if min(height, width) < 32:
        return None
    scale = min(1.0, _PROBE_SIDE / max(height, width))
    probe = Image.fromarray(rgb).convert("L")
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        probe = probe.resize(size, Image.Resampling.BOX)
    luma = np.asarray(probe, dtype=np.float32)
    rows = np.abs(np.diff(luma, axis=1)).mean(axis=1) < _FLAT
    cols = np.abs(np.diff(luma, axis=0)).mean(axis=0) < _FLAT
    top, bottom = _bars(rows)
    left, right = _bars(cols)
    if (top, bottom, left, right) == (0, len(rows), 0, len(cols)):
        return None
    if bottom - top < _MIN_CONTENT * len(rows) or right - left < _MIN_CONTENT * len(cols):
        return None
    return Box(
        top=round(top / scale),
        bottom=min(height, round(bottom / scale)),
        left=round(left / scale),
        right=min(width, round(right / scale)),
    )


def _bars(flat: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """Where the picture starts and ends along one axis.

    Bars come in matching pairs (a letterbox or pillarbox centres the picture), which
    tells them from a smooth sky or wall on one side of an ordinary photo: both ends must
    be flat for at least 3% of the side and within 5% of each other.
    """
    size = len(flat)
    head, tail = _band(flat), _band(flat[::-1])
    if min(head, tail) < _MIN_BAND * size or abs(head - tail) > _SYMMETRY * size:
        return 0, size
    return head, size - tail


def _band(flat: npt.NDArray[np.bool_]) -> int:
    """How many leading entries are flat (the width of a bar at that edge)."""
    not_flat = np.flatnonzero(~flat)
    return int(not_flat[0]) if len(not_flat) else len(flat)

"""Find the picture inside bars, padding, and the chrome of a screenshot.

Re-uploads often put a picture inside something: black or white padding, or a blurred,
enlarged copy of the picture itself (common on video and social sites), or an app's
status bar, header, caption and buttons when someone screenshots a post. PDQ of the whole
frame then misses the original by 100+ bits; PDQ of the picture inside finds it.

Two detectors, each cheap on a reduced grey copy:

* :func:`content_box` -- bars: runs of rows or columns that are flat along their length
  (a black bar is constant; a heavily blurred one changes by a grey level or so from
  pixel to pixel), in matching pairs at opposite edges.
* :func:`picture_boxes` -- chrome and one-sided padding: an interface's background has
  blank rows (one colour end to end: margins, gaps between lines of text), a photo has
  none; the longest run of non-blank rows, then of non-blank columns within it, is the
  picture, its edges then placed exactly at full size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
from PIL import Image

_PROBE_SIDE = 512  # bands are measured on a reduced copy; enough to place them to ~0.2%
_FLAT = 2.0  # mean |luma step| along a row (0-255 scale) below which the row is a bar
_MIN_BAND = 0.03  # a bar must cover at least 3% of the side it sits on...
_MIN_CONTENT = 0.3  # ...and leave at least 30% of each side as picture
_SYMMETRY = 0.05  # the two bars of a pair differ by at most 5% of the side
_BAR_SPREAD = 8.0  # grey levels a bar's line may span (compression noise), and between bars
_BLANK_RANGE = 6.0  # grey levels between a row's 2nd and 98th percentile on a blank row
_MIN_PICTURE = 0.2  # the picture covers at least a fifth of each side...
_MOSTLY_PICTURE = 0.95  # ...and at most 95% of the frame, or there is nothing to trim


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in pixels: rows ``top:bottom``, columns ``left:right``."""

    top: int
    bottom: int
    left: int
    right: int

    def crop(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        return np.ascontiguousarray(rgb[self.top : self.bottom, self.left : self.right])

    def near(self, other: Box, tolerance: int = 2) -> bool:
        """Within ``tolerance`` pixels on every side (the same picture, found twice)."""
        return all(
            abs(a - b) <= tolerance
            for a, b in zip(
                (self.top, self.bottom, self.left, self.right),
                (other.top, other.bottom, other.left, other.right),
                strict=True,
            )
        )


Probe = tuple[npt.NDArray[np.float32], float]


def probe(rgb: npt.NDArray[np.uint8]) -> Probe | None:
    """A grey copy at most 512 pixels on a side, and its scale; ``None`` when too small.
    Both detectors look at it: make it once and pass it to each."""
    height, width = rgb.shape[:2]
    if min(height, width) < 32:
        return None
    scale = min(1.0, _PROBE_SIDE / max(height, width))
    grey = Image.fromarray(rgb).convert("L")
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = grey.resize(size, Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32), scale


def _to_pixels(
    top: int, bottom: int, left: int, right: int, scale: float, shape: tuple[int, ...]
) -> Box:
    return Box(
        top=round(top / scale),
        bottom=min(shape[0], round(bottom / scale)),
        left=round(left / scale),
        right=min(shape[1], round(right / scale)),
    )


def content_box(rgb: npt.NDArray[np.uint8], probed: Probe | None = None) -> Box | None:
    """The picture inside bars, or ``None`` when there are no bars worth trimming."""
    probed = probed or probe(rgb)
    if probed is None:
        return None
    luma, scale = probed
    rows, cols = _flat_lines(luma), _flat_lines(luma.T)
    top, bottom = _bars(rows)
    left, right = _bars(cols)
    if (top, bottom, left, right) == (0, len(rows), 0, len(cols)):
        return None
    if bottom - top < _MIN_CONTENT * len(rows) or right - left < _MIN_CONTENT * len(cols):
        return None
    return _to_pixels(top, bottom, left, right, scale, rgb.shape)


_ASPECTS = (1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3, 9 / 16)
"""Width over height of the pictures cameras and phones make."""


def aspect_boxes(rgb: npt.NDArray[np.uint8], probed: Probe | None = None) -> list[Box]:
    """Where a picture of a common shape would sit, centred, between flat bands at two
    opposite edges: bars that merge into a dark or white picture's own background defeat
    :func:`content_box`, but letterboxing centres a picture of a camera's shape, and PDQ
    needs its box to the pixel. Only boxes that leave every non-flat row (or column)
    inside are tried: bars hold no picture."""
    probed = probed or probe(rgb)
    if probed is None:
        return []
    luma, scale = probed
    height, width = rgb.shape[:2]
    out: list[Box] = []
    for axis, (side, across) in enumerate(((height, width), (width, height))):
        lines = luma if axis == 0 else luma.T
        flat = _flat_lines(lines)
        head, tail = _band(flat), _band(flat[::-1])
        if min(head, tail) < _MIN_BAND * len(flat):
            continue
        if head == len(flat):  # flat throughout: a smooth picture leaves every box possible,
            if not _same_bars(lines[0], lines[-1]):  # unless its edges cannot be bars
                continue
            first, last = float(side), 0.0
        else:  # the first and last rows of picture, in full pixels
            first, last = head / scale, side - tail / scale
        for aspect in _ASPECTS:
            inner = round(across / aspect) if axis == 0 else round(across * aspect)
            start = (side - inner) // 2
            if (
                _MIN_CONTENT * side <= inner < side
                and start <= first + 2
                and start + inner >= last - 2
            ):
                out.append(
                    Box(start, start + inner, 0, width)
                    if axis == 0
                    else Box(0, height, start, start + inner)
                )
    return out


def _flat_lines(lines: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Per row of ``lines``: is its mean step between neighbouring pixels below ``_FLAT``?"""
    return np.asarray(np.abs(np.diff(lines, axis=1)).mean(axis=1) < _FLAT)


def _same_bars(first: npt.NDArray[np.float32], last: npt.NDArray[np.float32]) -> bool:
    """Could these two edge lines be a pair of bars: each one colour, both the same?
    (A smooth sky or a gradient along an edge is flat but not one colour.)"""
    spread = max(float(np.ptp(first)), float(np.ptp(last)))
    return spread <= _BAR_SPREAD and abs(float(first.mean()) - float(last.mean())) <= _BAR_SPREAD


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


def picture_boxes(rgb: npt.NDArray[np.uint8], probed: Probe | None = None) -> list[Box]:
    """The picture inside app chrome or one-sided padding: the band of rows between the
    chrome, and the picture within that band when it has blank columns too (the band
    alone is kept as well: a banked picture may carry its own side bars). Empty when the
    whole frame is picture, or no part of it clearly is."""
    probed = probed or probe(rgb)
    if probed is None:
        return []
    luma, scale = probed
    top, bottom = _picture_run(_blank(luma))
    if bottom - top < _MIN_PICTURE * luma.shape[0]:
        return []
    left, right = _picture_run(_blank(luma[top:bottom].T))
    if right - left < _MIN_PICTURE * luma.shape[1]:
        return []
    grey = _Grey(rgb)
    out: list[Box] = []
    for cols in ((0, luma.shape[1]), (left, right)):
        if (bottom - top) * (cols[1] - cols[0]) > _MOSTLY_PICTURE * luma.size:
            continue  # at most a sliver to trim: the whole frame is the picture
        box = _refine(grey, _to_pixels(top, bottom, cols[0], cols[1], scale, rgb.shape), scale)
        if not any(box.near(seen) for seen in out):
            out.append(box)
    return out


class _Grey:
    """Full-size grey rows and columns of ``rgb``, converted only where asked."""

    def __init__(self, rgb: npt.NDArray[np.uint8]) -> None:
        self.rgb = rgb
        self.shape = rgb.shape[:2]

    def __getitem__(self, key: tuple[slice, slice]) -> npt.NDArray[np.float32]:
        part = self.rgb[key].astype(np.float32)
        grey: npt.NDArray[np.float32] = part @ np.array([0.299, 0.587, 0.114], np.float32)
        return grey


def _refine(grey: _Grey, box: Box, scale: float) -> Box:
    """Move each edge found on the reduced copy to the exact first or last picture row or
    column at full size: PDQ moves by 30+ bits when a picture is off by half a percent."""
    slack = int(np.ceil(1.5 / scale)) + 1
    height, width = grey.shape

    def first(lines: npt.NDArray[np.float32], guess: int, low: int) -> int:
        """The picture's first line near ``guess`` (``lines`` start at ``low``): after
        the last blank line before it."""
        blanks = np.flatnonzero(_blank(lines))
        return low + int(blanks[-1]) + 1 if len(blanks) else guess

    def last(lines: npt.NDArray[np.float32], guess: int) -> int:
        """The end of the picture near ``guess`` (``lines`` start at ``guess - 1``): the
        first blank line from there on."""
        blanks = np.flatnonzero(_blank(lines))
        return guess - 1 + int(blanks[0]) if len(blanks) else guess

    cols = slice(box.left, box.right)
    top, bottom, left, right = 0, height, 0, width
    if box.top > 0:
        low = max(0, box.top - slack)
        top = first(grey[low : box.top + 1, cols], box.top, low)
    if box.bottom < height:
        bottom = last(grey[box.bottom - 1 : min(height, box.bottom + slack), cols], box.bottom)
    rows = slice(top, bottom)
    if box.left > 0:
        low = max(0, box.left - slack)
        left = first(grey[rows, low : box.left + 1].T, box.left, low)
    if box.right < width:
        right = last(grey[rows, box.right - 1 : min(width, box.right + slack)].T, box.right)
    return Box(top, bottom, left, right)


def _blank(luma: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Per row: is it blank, one colour end to end (up to compression noise)? Interface
    backgrounds are; even the smoothest photo row (a wall, a gradient sky) spans more."""
    size = luma.shape[1]
    low_k, high_k = int(0.02 * (size - 1)), int(0.98 * (size - 1))
    levels = np.clip(np.rint(luma), 0, 255).astype(np.uint8)  # grey levels to the nearest
    return np.asarray(_row_ranges(levels, low_k, high_k) <= _BLANK_RANGE)


@numba.njit(cache=True, nogil=True)
def _row_ranges(grey: npt.NDArray[np.uint8], low_k: int, high_k: int) -> npt.NDArray[np.int64]:
    """Per row, the ``high_k``-th minus the ``low_k``-th smallest level (what sorting the
    row would give), from a 256-bin histogram."""
    rows, cols = grey.shape
    out = np.empty(rows, dtype=np.int64)
    counts = np.empty(256, dtype=np.int64)
    for r in range(rows):
        counts[:] = 0
        for c in range(cols):
            counts[grey[r, c]] += 1
        seen, low, high = 0, -1, -1
        for level in range(256):
            seen += counts[level]
            if low < 0 and seen > low_k:
                low = level
            if seen > high_k:
                high = level
                break
        out[r] = high - low
    return out


def _picture_run(blank: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """The longest run of rows (or columns) none of which is blank.

    Interface text sits on a blank background with blank margins between its lines;
    a photo has no blank row (a black sky or wall is bars' business, see above)."""
    best, start = (0, 0), 0
    for index, is_blank in enumerate([*blank.tolist(), True]):
        if is_blank:
            if index - start > best[1] - best[0]:
                best = (start, index)
            start = index + 1
    return best

"""PDQ of parts of a picture placed by the picture's own content: the anchored regions a
banked item carries, so that crops and small rotations are still found.

Why: PDQ moves 38 bits (median) when its window shifts by 1% of the picture, and 50 when it
grows by 5% (measured on the evaluation corpus). A crop or a turn of the picture moves every
fixed window -- the whole picture's, the grid's cells -- far more than that, so no set of
fixed windows can find them. Windows placed by *points the picture itself defines* move with
the picture: find the same two points in the copy, and the window between them is the same
part of the picture, at the same size and the same angle.

The protocol (a survivor's browser computes it too, so every step is plain float32
arithmetic in a fixed order -- additions, products, quotients and square roots, no
transcendental functions):

1. PDQ's luma of the pixels as given, reduced (or enlarged) to ``WORK_SIDE`` pixels on the
   longer side: output pixel ``(i, j)`` is the mean of input rows ``[i*H//h, (i+1)*H//h)``
   and columns likewise (at least one row and column: the nearest when enlarging), summed
   row by row.
2. Six blurred copies, each three passes of a running box filter of width
   ``BOX_WIDTHS[k]`` (edges clamped; the running sum adds the sample entering, then
   subtracts the one leaving, and is multiplied by the float32 reciprocal of the width)
   along rows, then three down columns; their five differences approximate the
   Laplacian of Gaussian at growing scales.
3. Anchors: points of the three middle differences that are strictly above (or below) all
   26 neighbours in place and scale, at least ``MIN_RESPONSE`` in magnitude, not on an
   edge (Hessian ratio under ``EDGE_RATIO``), away from the border, refined to a fraction
   of a pixel by a parabola through the neighbours on each axis. The ``MAX_ANCHORS``
   strongest are kept (ties: top to bottom, left to right).
4. Regions: for each pair of anchors ``p`` (the stronger), ``q`` at a distance ``d`` of
   ``PAIR_RANGE`` times ``WORK_SIDE``, the square of side ``PATCH_SCALE * d`` centred
   between them with its first axis along ``q - p``, if it lies inside the picture,
   sampled at 64 x 64 points by bilinear interpolation: the PDQ DCT, median and quality of
   those samples are the region's hash. At most ``MAX_REGIONS``, strongest pairs first.
   Each is stored the way round (p to q, or q to p: the region turned by 180 degrees,
   which changes the sign of the DCT coefficients of odd ``i + j``) that makes the sum of
   those coefficients non-negative, so that a query need look each of its regions up once
   -- both ways only when the sum is near zero.

Each region is stored with its two anchors (in working pixels), so that a query that finds
it knows where the banked picture lies in the copy and can check the rest of it. Like any
PDQ, a region's hash keeps a blurred 16x16 gist of its part at most, never the picture.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from reclaim.signals.base import HashFormatError, parse_hex
from reclaim.signals.pdq_core import (
    DCT_MATRIX,
    _dct16,
    _quality,
    bits_from_dct16,
    bits_to_hex,
)

WORK_SIDE = 256
BOX_WIDTHS = (7, 9, 13, 17, 25, 35)
"""Three passes of a box of width w blur like a Gaussian of sigma sqrt((w^2 - 1) / 4):
3.5, 4.5, 6.5, 8.5, 12.5, 17.5 working pixels."""
MIN_RESPONSE = 0.5
EDGE_RATIO = 10.0
MAX_ANCHORS = 16
PAIR_RANGE = (0.2, 0.8)
PATCH_SCALE = 0.75
MAX_REGIONS = 48
MIN_QUALITY = 30
"""Regions of lower quality are neither looked up nor indexed (all are stored: this is the
matcher's choice, not part of the protocol). Lower than whole-picture PDQ's 50 because a
region is only a candidate: its placement is checked against the banked grid. Measured on
the evaluation corpus, 50 -> 30: crops 0.735 -> 0.776, turns 0.835 -> 0.853, combined
0.635 -> 0.665, logo 0.771 -> 0.788, screenshots 0.818 -> 0.847, no new false match;
indexed regions per real picture 25 -> 31, query regions looked up 910 -> 974."""


@dataclass(frozen=True, slots=True)
class AnchoredRegion:
    """One region: its PDQ hash and quality, and the anchors ``p``, ``q`` that place it
    (x, y in working pixels of the picture whose longer side is ``WORK_SIDE``)."""

    value: str
    quality: int
    anchors: tuple[float, float, float, float]

    def to_json(self) -> dict[str, object]:
        return {"value": self.value, "quality": self.quality, "anchors": list(self.anchors)}

    @classmethod
    def from_json(cls, data: object) -> AnchoredRegion:
        if not isinstance(data, Mapping):
            raise HashFormatError("each anchored region must be an object")
        quality = data.get("quality", 100)
        if not isinstance(quality, int) or isinstance(quality, bool) or not 0 <= quality <= 100:
            raise HashFormatError("an anchored region's quality must be an integer 0-100")
        anchors = data.get("anchors")
        if (
            not isinstance(anchors, list)
            or len(anchors) != 4
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= WORK_SIDE
                for v in anchors
            )
        ):
            raise HashFormatError(
                f"an anchored region's anchors must be [px, py, qx, qy] within 0-{WORK_SIDE}"
            )
        value = parse_hex(data.get("value"), bits=256, name="pdq")  # type: ignore[arg-type]
        px, py, qx, qy = (float(v) for v in anchors)
        if (qx - px) ** 2 + (qy - py) ** 2 < 1.0:
            raise HashFormatError("an anchored region's anchors must be two distinct points")
        return cls(value, quality, (px, py, qx, qy))


_RECORD = 41
"""Bytes of a packed region: the PDQ (32), its quality (1), its anchors (4 x uint16,
big-endian, in hundredths of a working pixel)."""


def regions_to_json(regions: Sequence[AnchoredRegion]) -> str:
    """The stored form: base64 of the packed regions, one after another (2.6 KB for 48,
    against 7 KB as JSON objects)."""
    packed = bytearray()
    for region in regions:
        packed += bytes.fromhex(region.value)
        packed.append(region.quality)
        for value in region.anchors:
            packed += round(value * 100).to_bytes(2, "big")
    return base64.b64encode(bytes(packed)).decode("ascii")


def regions_from_json(data: object) -> tuple[AnchoredRegion, ...]:
    """Regions received from outside, validated: the packed string of
    :func:`regions_to_json`, or a list of ``{value, quality, anchors}`` objects."""
    if isinstance(data, str):
        return _unpacked(data)
    if not isinstance(data, list) or len(data) > MAX_REGIONS:
        raise HashFormatError(
            f"anchored regions must be a packed string or a list of at most {MAX_REGIONS}"
        )
    return tuple(AnchoredRegion.from_json(item) for item in data)


def _unpacked(text: str) -> tuple[AnchoredRegion, ...]:
    if len(text) > 4 * MAX_REGIONS * _RECORD // 3 + 4:
        raise HashFormatError(f"anchored regions: at most {MAX_REGIONS}")
    try:
        packed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise HashFormatError("anchored regions must be base64 of packed regions") from error
    if len(packed) % _RECORD:
        raise HashFormatError(f"anchored regions must be {_RECORD}-byte records")
    # Checked as arrays, as AnchoredRegion.from_json checks one region (a matcher
    # loading 100,000 banked pictures reads 4.5 million of them).
    records = np.frombuffer(packed, np.uint8).reshape(-1, _RECORD)
    quality = records[:, 32]
    anchors = records[:, 33:].copy().view(">u2").astype(np.float64) / 100
    if (quality > 100).any():
        raise HashFormatError("an anchored region's quality must be an integer 0-100")
    if (anchors > WORK_SIDE).any():
        raise HashFormatError(
            f"an anchored region's anchors must be [px, py, qx, qy] within 0-{WORK_SIDE}"
        )
    gaps = anchors[:, 2:] - anchors[:, :2]
    if ((gaps * gaps).sum(axis=1) < 1.0).any():
        raise HashFormatError("an anchored region's anchors must be two distinct points")
    values = records[:, :32].tobytes().hex()
    return tuple(
        AnchoredRegion(values[64 * n : 64 * (n + 1)], int(q), (px, py, qx, qy))
        for n, (q, (px, py, qx, qy)) in enumerate(
            zip(quality.tolist(), anchors.tolist(), strict=True)
        )
    )


@numba.njit(cache=True, nogil=True)
def _reduce(luma: npt.NDArray[np.float32], rows: int, cols: int) -> npt.NDArray[np.float32]:
    height, width = luma.shape
    out = np.empty((rows, cols), np.float32)
    for i in range(rows):
        top = (i * height) // rows
        bottom = max(top + 1, ((i + 1) * height) // rows)
        for j in range(cols):
            left = (j * width) // cols
            right = max(left + 1, ((j + 1) * width) // cols)
            total = np.float32(0.0)
            for y in range(top, bottom):
                for x in range(left, right):
                    total += luma[y, x]
            out[i, j] = total / np.float32((bottom - top) * (right - left))
    return out


_BLOCK = 16


@numba.njit(cache=True, nogil=True)
def _box_lines(src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32], width: int) -> None:
    """Running box mean down each column of ``src`` (n x lines), edges clamped: dst[i] =
    mean(src[clamp(i-r .. i+r)]), each column's sum carried along (add the sample
    entering, then subtract the one leaving), times the float32 reciprocal of the width.
    The columns advance together, side by side in memory, so that they run as vectors."""
    n, lines = src.shape
    radius = width // 2
    inv = np.float32(1.0) / np.float32(width)
    total = np.zeros(lines, np.float32)
    for t in range(-radius, radius + 1):
        at = min(max(t, 0), n - 1)
        for r in range(lines):
            total[r] += src[at, r]
    for r in range(lines):
        dst[0, r] = total[r] * inv
    for i in range(1, n):
        enter = min(i + radius, n - 1)
        leave = max(i - radius - 1, 0)
        for r in range(lines):
            total[r] = (total[r] + src[enter, r]) - src[leave, r]
            dst[i, r] = total[r] * inv


@numba.njit(cache=True, nogil=True)
def _blur_rows(image: npt.NDArray[np.float32], width: int, out: npt.NDArray[np.float32]) -> None:
    """Three box passes along every row of ``image``, into ``out``."""
    rows, cols = image.shape
    a = np.empty((cols, _BLOCK), np.float32)
    b = np.empty((cols, _BLOCK), np.float32)
    for first in range(0, rows, _BLOCK):
        count = min(_BLOCK, rows - first)
        for j in range(cols):
            for r in range(count):
                a[j, r] = image[first + r, j]
            for r in range(count, _BLOCK):
                a[j, r] = 0.0
        _box_lines(a, b, width)
        _box_lines(b, a, width)
        _box_lines(a, b, width)
        for r in range(count):
            for j in range(cols):
                out[first + r, j] = b[j, r]


@numba.njit(cache=True, nogil=True)
def _blur(image: npt.NDArray[np.float32], width: int) -> npt.NDArray[np.float32]:
    """Three box passes along every row, then three down every column (the rows of the
    transposed view, whose blocks of lines lie side by side in memory)."""
    across = np.empty_like(image)
    _blur_rows(image, width, across)
    out = np.empty_like(image)
    _blur_rows(across.T, width, out.T)
    return out


@numba.njit(cache=True, nogil=True)
def _extremum(dog: npt.NDArray[np.float32], k: int, y: int, x: int) -> bool:
    """Strictly above (or below) all 26 neighbours in place and scale; the 8 in place
    first, which rule out most points."""
    v = dog[k, y, x]
    for dk in (0, -1, 1):
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                if dk == 0 and dy == 0 and dx == 0:
                    continue
                w = dog[k + dk, y + dy, x + dx]
                if (v > 0 and w >= v) or (v < 0 and w <= v):
                    return False
    return True


@numba.njit(cache=True, nogil=True)
def _offset(before: np.float32, at: np.float32, after: np.float32) -> np.float32:
    """Where a parabola through three samples peaks, relative to the middle, in
    [-0.5, 0.5]."""
    second = before - np.float32(2.0) * at + after
    if second == 0:
        return np.float32(0.0)
    off = (before - after) / (np.float32(2.0) * second)
    return min(max(off, np.float32(-0.5)), np.float32(0.5))


@numba.njit(cache=True, nogil=True)
def _anchors(
    work: npt.NDArray[np.float32], widths: npt.NDArray[np.int64], min_response: float, ratio: float
) -> npt.NDArray[np.float32]:
    """Rows of (strength, x, y) of every anchor, unsorted."""
    rows, cols = work.shape
    levels = widths.shape[0]
    blurred = np.empty((levels, rows, cols), np.float32)
    for k in range(levels):
        blurred[k] = _blur(work, widths[k])
    dog = np.empty((levels - 1, rows, cols), np.float32)
    for k in range(levels - 1):
        for i in range(rows):
            for j in range(cols):
                dog[k, i, j] = blurred[k + 1, i, j] - blurred[k, i, j]
    found = []
    floor = np.float32(min_response)
    edge = np.float32((ratio + 1.0) * (ratio + 1.0) / ratio)
    for k in range(1, levels - 2):
        margin = widths[k + 1] // 2 + 1
        for y in range(margin, rows - margin):
            for x in range(margin, cols - margin):
                v = dog[k, y, x]
                if abs(v) < floor or not _extremum(dog, k, y, x):
                    continue
                d = dog[k]
                dxx = d[y, x + 1] - np.float32(2.0) * v + d[y, x - 1]
                dyy = d[y + 1, x] - np.float32(2.0) * v + d[y - 1, x]
                dxy = (d[y + 1, x + 1] - d[y + 1, x - 1] - d[y - 1, x + 1] + d[y - 1, x - 1]) / (
                    np.float32(4.0)
                )
                trace = dxx + dyy
                det = dxx * dyy - dxy * dxy
                if det <= 0 or trace * trace >= edge * det:
                    continue
                ox = _offset(d[y, x - 1], v, d[y, x + 1])
                oy = _offset(d[y - 1, x], v, d[y + 1, x])
                found.append((abs(v), np.float32(x) + ox, np.float32(y) + oy))
    out = np.empty((len(found), 3), np.float32)
    for n in range(len(found)):
        out[n, 0], out[n, 1], out[n, 2] = found[n]
    return out


@numba.njit(cache=True, nogil=True)
def _sample(
    work: npt.NDArray[np.float32],
    px: np.float32,
    py: np.float32,
    qx: np.float32,
    qy: np.float32,
    scale: np.float32,
    buf: npt.NDArray[np.float32],
) -> bool:
    """Sample the region between anchors p and q into ``buf`` (64 x 64); False when it
    does not lie inside the picture."""
    rows, cols = work.shape
    dx = qx - px
    dy = qy - py
    dist = np.sqrt(dx * dx + dy * dy)
    ex = dx / dist
    ey = dy / dist
    step = scale * dist / np.float32(64.0)
    cx = (px + qx) / np.float32(2.0)
    cy = (py + qy) / np.float32(2.0)
    half = np.float32(31.5)
    for v in (0, 63):
        for u in (0, 63):
            a = (np.float32(u) - half) * step
            b = (np.float32(v) - half) * step
            x = cx + a * ex - b * ey
            y = cy + a * ey + b * ex
            if x < 0 or y < 0 or x > np.float32(cols - 1) or y > np.float32(rows - 1):
                return False
    one = np.float32(1.0)
    for v in range(64):
        b = (np.float32(v) - half) * step
        for u in range(64):
            a = (np.float32(u) - half) * step
            x = cx + a * ex - b * ey
            y = cy + a * ey + b * ex
            x0 = min(int(x), cols - 2)
            y0 = min(int(y), rows - 2)
            fx = x - np.float32(x0)
            fy = y - np.float32(y0)
            top = (one - fx) * work[y0, x0] + fx * work[y0, x0 + 1]
            bottom = (one - fx) * work[y0 + 1, x0] + fx * work[y0 + 1, x0 + 1]
            buf[v, u] = (one - fy) * top + fy * bottom
    return True


@numba.njit(cache=True, nogil=True)
def _sample_regions(
    work: npt.NDArray[np.float32],
    anchors: npt.NDArray[np.float32],
    low: float,
    high: float,
    scale: float,
    limit: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Samples (n x 64 x 64), qualities and anchors (n x 4) of the regions of anchor pairs."""
    lo = np.float32(low) * np.float32(WORK_SIDE)
    hi = np.float32(high) * np.float32(WORK_SIDE)
    n = anchors.shape[0]
    samples = np.empty((limit, 64, 64), np.float32)
    quality = np.empty(limit, np.int64)
    where = np.empty((limit, 4), np.float32)
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            if count == limit:
                break
            px, py = anchors[i, 1], anchors[i, 2]
            qx, qy = anchors[j, 1], anchors[j, 2]
            dx, dy = qx - px, qy - py
            dist = np.sqrt(dx * dx + dy * dy)
            if dist < lo or dist > hi:
                continue
            if not _sample(work, px, py, qx, qy, np.float32(scale), samples[count]):
                continue
            quality[count] = _quality(samples[count])
            where[count, 0], where[count, 1], where[count, 2], where[count, 3] = px, py, qx, qy
            count += 1
    return samples[:count], quality[:count], where[:count]


@numba.njit(cache=True, nogil=True)
def _dcts(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out = np.empty((samples.shape[0], 16, 16), np.float32)
    for n in range(samples.shape[0]):
        out[n] = _dct16(samples[n], DCT_MATRIX)
    return out


TURN = np.array([[(-1) ** (i + j) for j in range(16)] for i in range(16)], np.float32)
"""A region taken from q to p is the one from p to q turned by 180 degrees: its DCT
coefficient (i, j) changes sign with i + j."""


def handedness(dcts: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Sum of the coefficients that change sign when a region is turned (float32, row by
    row): a region is stored the way round that makes it >= 0."""
    odd = TURN < 0
    out = np.empty(len(dcts), np.float32)
    for n, dct in enumerate(dcts):
        total = np.float32(0.0)
        for value in dct[odd]:
            total = np.float32(total + value)
        out[n] = total
    return out


def working_shape(height: int, width: int, side: int = WORK_SIDE) -> tuple[int, int]:
    """(rows, cols) of the working luma of a picture ``height`` x ``width``."""
    longer = max(height, width)
    return (
        max(1, (height * side + longer // 2) // longer),
        max(1, (width * side + longer // 2) // longer),
    )


def working_luma(luma: npt.NDArray[np.float32], side: int = WORK_SIDE) -> npt.NDArray[np.float32]:
    """Step 1: the luma at ``side`` pixels on the longer side (``WORK_SIDE`` when banking;
    a query tries others too: a crop of the banked picture shows its content larger)."""
    rows, cols = working_shape(luma.shape[0], luma.shape[1], side)
    return _reduce(np.ascontiguousarray(luma, dtype=np.float32), rows, cols)


def all_anchors(work: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Steps 2-3: every anchor of a working luma, rows (strength, x, y), strongest first
    (ties: top to bottom, left to right)."""
    if min(work.shape) <= 2 * BOX_WIDTHS[-1] // 2 + 2:
        return np.empty((0, 3), np.float32)
    found = _anchors(work, np.array(BOX_WIDTHS, np.int64), MIN_RESPONSE, EDGE_RATIO)
    order = np.lexsort((found[:, 1], found[:, 2], -found[:, 0]))
    return np.ascontiguousarray(found[order])


def strongest(
    found: npt.NDArray[np.float32],
    limit: int = MAX_ANCHORS,
    exclude: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float32]:
    """The first ``limit`` of :func:`all_anchors`. A query may ``exclude`` points (a mask
    of the working luma's shape) that its own edits made: the filled corners of a turned
    copy."""
    if exclude is not None and len(found):
        rows = np.clip(np.rint(found[:, 2]).astype(np.int64), 0, exclude.shape[0] - 1)
        cols = np.clip(np.rint(found[:, 1]).astype(np.int64), 0, exclude.shape[1] - 1)
        found = found[~exclude[rows, cols]]
    return np.ascontiguousarray(found[:limit])


def find_anchors(
    work: npt.NDArray[np.float32], limit: int = MAX_ANCHORS
) -> npt.NDArray[np.float32]:
    """Steps 2-3: the ``limit`` strongest anchors of a working luma."""
    return strongest(all_anchors(work), limit)


@dataclass(frozen=True, slots=True)
class Samples:
    """A picture's regions sampled, before hashing."""

    samples: npt.NDArray[np.float32]
    quality: npt.NDArray[np.int64]
    anchors: npt.NDArray[np.float32]


def sample_regions(
    work: npt.NDArray[np.float32], anchors: npt.NDArray[np.float32], limit: int = MAX_REGIONS
) -> Samples:
    """Step 4's samples, from a working luma and its anchors."""
    low, high = PAIR_RANGE
    samples, quality, where = _sample_regions(work, anchors, low, high, PATCH_SCALE, limit)
    return Samples(samples, quality, where)


def anchored_regions(luma: npt.NDArray[np.float32]) -> tuple[AnchoredRegion, ...]:
    """The anchored regions a banked picture carries, from PDQ's luma of it; each the way
    round its :func:`handedness` makes non-negative."""
    work = working_luma(luma)
    found = sample_regions(work, find_anchors(work))
    dcts = _dcts(found.samples)
    out = []
    for dct, sign, quality, where in zip(
        dcts, handedness(dcts), found.quality, found.anchors, strict=True
    ):
        px, py, qx, qy = (round(float(v), 2) for v in where)  # as stored
        if sign < 0:
            dct, (px, py, qx, qy) = dct * TURN, (qx, qy, px, py)
        out.append(
            AnchoredRegion(bits_to_hex(bits_from_dct16(dct)), int(quality), (px, py, qx, qy))
        )
    return tuple(out)

"""Crops and small turns: anchored regions looked up, placed, and checked.

A banked picture carries PDQ hashes of regions placed between pairs of points its own
content defines (:mod:`reclaim.signals.pdq_anchors`). The query's regions are found the
same way and looked up; a region that matches tells where the banked picture lies in the
query -- a similarity (scale, turn, shift) from the banked region's two anchors to the
query's. That placement is then refined with every anchor the two pictures share, and the
parts of the banked picture the query covers are hashed from the query's pixels, moved
into the banked picture's frame, and compared with the banked grid:

- the banked picture whole, when the query holds all of it (a copy turned with its
  corners filled): its PDQ must match;
- each grid cell the query holds: most must match.

A different picture that shares part of the banked one (the same room with another person
in it) is caught by the second: the cells where they differ are in view and disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from reclaim.matching.content import Box
from reclaim.signals.pdq import PDQ_MIN_QUALITY, pdq_from_luma
from reclaim.signals.pdq_anchors import (
    MAX_ANCHORS,
    TURN,
    WORK_SIDE,
    Samples,
    all_anchors,
    sample_regions,
    strongest,
    working_luma,
    working_shape,
)
from reclaim.signals.pdq_core import DCT_MATRIX
from reclaim.signals.pdq_grid import cell_bounds

QUERY_ANCHORS = MAX_ANCHORS
"""Anchors a query forms regions from at each size (the banked side keeps ``MAX_ANCHORS``)."""
QUERY_REGIONS = 240
QUERY_SCALES = (1.0, 0.9, 0.8, 0.7, 1.1)
"""Working sizes a query is analysed at, relative to ``WORK_SIDE``: the banked picture's
content at the banked size when the query is cropped to 70-100% of it (or, above 1,
turned with its corners filled)."""
VIEW_SCALES = (1.0,)
"""Working sizes a view of the query is analysed at (the picture found inside bars or app
chrome, :mod:`reclaim.matching.content`): it holds the banked picture at about its full
size, seen smaller in the whole query than the whole query's sizes reach (a photo in a
phone screenshot spans half its height)."""
RADIUS = 24
"""Distance within which a query's region finds a banked one. A true copy finds many of
its regions (a dozen or more, most within 16 bits), so a tighter radius than the bank's
threshold costs little recall and makes each lookup cheaper; the placement check, not
this radius, decides the match. Measured on the evaluation corpus: radius 31 -> 24 kept
crop and turn recall within a copy either way and took a query at 100,000 banked items
from 78 to 64 ms."""
MIN_REGIONS = 2
"""Region matches that agree on a placement for the ordinary acceptance rule: one region's
two anchors always fit it exactly, so one alone says nothing about the rest of the
picture, and its placement must show one agreeing cell more."""
AGREE_PIXELS = 3.0
"""Banked working pixels within which a placed anchor counts as the same point."""
MAX_SIDE = 1000
"""The banked frame is rebuilt from the query at most this large (as query grids are)."""
NEARLY = 64
"""Nearby placements are tried only when the banked frame or a cell came this close: a
placement a little off leaves cells 30-70 bits away, a different picture 100-130."""
COVERED = 0.97
"""Share of a cell's samples that must fall inside the query for the cell to count."""
UNSURE_HANDEDNESS = 0.1
"""A region whose handedness is under this share of its odd coefficients' magnitudes is
looked up both ways round."""


@dataclass(frozen=True, slots=True)
class Similarity:
    """x' = a x - b y + tx, y' = b x + a y + ty: scale, turn and shift."""

    a: float
    b: float
    tx: float
    ty: float

    @classmethod
    def fit(cls, src: npt.NDArray[np.float64], dst: npt.NDArray[np.float64]) -> Similarity:
        """The least-squares similarity taking points ``src`` (n x 2, n >= 2) to ``dst``."""
        ms, md = src.mean(axis=0), dst.mean(axis=0)
        s, d = src - ms, dst - md
        norm = float((s * s).sum())
        a = float((s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum()) / norm
        b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / norm
        return cls(a, b, float(md[0] - a * ms[0] + b * ms[1]), float(md[1] - b * ms[0] - a * ms[1]))

    def apply(self, points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = points[:, 0], points[:, 1]
        return np.stack([self.a * x - self.b * y + self.tx, self.b * x + self.a * y + self.ty], 1)

    @property
    def scale(self) -> float:
        return float(np.hypot(self.a, self.b))

    @property
    def degrees(self) -> float:
        return float(np.degrees(np.arctan2(self.b, self.a)))

    def matrix(self) -> npt.NDArray[np.float64]:
        return np.array([[self.a, -self.b, self.tx], [self.b, self.a, self.ty], [0, 0, 1.0]])


class QueryAnchoring:
    """A query's anchored regions, each the way round a banked one is stored (and both
    ways when its handedness is too close to zero to tell), and what is needed to check
    a placement: its anchors and its luma. Anchors and regions are in the query luma's
    pixels.

    The query is analysed at several working sizes (``QUERY_SCALES`` times the banked
    one): anchors are points where the picture's detail peaks at the sizes looked at, so
    they repeat only when the content is seen at the banked size. A copy cropped to 80%
    shows its content 1.25 times larger at the same working size; analysed at 80% of
    it, the same points come back, to a tenth of a pixel (93% of the banked anchors
    inside a crop come back at the nearest of these sizes, against 55% at the banked
    size alone). Each of the query's ``views`` (the picture found inside bars or app
    chrome) is analysed too, at ``VIEW_SCALES``: a photo in a phone screenshot is seen at
    about half the banked size in the whole query."""

    def __init__(self, luma: npt.NDArray[np.float32], views: Sequence[Box] = ()) -> None:
        width = luma.shape[1]
        codes, quality, pairs, frame, points = [], [], [], [], []
        parts: list[tuple[npt.NDArray[np.float32], tuple[float, ...], tuple[int, int]]]
        parts = [(luma, QUERY_SCALES, (0, 0))]
        parts += [
            (luma[box.top : box.bottom, box.left : box.right], VIEW_SCALES, (box.left, box.top))
            for box in views
        ]
        for part, scales, (left, top) in parts:
            for scale in scales:
                found, anchors, to_pixels = _analysed(part, scale)
                to_pixels[0, 2] += left
                to_pixels[1, 2] += top
                points.append(_moved(to_pixels, anchors[:, 1:3].astype(np.float64)))
                # The query need not be bit-exact: one matrix product for all regions.
                dcts = np.matmul(np.matmul(DCT_MATRIX, found.samples), DCT_MATRIX.T)
                where = found.anchors.astype(np.float64).reshape(-1, 2, 2)
                ends = np.stack(
                    [_moved(to_pixels, where[:, 0]), _moved(to_pixels, where[:, 1])], 1
                ).reshape(-1, 4)
                # The copy mirrored left-right: each region is the same one flipped top to
                # bottom, between the mirrored anchors.
                mirrored = ends.copy()
                mirrored[:, [0, 2]] = width - 1 - ends[:, [0, 2]]
                for number, (turned, at) in enumerate(((dcts, ends), (dcts * _ROWS, mirrored))):
                    found_codes, kept, found_pairs = _one_way_round(turned, at)
                    codes.append(found_codes)
                    quality.append(found.quality[kept])
                    pairs.append(found_pairs)
                    frame.append(np.full(len(kept), number, np.int8))
        self.codes = np.concatenate(codes)
        self.quality = np.concatenate(quality)
        self.pairs = np.concatenate(pairs)
        self.frame = np.concatenate(frame)
        """0: the query as given; 1: mirrored left-right (``frames[1]``)."""
        seen = np.concatenate(points)
        flipped = seen.copy()
        flipped[:, 0] = width - 1 - seen[:, 0]
        self.frames = (Frame(luma, seen, "original"), Frame(luma[:, ::-1], flipped, "flipy"))


def _analysed(
    luma: npt.NDArray[np.float32], scale: float
) -> tuple[Samples, npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """A picture's regions at ``scale`` times the banked working size, the anchors they
    were formed from, and the matrix from working pixels to the picture's pixels."""
    work = working_luma(luma, round(WORK_SIDE * scale))
    every = all_anchors(work)
    anchors = strongest(every, QUERY_ANCHORS)
    found = sample_regions(work, anchors, QUERY_REGIONS)
    fill = filled_corners(work)
    if fill is not None:  # also the regions of anchors a fill did not make
        inside = strongest(every, QUERY_ANCHORS, fill)
        more = sample_regions(work, inside, QUERY_REGIONS)
        known = {tuple(a) for a in anchors[:, 1:3].tolist()}
        new = [not ({(px, py), (qx, qy)} <= known) for px, py, qx, qy in more.anchors.tolist()]
        found = Samples(
            np.concatenate([found.samples, more.samples[new]]),
            np.concatenate([found.quality, more.quality[new]]),
            np.concatenate([found.anchors, more.anchors[new]]),
        )
        anchors = np.concatenate([anchors, inside])
    return found, anchors, _work_to_pixels(luma.shape, work.shape)


@dataclass(frozen=True, slots=True)
class Frame:
    """The query as given or mirrored: its luma and its anchors (luma pixels)."""

    luma: npt.NDArray[np.float32]
    points: npt.NDArray[np.float64]
    variant: str


_ROWS = np.array([[(-1) ** (i + 1) for _ in range(16)] for i in range(16)], np.float32)
"""A region flipped top to bottom: PDQ's DCT row i is frequency i + 1, whose sign changes
with i + 1 when its samples run the other way."""


def _one_way_round(
    dcts: npt.NDArray[np.float32], ends: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Codes of regions the way round a banked one is stored (both ways round when the
    handedness is too close to zero to tell), the region each came from, and anchors."""
    odd = (TURN < 0)[None]
    sign = (dcts * odd).sum(axis=(1, 2))
    spread = np.abs(dcts * odd).sum(axis=(1, 2))
    flip = sign < 0
    unsure = np.flatnonzero(np.abs(sign) < UNSURE_HANDEDNESS * spread)
    turned = dcts * TURN
    swapped = ends[:, [2, 3, 0, 1]]
    first = np.where(flip[:, None, None], turned, dcts)
    second = np.where(flip[:, None, None], dcts, turned)[unsure]
    flips = flip[:, None]
    pairs = np.concatenate([np.where(flips, swapped, ends), np.where(flips, ends, swapped)[unsure]])
    kept = np.concatenate([np.arange(len(dcts)), unsure])
    return _pack(np.concatenate([first, second])), kept, pairs


FILL_TOLERANCE = 3.0
"""Luma levels within which working pixels count as one fill colour."""
FILL_MARGIN = 12
"""Working pixels around a fill within which anchors are the fill's, not the picture's."""


def filled_corners(work: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_] | None:
    """Where a copy turned with its corners filled (black or white triangles) has fill,
    grown by ``FILL_MARGIN``: the fill's edges make strong anchors of their own, which
    would crowd the picture's out. None unless three corners or more are flat and of
    one colour."""
    mask = _flood_corners(work, FILL_TOLERANCE)
    if mask is None:
        return None
    return _grown(mask, FILL_MARGIN)


@numba.njit(cache=True, nogil=True)
def _flood_corners(work: npt.NDArray[np.float32], tolerance: float) -> npt.NDArray[np.bool_] | None:
    rows, cols = work.shape
    mask = np.zeros((rows, cols), np.bool_)
    if rows < 3 or cols < 3:
        return None
    corners = ((0, 0), (0, cols - 1), (rows - 1, 0), (rows - 1, cols - 1))
    alike = 0
    for y0, x0 in corners:  # a turned copy's four corners are filled with one colour
        if abs(work[y0, x0] - work[0, 0]) <= tolerance:
            alike += 1
    if alike < 3:
        return None
    stack = np.empty((rows * cols, 2), np.int64)
    flat = 0
    for y0, x0 in corners:
        colour = work[y0, x0]
        if abs(colour - work[0, 0]) > tolerance:
            continue
        dy = 1 if y0 == 0 else -1
        dx = 1 if x0 == 0 else -1
        if not (
            abs(work[y0 + dy, x0] - colour) <= tolerance
            and abs(work[y0, x0 + dx] - colour) <= tolerance
            and abs(work[y0 + dy, x0 + dx] - colour) <= tolerance
            and abs(work[y0 + 2 * dy, x0 + 2 * dx] - colour) <= tolerance
        ):
            continue
        flat += 1
        if mask[y0, x0]:
            continue
        top = 0
        stack[top, 0], stack[top, 1] = y0, x0
        mask[y0, x0] = True
        top += 1
        while top > 0:
            top -= 1
            y, x = stack[top, 0], stack[top, 1]
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if (
                    0 <= ny < rows
                    and 0 <= nx < cols
                    and not mask[ny, nx]
                    and abs(work[ny, nx] - colour) <= tolerance
                ):
                    mask[ny, nx] = True
                    stack[top, 0], stack[top, 1] = ny, nx
                    top += 1
    if flat < 3:
        return None
    return mask


def _grown(mask: npt.NDArray[np.bool_], margin: int) -> npt.NDArray[np.bool_]:
    """``mask`` and every pixel within ``margin`` of it (a square neighbourhood)."""
    counts = np.cumsum(np.cumsum(np.pad(mask, 1).astype(np.int32), axis=0), axis=1)
    rows, cols = mask.shape
    y = np.arange(rows)
    x = np.arange(cols)
    top, bottom = np.clip(y - margin, 0, rows), np.clip(y + margin + 1, 0, rows)
    left, right = np.clip(x - margin, 0, cols), np.clip(x + margin + 1, 0, cols)
    total = (
        counts[bottom[:, None], right[None, :]]
        - counts[top[:, None], right[None, :]]
        - counts[bottom[:, None], left[None, :]]
        + counts[top[:, None], left[None, :]]
    )
    return total > 0


def _moved(
    matrix: npt.NDArray[np.float64], points: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def _pack(dcts: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    if not len(dcts):
        return np.empty((0, 32), np.uint8)
    flat = dcts.reshape(len(dcts), 256)
    bits = flat > np.median(flat, axis=1, keepdims=True)
    return np.packbits(bits[:, ::-1], axis=1)  # as bytes.fromhex of the reference hex


def _work_to_pixels(pixels: tuple[int, ...], work: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """Working pixel (x, y) -> picture pixel, pixel centres matched (3 x 3)."""
    sy, sx = pixels[0] / work[0], pixels[1] / work[1]
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])


def refine(
    placement: Similarity, banked: npt.NDArray[np.float64], query: npt.NDArray[np.float64]
) -> tuple[Similarity, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Refit ``placement`` to every banked anchor that lands within ``AGREE_PIXELS`` of a
    query anchor (twice, the second time from the first refit); with the anchors that
    agree (banked, and the query's they land on)."""
    none = np.empty((0, 2))
    if len(banked) < 2 or len(query) < 2:
        return placement, none, none
    agreeing = (none, none)
    for _ in range(2):
        placed = placement.apply(banked)
        gaps = np.linalg.norm(placed[:, None, :] - query[None, :, :], axis=2)
        nearest = gaps.argmin(axis=1)
        close = gaps[np.arange(len(banked)), nearest] <= AGREE_PIXELS * placement.scale
        if close.sum() < 2:
            break
        agreeing = (banked[close], query[nearest[close]])
        placement = Similarity.fit(*agreeing)
    return placement, *agreeing


def nearby(
    placement: Similarity, banked: npt.NDArray[np.float64], query: npt.NDArray[np.float64]
) -> list[Similarity]:
    """Placements to try after ``placement``, in order: anchors crowded into one part of
    a picture pin its turn down to a degree or so, which moves far cells off their place.
    The same anchors fitted without a turn (most copies are not turned), then turns of
    0.6 and 1.2 degrees either way about the anchors' centre."""
    out = []
    if len(banked) >= 2 and abs(placement.degrees) < 2.0:
        mb, mq = banked.mean(axis=0), query.mean(axis=0)
        b, q = banked - mb, query - mq
        scale = float((b * q).sum() / (b * b).sum())
        out.append(
            Similarity(scale, 0.0, float(mq[0] - scale * mb[0]), float(mq[1] - scale * mb[1]))
        )
    centre = query.mean(axis=0) if len(query) else np.zeros(2)
    for degrees in (0.6, -0.6, 1.2, -1.2):
        turn = np.radians(degrees)
        cos, sin = np.cos(turn), np.sin(turn)
        a = cos * placement.a - sin * placement.b
        b = sin * placement.a + cos * placement.b
        shift = np.array([placement.tx, placement.ty]) - centre
        tx = cos * shift[0] - sin * shift[1] + centre[0]
        ty = sin * shift[0] + cos * shift[1] + centre[1]
        out.append(Similarity(float(a), float(b), float(tx), float(ty)))
    return out


@numba.njit(cache=True, nogil=True)
def _warp(
    src: npt.NDArray[np.float32], m: npt.NDArray[np.float64], rows: int, cols: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Sample ``src`` at ``m`` @ (x, y, 1) for every target pixel (bilinear, edges
    clamped), and which samples fell inside ``src``."""
    height, width = src.shape
    out = np.empty((rows, cols), np.float32)
    inside = np.empty((rows, cols), np.bool_)
    for i in range(rows):
        for j in range(cols):
            x = m[0, 0] * j + m[0, 1] * i + m[0, 2]
            y = m[1, 0] * j + m[1, 1] * i + m[1, 2]
            inside[i, j] = -0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5
            x = min(max(x, 0.0), width - 1.0)
            y = min(max(y, 0.0), height - 1.0)
            x0 = int(x)
            y0 = int(y)
            x1 = min(x0 + 1, width - 1)
            y1 = min(y0 + 1, height - 1)
            fx = x - x0
            fy = y - y0
            top = (1 - fx) * src[y0, x0] + fx * src[y0, x1]
            bottom = (1 - fx) * src[y1, x0] + fx * src[y1, x1]
            out[i, j] = (1 - fy) * top + fy * bottom
    return out, inside


@dataclass(frozen=True, slots=True)
class Placed:
    """The banked picture's parts, hashed from the query where the query holds them."""

    whole: npt.NDArray[np.uint8] | None
    """PDQ of the whole banked frame, when the query holds all of it."""
    cells: list[tuple[int, npt.NDArray[np.uint8]]]
    """(cell number, PDQ) of each grid cell the query holds, with quality >= 50."""


def placed_parts(query: Frame, placement: Similarity, size: tuple[int, int], side: int) -> Placed:
    """Hash the banked picture's frame and cells (banked ``size``, width x height, reduced
    to at most ``side`` pixels) from the query's pixels, placed by ``placement`` (banked
    working pixels -> query luma pixels)."""
    width, height = size
    shrink = min(1.0, side / max(width, height))
    target = (max(1, round(width * shrink)), max(1, round(height * shrink)))
    # target pixel -> banked pixel -> banked working -> query pixel
    to_banked = np.array(
        [
            [width / target[0], 0, 0.5 * width / target[0] - 0.5],
            [0, height / target[1], 0.5 * height / target[1] - 0.5],
            [0, 0, 1.0],
        ]
    )
    work = working_shape(height, width)
    banked_work = np.linalg.inv(_work_to_pixels((height, width), work))
    chain = placement.matrix() @ banked_work @ to_banked
    source = np.ascontiguousarray(query.luma)
    ratio = placement.scale / (target[0] / work[1])
    step = min(int(ratio), min(source.shape) // 2)
    if step >= 2:  # the query is finer than the frame: average it down first
        source = _shrink(source, step)
        centre = (step - 1) / (2 * step)  # shrunk pixel X spans pixels [X * step, (X + 1) * step)
        chain = np.array([[1 / step, 0, -centre], [0, 1 / step, -centre], [0, 0, 1.0]]) @ chain
    frame, inside = _warp(source, chain[:2].copy(), target[1], target[0])
    whole = _pdq(frame) if inside.mean() >= COVERED else None
    cells = []
    for number, (top, bottom, left, right) in enumerate(cell_bounds(target[1], target[0])):
        if inside[top:bottom, left:right].mean() >= COVERED:
            code = _pdq(frame[top:bottom, left:right])
            if code is not None:
                cells.append((number, code))
    return Placed(whole, cells)


def _shrink(luma: npt.NDArray[np.float32], step: int) -> npt.NDArray[np.float32]:
    rows, cols = luma.shape[0] // step, luma.shape[1] // step
    cut = luma[: rows * step, : cols * step]
    return np.ascontiguousarray(cut.reshape(rows, step, cols, step).mean(axis=(1, 3)), np.float32)


def _pdq(luma: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8] | None:
    signal = pdq_from_luma(luma)
    if signal.quality < PDQ_MIN_QUALITY:
        return None
    return np.frombuffer(bytes.fromhex(signal.value), np.uint8)


@dataclass(frozen=True, slots=True)
class AnchoredEvidence:
    """What a placed candidate showed."""

    regions: int
    """Anchored regions that matched and agree on the placement."""
    inliers: int
    """Anchors of the banked picture that land on anchors of the query once placed."""
    whole: int | None
    """Distance of the banked picture's PDQ from the query's pixels in its frame, when
    the query holds the whole frame."""
    compared: int
    """Grid cells the query holds (both sides of quality >= 50)."""
    agreeing: int
    """Of those, cells within the threshold."""
    threshold: int
    scale: float
    degrees: float

    @property
    def accepted(self) -> bool:
        """The whole frame matches, or cells do and at least as many agree as not.

        On the evaluation corpus, no placed candidate between distinct pictures had a
        single agreeing cell or a matching frame (1,403 candidates, most of them the same
        room with another subject in it), while true crops and turns had all or all but
        one of the cells they hold agree. A placement that only one region supports
        (``MIN_REGIONS``) needs one agreeing cell more: a rotated copy of one flat shapes
        picture placed another by a single region, with one of two cells agreeing;
        requiring it costs crops 0.776 -> 0.765 and no other family anything."""
        strong = self.regions >= MIN_REGIONS
        least = 1 if strong else 2
        if self.whole is not None and self.whole <= self.threshold and self.agreeing >= least - 1:
            return True
        return self.agreeing >= least and 2 * self.agreeing >= self.compared


def best_placement(
    banked: npt.NDArray[np.float64], query: npt.NDArray[np.float64]
) -> tuple[Similarity, int]:
    """The placement most region matches agree with, from the banked and query anchors
    (px, py, qx, qy) of each match (rows of ``banked`` and ``query``): the one that puts
    the most matches' anchors within ``AGREE_PIXELS``."""
    src = banked.reshape(-1, 2, 2)
    dst = query.reshape(-1, 2, 2)
    # The similarity of each match, in closed form (two points each).
    s = src[:, 1] - src[:, 0]
    d = dst[:, 1] - dst[:, 0]
    norm = np.maximum((s * s).sum(axis=1), 1e-9)  # banked anchors are distinct points
    a = (s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]) / norm
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]) / norm
    tx = dst[:, 0, 0] - a * src[:, 0, 0] + b * src[:, 0, 1]
    ty = dst[:, 0, 1] - b * src[:, 0, 0] - a * src[:, 0, 1]
    # Every match's anchors placed by every similarity: (similarity, match, point).
    x = a[:, None, None] * src[None, :, :, 0] - b[:, None, None] * src[None, :, :, 1]
    y = b[:, None, None] * src[None, :, :, 0] + a[:, None, None] * src[None, :, :, 1]
    gap_x = np.abs(x + tx[:, None, None] - dst[None, :, :, 0]).max(axis=2)
    gap_y = np.abs(y + ty[:, None, None] - dst[None, :, :, 1]).max(axis=2)
    tolerance = AGREE_PIXELS * np.hypot(a, b)[:, None]
    agree = ((gap_x <= tolerance) & (gap_y <= tolerance)).sum(axis=1)
    best = int(agree.argmax())
    return Similarity(float(a[best]), float(b[best]), float(tx[best]), float(ty[best])), int(
        agree[best]
    )


def check_placement(
    query: Frame,
    banked_pairs: npt.NDArray[np.float64],
    query_pairs: npt.NDArray[np.float64],
    banked_points: npt.NDArray[np.float64],
    banked_whole: npt.NDArray[np.uint8],
    banked_cells: npt.NDArray[np.uint8],
    banked_usable: npt.NDArray[np.bool_],
    size: tuple[int, int],
    threshold: int,
) -> AnchoredEvidence:
    """Place the banked picture in the query by its matching regions and compare what the
    query holds of it (``MAX_SIDE`` pixels at most) with its PDQ and its grid; when that
    fails, try the :func:`nearby` placements and keep the first accepted (or the first)."""
    placement, regions = best_placement(banked_pairs, query_pairs)
    placement, banked_agreeing, query_agreeing = refine(placement, banked_points, query.points)
    first = AnchoredEvidence(regions, len(banked_agreeing), None, 0, 0, threshold, 0.0, 0.0)
    for tried in [placement, *nearby(placement, banked_agreeing, query_agreeing)]:
        if not _plausible(tried, query.luma.shape):
            break  # matches that agree on nothing sensible: nothing to rebuild
        parts = placed_parts(query, tried, size, MAX_SIDE)
        whole = None
        if parts.whole is not None:
            whole = int(np.unpackbits(parts.whole ^ banked_whole).sum())
        distances = [
            int(np.unpackbits(code ^ banked_cells[number]).sum())
            for number, code in parts.cells
            if banked_usable[number]
        ]
        evidence = AnchoredEvidence(
            regions=regions,
            inliers=len(banked_agreeing),
            whole=whole,
            compared=len(distances),
            agreeing=sum(1 for d in distances if d <= threshold),
            threshold=threshold,
            scale=tried.scale,
            degrees=tried.degrees,
        )
        if evidence.accepted:
            return evidence
        if tried is placement:
            first = evidence
        closest = min([*distances, *([] if whole is None else [whole])], default=256)
        if closest > NEARLY:
            break  # nothing it holds is near: a different picture, not a placement off
    return first


def _plausible(placement: Similarity, shape: tuple[int, ...]) -> bool:
    """A placement that puts the banked picture in the query at a size a copy can have:
    finite, at least 16 query pixels across, at most 16 times the query's size."""
    values = (placement.a, placement.b, placement.tx, placement.ty)
    if not all(np.isfinite(v) for v in values):
        return False
    across = placement.scale * WORK_SIDE
    return 16 <= across <= 16 * max(shape)

"""Glints in one frame: small, near-saturated spots much brighter than their surround,
measured for size, shape and colour.

The search is cheap and local on purpose: each cell of the frame offers its brightest
pixel; a ring around it must be much darker (which drops walls, lamps and screens without
filtering the whole frame); the survivors are measured in a small window, all at once, as
the region above half their height that touches their peak. A region that reaches the
window's edge is too big or too long to be a lens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.sweep.optical.options import GlintOptions

RGB = npt.NDArray[np.uint8]
Grey = npt.NDArray[np.uint8]
Ints = npt.NDArray[np.intp]
_RING = 16
COLOURED = 0.3
"""Chroma at and above which a glint is coloured (an LED), not the flash's white."""
CROWD_RADIUS = 0.08
"""Similar glints closer than this (fraction of the width) count as a crowd."""


@dataclass(frozen=True, slots=True)
class Glint:
    """One glint in one frame; positions and sizes in detection pixels."""

    x: float
    y: float
    diameter: float
    peak: float
    """Luma of its brightest pixel."""
    contrast: float
    """Peak over the median of its surround."""
    chroma: float
    """0 for white, 1 for a pure colour: (max - min) / max of its pixels, weighted."""
    elongation: float
    """Ratio of its long to its short axis (1 for a disc)."""
    colour: tuple[float, float, float]
    crowd: int = 0
    """Other white glints within :data:`CROWD_RADIUS` in the same frame."""


def brightness(rgb: RGB) -> Grey:
    """The brightest channel of each pixel: what saturates first on a sensor, whether the
    light is the flash's white or an LED's colour."""
    # Pairwise maxima of the channel planes: many times faster than a reduction over the
    # short last axis.
    grey: Grey = np.maximum(np.maximum(rgb[:, :, 0], rgb[:, :, 1]), rgb[:, :, 2])
    return grey


def find_glints(rgb: RGB, options: GlintOptions, grey: Grey | None = None) -> list[Glint]:
    """The glints of one frame, the most contrasted first (at most ``max_candidates``)."""
    grey = brightness(rgb) if grey is None else grey
    height, width = grey.shape
    reach = options.reach(width)
    if height <= 2 * reach + 2 or width <= 2 * reach + 2:
        return []
    ys, xs = _cell_peaks(grey, reach, options.min_brightness)
    ys, xs = _climb(grey, ys, xs, reach)
    ys, xs = _ring_test(grey, ys, xs, reach, options.min_contrast, 4 * options.max_candidates)
    if not len(ys):
        return []
    glints = _measure(rgb, grey, ys, xs, reach, options)
    return _with_crowds(_distinct(glints), width)


def _cell_peaks(grey: Grey, cell: int, floor: float) -> tuple[Ints, Ints]:
    """The brightest pixel of every ``cell`` x ``cell`` block that reaches ``floor``."""
    height, width = grey.shape
    rows, cols = height // cell, width // cell
    core = grey[: rows * cell, : cols * cell]
    ys, xs = np.nonzero(core >= floor)  # usually few: a comparison is cheaper than a max
    if not len(ys):
        return ys, xs
    keys = np.unique((ys // cell) * cols + xs // cell)
    row, col = keys // cols, keys % cols
    # Only the bright blocks are searched for where their maximum is (few, usually).
    inner = np.arange(cell)
    ys = row[:, None, None] * cell + inner[None, :, None]
    xs = col[:, None, None] * cell + inner[None, None, :]
    offset = grey[ys, xs].reshape(len(row), cell * cell).argmax(axis=1)
    return row * cell + offset // cell, col * cell + offset % cell


def _climb(grey: Grey, ys: Ints, xs: Ints, reach: int) -> tuple[Ints, Ints]:
    """Peaks away from the border, moved uphill to a local maximum (a block's brightest
    pixel may sit on the flank of a glint centred in the next block), then to the middle
    of their top (a saturated glint is flat on top, and its first pixel is at an edge)."""
    height, width = grey.shape
    inside = (ys >= reach) & (ys < height - reach) & (xs >= reach) & (xs < width - reach)
    ys, xs = ys[inside], xs[inside]
    step = np.arange(-1, 2)
    for _ in range(3):
        around = grey[ys[:, None, None] + step[None, :, None], xs[:, None, None] + step]
        best = around.reshape(len(ys), 9).argmax(axis=1)
        ys = np.clip(ys + best // 3 - 1, reach, height - reach - 1)
        xs = np.clip(xs + best % 3 - 1, reach, width - reach - 1)
    half = max(2, reach // 2)
    offsets = np.arange(-half, half + 1)
    near = grey[ys[:, None, None] + offsets[None, :, None], xs[:, None, None] + offsets]
    top = near >= grey[ys, xs][:, None, None]
    count = top.sum(axis=(1, 2))
    dy = np.rint((top * offsets[None, :, None]).sum(axis=(1, 2)) / count).astype(np.intp)
    dx = np.rint((top * offsets[None, None, :]).sum(axis=(1, 2)) / count).astype(np.intp)
    on_top = near[np.arange(len(ys)), dy + half, dx + half] >= grey[ys, xs]
    ys = np.where(on_top, np.clip(ys + dy, reach, height - reach - 1), ys)
    xs = np.where(on_top, np.clip(xs + dx, reach, width - reach - 1), xs)
    keys = np.unique(ys * width + xs)
    return keys // width, keys % width


def _ring_test(
    grey: Grey, ys: Ints, xs: Ints, reach: int, min_contrast: float, most: int
) -> tuple[Ints, Ints]:
    """Peaks clearly brighter than the median of a ring around them, the ``most``
    contrasted of them (a bound on the work in a frame full of glints)."""
    angles = np.linspace(0, 2 * np.pi, _RING, endpoint=False)
    dy = np.rint(reach * np.sin(angles)).astype(np.intp)
    dx = np.rint(reach * np.cos(angles)).astype(np.intp)
    ring = grey[ys[:, None] + dy, xs[:, None] + dx].astype(np.float32)
    contrast = grey[ys, xs] - np.median(ring, axis=1)
    keep = np.flatnonzero(contrast >= min_contrast)
    keep = keep[np.argsort(-contrast[keep], kind="stable")[:most]]
    return ys[keep], xs[keep]


def _measure(
    rgb: RGB, grey: Grey, ys: Ints, xs: Ints, reach: int, options: GlintOptions
) -> list[Glint]:
    oy, ox = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    rows, cols = ys[:, None, None] + oy, xs[:, None, None] + ox
    patch = grey[rows, cols].astype(np.float32)
    edge = np.concatenate(
        [patch[:, 0, :], patch[:, -1, :], patch[:, 1:-1, 0], patch[:, 1:-1, -1]], axis=1
    )
    background = np.median(edge, axis=1)
    peak = patch[:, reach, reach]
    region = _region(patch >= (background + 0.5 * (peak - background))[:, None, None], reach)
    touches = (
        region[:, 0, :].any(1)
        | region[:, -1, :].any(1)
        | region[:, :, 0].any(1)
        | region[:, :, -1].any(1)
    )
    area = region.sum(axis=(1, 2))
    diameter = 2.0 * np.sqrt(area / np.pi)
    keep = (
        ~touches
        & (diameter <= options.largest(grey.shape[1]))
        & (peak - background >= options.min_contrast)
    )
    if not keep.any():
        return []
    idx = np.flatnonzero(keep)
    region, patch, background = region[idx], patch[idx], background[idx]
    weight = np.clip(patch - background[:, None, None], 0, None) * region
    total = weight.sum(axis=(1, 2)) + 1e-6
    cy = (weight * oy).sum(axis=(1, 2)) / total
    cx = (weight * ox).sum(axis=(1, 2)) / total
    elongation = _elongation(weight, oy, ox)
    chroma, colour = _colour(rgb[rows[idx], cols[idx]], patch, region, background)
    order = np.argsort(-(peak[idx] - background))[: options.max_candidates]
    return [
        Glint(
            x=float(xs[idx[i]] + cx[i]),
            y=float(ys[idx[i]] + cy[i]),
            diameter=float(diameter[idx[i]]),
            peak=float(peak[idx[i]]),
            contrast=float(peak[idx[i]] - background[i]),
            chroma=float(chroma[i]),
            elongation=float(elongation[i]),
            colour=(float(colour[i, 0]), float(colour[i, 1]), float(colour[i, 2])),
        )
        for i in order
    ]


def _region(above: npt.NDArray[np.bool_], reach: int) -> npt.NDArray[np.bool_]:
    """The part of ``above`` 4-connected to each window's centre (grown from it)."""
    region = np.zeros_like(above)
    region[:, reach, reach] = True
    for _ in range(2 * reach):
        grown = _grow(region) & above
        if np.array_equal(grown, region):
            break
        region = grown
    return region


def _grow(region: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Each window's ``region`` and its 4-connected neighbours."""
    grown = region.copy()
    grown[:, 1:] |= region[:, :-1]
    grown[:, :-1] |= region[:, 1:]
    grown[:, :, 1:] |= region[:, :, :-1]
    grown[:, :, :-1] |= region[:, :, 1:]
    return grown


def _elongation(
    weight: npt.NDArray[np.float32], oy: npt.NDArray[np.int_], ox: npt.NDArray[np.int_]
) -> npt.NDArray[np.float64]:
    """sqrt of the ratio of the brightness-weighted second moments along the glint's main
    axes; each pixel counts as a unit square, so a single pixel is round."""
    total = weight.sum(axis=(1, 2)).astype(np.float64) + 1e-9
    my = (weight * oy).sum(axis=(1, 2)) / total
    mx = (weight * ox).sum(axis=(1, 2)) / total
    syy = (weight * oy**2).sum(axis=(1, 2)) / total - my**2 + 1 / 12
    sxx = (weight * ox**2).sum(axis=(1, 2)) / total - mx**2 + 1 / 12
    sxy = (weight * oy * ox).sum(axis=(1, 2)) / total - my * mx
    mean, spread = (sxx + syy) / 2, np.sqrt(((sxx - syy) / 2) ** 2 + sxy**2)
    ratio: npt.NDArray[np.float64] = np.sqrt((mean + spread) / np.maximum(mean - spread, 1e-3))
    return ratio


def _colour(
    pixels: RGB,
    patch: npt.NDArray[np.float32],
    region: npt.NDArray[np.bool_],
    background: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Chroma and mean colour of each glint and the pixel ring just around it (a bright
    LED clips to white in its core but not in its glow), weighted by brightness."""
    weight = np.clip(patch - background[:, None, None], 0, None) * _grow(region)
    values = pixels.astype(np.float32)
    red, green, blue = values[..., 0], values[..., 1], values[..., 2]
    # Pairwise, as in brightness(): a reduction over the short last axis is many times slower.
    high = np.maximum(np.maximum(red, green), blue)
    low = np.minimum(np.minimum(red, green), blue)
    chroma = (high - low) / np.maximum(high, 1.0)
    total = weight.sum(axis=(1, 2)) + 1e-6
    mean_chroma = (weight * chroma).sum(axis=(1, 2)) / total
    colour = (weight[:, :, :, None] * values).sum(axis=(1, 2)) / total[:, None]
    return mean_chroma.astype(np.float64), colour.astype(np.float64)


def _distinct(glints: list[Glint]) -> list[Glint]:
    """One glint per spot: peaks of the same glint found from two blocks are merged."""
    kept: list[Glint] = []
    for glint in glints:  # most contrasted first
        if all(
            (glint.x - k.x) ** 2 + (glint.y - k.y) ** 2
            > (max(glint.diameter, k.diameter) / 2 + 1) ** 2
            for k in kept
        ):
            kept.append(glint)
    return kept


def _with_crowds(glints: list[Glint], width: int) -> list[Glint]:
    white = [g for g in glints if g.chroma < COLOURED]
    if len(white) < 2:
        return glints
    radius2 = (CROWD_RADIUS * width) ** 2
    out = []
    for glint in glints:
        crowd = sum(
            1
            for other in white
            if other is not glint and (other.x - glint.x) ** 2 + (other.y - glint.y) ** 2 < radius2
        )
        out.append(dataclasses.replace(glint, crowd=crowd))
    return out

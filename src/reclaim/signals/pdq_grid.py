"""PDQ of nine overlapping parts of a picture: the grid a banked item carries.

Whole-picture PDQ changes completely when a logo or a caption covers part of the frame,
and it cannot tell two pictures apart whose coarse layout is alike (tiles of one photo,
mirror images of each other in layout). Nine hashes of parts of the picture answer both:
a copy with an overlay still agrees on the parts the overlay missed, and a different
picture with a similar layout disagrees on most parts.

The grid is a documented protocol, because a survivor's browser computes it too: cell
``(a, b)`` for ``a, b`` in ``0, 1, 2`` covers rows ``[a * H // 4, a * H // 4 + H // 2)``
and columns ``[b * W // 4, b * W // 4 + W // 2)`` of the pixels as given (no resampling),
and its hash is the reference PDQ of that crop. Cells are listed row by row: top-left,
top, top-right, left, centre, right, bottom-left, bottom, bottom-right. The corner cells
are the quadrants; the others straddle them. Nine hashes are 288 bytes; like any PDQ they
keep a blurred 16x16 gist of their part at most, never the picture.

A banked picture's grid also carries its **anchored regions**
(:mod:`reclaim.signals.pdq_anchors`): hashes of parts placed by the picture's content,
which find crops and small turns that no fixed window can.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.signals.base import HashFormatError, parse_hex
from reclaim.signals.pdq_anchors import AnchoredRegion, regions_from_json, regions_to_json
from reclaim.signals.pdq_core import (
    MIN_HASHABLE_DIM,
    bits_from_dct16,
    bits_to_hex,
    dct16_from_luma,
    luma_of,
)

GRID_CELLS = (
    "top-left",
    "top",
    "top-right",
    "left",
    "centre",
    "right",
    "bottom-left",
    "bottom",
    "bottom-right",
)

Cells = tuple[tuple[str, int], ...]
"""The nine cells' (PDQ hex, quality), in ``GRID_CELLS`` order."""


@dataclass(frozen=True, slots=True)
class Grid:
    """The nine cell hashes of a picture, and the picture's size (width, height) when known.

    The size matters to whoever compares against the grid: PDQ filters a picture only
    lightly before reducing it to 64x64, so fine texture hashes differently at another
    size (a text page's cells move 30-60 bits between 640 and 512 pixels wide). A query
    is therefore resized to the banked picture's size before its grid is compared."""

    cells: Cells
    size: tuple[int, int] | None = None
    anchored: tuple[AnchoredRegion, ...] = ()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "cells": [{"value": value, "quality": quality} for value, quality in self.cells]
        }
        if self.size is not None:
            out["size"] = list(self.size)
        if self.anchored:
            out["anchored"] = regions_to_json(self.anchored)
        return out

    @classmethod
    def from_json(cls, data: object) -> Grid:
        """A grid received from outside, validated: ``{"cells": [nine {value, quality}],
        "size": [width, height], "anchored": [{value, quality, anchors}]}`` (size and
        anchored regions optional; anchored regions need the size)."""
        if not isinstance(data, Mapping):
            raise HashFormatError("grid must be an object with cells (and size)")
        cells = data.get("cells")
        if not isinstance(cells, list) or len(cells) != len(GRID_CELLS):
            raise HashFormatError(f"grid cells must be a list of {len(GRID_CELLS)} objects")
        out = []
        for cell in cells:
            if not isinstance(cell, Mapping):
                raise HashFormatError("each grid cell must be an object with value and quality")
            quality = cell.get("quality", 100)
            if not isinstance(quality, int) or isinstance(quality, bool) or not 0 <= quality <= 100:
                raise HashFormatError("a grid cell's quality must be an integer 0-100")
            out.append((parse_hex(cell.get("value"), bits=256, name="pdq"), quality))  # type: ignore[arg-type]
        size = data.get("size")
        anchored = regions_from_json(data.get("anchored", []))
        if size is None:
            if anchored:
                raise HashFormatError("a grid with anchored regions needs its size")
            return cls(tuple(out))
        if (
            not isinstance(size, list)
            or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
            or not all(1 <= v <= 1 << 20 for v in size)
        ):
            raise HashFormatError("grid size must be [width, height] in pixels")
        return cls(tuple(out), (size[0], size[1]), anchored)


_TURNS = {  # the pixels of each dihedral variant (as DIHEDRAL_NAMES names them)
    "original": lambda a: a,
    "rot90": lambda a: np.rot90(a, 1),
    "rot180": lambda a: np.rot90(a, 2),
    "rot270": lambda a: np.rot90(a, 3),
    "flipx": lambda a: a[::-1],
    "flipy": lambda a: a[:, ::-1],
    "flipplus1": lambda a: a.swapaxes(0, 1),
    "flipminus1": lambda a: np.rot90(a, 2).swapaxes(0, 1),
}


def cell_bounds(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each cell, in ``GRID_CELLS`` order."""
    out = []
    for a in range(3):
        for b in range(3):
            top, left = a * height // 4, b * width // 4
            out.append((top, top + height // 2, left, left + width // 2))
    return out


def pdq_grid(rgb: npt.NDArray[np.uint8]) -> Grid:
    """The nine cells' PDQ hashes of ``rgb`` (H x W x 3, uint8). A picture too small to
    cut into hashable cells gets cells of quality 0, which never count."""
    return grid_of_luma(luma_of(rgb))


def grid_of_luma(luma: npt.NDArray[np.float32]) -> Grid:
    """:func:`pdq_grid` from the picture's luma (:func:`luma_of`)."""
    height, width = luma.shape
    if min(height, width) // 2 < MIN_HASHABLE_DIM:
        return Grid(tuple(("0" * 64, 0) for _ in GRID_CELLS), (width, height))
    out = []
    for top, bottom, left, right in cell_bounds(height, width):
        dct, quality = dct16_from_luma(luma[top:bottom, left:right])
        out.append((bits_to_hex(bits_from_dct16(dct)), int(quality)))
    return Grid(tuple(out), (width, height))


def turned(rgb: npt.NDArray[np.uint8], variant: str) -> npt.NDArray[np.uint8]:
    """The pixels of ``rgb`` turned or mirrored as the dihedral ``variant`` names."""
    return np.ascontiguousarray(_TURNS[variant](rgb))

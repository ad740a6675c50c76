"""How grid evidence turns a candidate into a match, or vetoes it.

A candidate comes either from the whole picture (one of its views or variants within the
bank's PDQ threshold) or from its grid cells (at least two cells, each within the
threshold of the banked item's cell in the same place: a copy with a logo or a caption
over part of it). Either way, when both sides carry a grid the nine cells are compared in
place and the candidate is **vetoed** when the median distance of the cells both sides can
hash (quality >= 50) is over ``VETO_MEDIAN``, at least ``VETO_MIN_CELLS`` were compared,
and fewer than ``OVERRULING_CELLS`` agree: the pictures agree in coarse layout only. (An
overlay spoils the cells it covers, so a copy with a large caption can have a high median;
its untouched cells still agree, exactly, where a different picture's almost never do.)
Items without a grid (hashes exchanged from elsewhere) match on the whole-picture hash
alone, as plain PDQ does.

Measured on the evaluation corpus (``bench/robustness.py``): true copies' cell medians are
4 bits (median), 28 (90th percentile), 55 (99th); pairs of distinct pictures whose
whole-picture hashes are within 31 bits (tiles of one retina photo, mirror images of each
other in layout) have cell medians of 72 (median) and at most two agreeing cells. Two
agreeing cells in place found no distinct pair at all; one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.index.codes import hex_to_codes
from reclaim.signals.pdq import PDQ_MIN_QUALITY
from reclaim.signals.pdq_grid import Grid

VETO_MEDIAN = 48
"""Cells' median distance over which a candidate is vetoed."""
VETO_MIN_CELLS = 2
"""Fewer comparable cells than this (small or mostly flat pictures) never veto."""
MIN_AGREEING_CELLS = 2
"""Cells that must agree, in place, for the grid alone to make a candidate."""
OVERRULING_CELLS = 3
"""Agreeing cells that keep a candidate whatever the median."""
UNCONFIRMED_VARIANT_DISTANCE = 24
"""A match through a turned or mirrored variant of the query (one of seven extra lookups,
so seven more chances of a chance match) farther than this needs a grid cell that agrees;
without one it is dropped. Measured on the evaluation corpus: the two false matches left
(tiles of one retina photo, mirror images of each other in layout) were at 30 bits with
no cell to compare."""
NONE_AGREE_MIN_CELLS = 3
"""A candidate none of whose cells agree, of at least this many compared, is vetoed."""


@dataclass(frozen=True, slots=True)
class PackedGrid:
    """A grid as arrays: codes (9 x 32 bytes) and qualities (9)."""

    codes: npt.NDArray[np.uint8]
    quality: npt.NDArray[np.int16]

    @classmethod
    def of(cls, grid: Grid) -> PackedGrid:
        quality = np.array([q for _, q in grid.cells], np.int16)
        return cls(hex_to_codes([value for value, _ in grid.cells]), quality)

    def usable(self) -> npt.NDArray[np.bool_]:
        return self.quality >= PDQ_MIN_QUALITY


@dataclass(frozen=True, slots=True)
class GridEvidence:
    compared: int
    """Cells both sides could hash."""
    agreeing: int
    """Of those, cells within the threshold."""
    median: float
    """Median distance of the compared cells (0 when none)."""

    @property
    def vetoes(self) -> bool:
        if self.agreeing == 0 and self.compared >= NONE_AGREE_MIN_CELLS:
            return True
        return (
            self.compared >= VETO_MIN_CELLS
            and self.median > VETO_MEDIAN
            and self.agreeing < OVERRULING_CELLS
        )


def compare_grids(query: PackedGrid, banked: PackedGrid, threshold: int) -> GridEvidence:
    """Compare two grids cell by cell, in place."""
    usable = query.usable() & banked.usable()
    if not usable.any():
        return GridEvidence(0, 0, 0.0)
    distances = np.unpackbits(query.codes[usable] ^ banked.codes[usable], axis=1).sum(axis=1)
    return GridEvidence(
        compared=int(usable.sum()),
        agreeing=int((distances <= threshold).sum()),
        median=float(np.median(distances)),
    )

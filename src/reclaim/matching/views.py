"""What a query looks up: the picture's PDQ, its 8 rotations and mirrors, its regions,
and its grid.

The query side holds the media (the monitor, ``/v1/match/file``, ``reclaim match``), so it
may do more work than a survivor's browser did when she registered: every view here is
looked up against the same banked hashes (the whole picture's and its grid's), and the
grid of whichever view and variant a candidate came through is hashed on demand, at the
banked picture's size, to verify it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from reclaim.matching.anchored import QueryAnchoring
from reclaim.matching.content import Box, aspect_boxes, content_box, picture_boxes, probe
from reclaim.signals.pdq import PDQ_MIN_QUALITY, PdqSignal, pdq_from_luma, pdq_from_rgb
from reclaim.signals.pdq_core import luma_of
from reclaim.signals.pdq_grid import Grid, grid_of_luma, pdq_grid, turned

_SMALL_SIDE = 512
"""A query smaller than this (longest side) also looks up its hash blown up to
``_UPSCALED_SIDE``: PDQ filters a picture only lightly before reducing it to 64x64, so a
small copy aliases differently from the full-size picture that was banked; blown up, it
is filtered alike (copies scaled to 0.2-0.5 were found 79% of the time as given, 97%
blown up to 750 pixels, bilinear, in 7 ms; 1000 pixels bicubic found no more, in 14 ms)."""
_UPSCALED_SIDE = 750
_LARGE_SIDE = 1000
"""A larger query's variants, regions and grids come from a copy reduced to this size:
the extra passes over a full-size photo cost more than decoding it, for a few bits."""


class QueryViews:
    """The pixels of a query's views, and their grids hashed on demand: a grid is needed
    only for the view, variant and banked size a candidate came through. Also the
    query's anchored regions (:mod:`reclaim.matching.anchored`), found on first use."""

    def __init__(
        self,
        views: dict[str, npt.NDArray[np.uint8]],
        whole: Grid,
        luma: npt.NDArray[np.float32],
        boxes: Sequence[Box] = (),
    ) -> None:
        self._views = views
        self._grids: dict[tuple[str, str, tuple[int, int] | None], Grid] = {
            ("whole", "original", None): whole
        }
        self._luma = luma
        self._boxes = tuple(boxes)
        self._anchoring: QueryAnchoring | None = None

    def __getstate__(self) -> dict[str, Any]:
        """What a pickle keeps (between processes, or from the hash to the match stage):
        the views and the whole grid; the luma is made again from the whole view, as
        :func:`query_signal` made it, and the rest is cache."""
        whole = self._grids[("whole", "original", None)]
        return {"views": self._views, "whole": whole, "boxes": self._boxes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        views = state["views"]
        self.__init__(views, state["whole"], luma_of(views["whole"]), state["boxes"])  # type: ignore[misc]

    @property
    def anchoring(self) -> QueryAnchoring:
        if self._anchoring is None:
            self._anchoring = QueryAnchoring(self._luma, self._boxes)
        return self._anchoring

    def grid(self, region: str, variant: str, size: tuple[int, int] | None) -> Grid | None:
        pixels = self._views.get(region)
        if pixels is None:
            return None
        key = (region, variant, size)
        if key not in self._grids:
            view = turned(pixels, variant)
            if size is not None:
                size = _at_most(size, _LARGE_SIDE)
                if (view.shape[1], view.shape[0]) != size:
                    view = _resize(view, size)
            self._grids[key] = pdq_grid(view)
        return self._grids[key]


def query_signal(rgb: npt.NDArray[np.uint8]) -> PdqSignal:
    """PDQ of ``rgb`` with its dihedral variants, the regions worth looking up too, and
    its grid (and the grid of any view and variant on demand).

    The hash itself is always of the pixels as given (an exact re-upload is distance 0);
    variants, regions and grids of a large picture come from a reduced copy. A small
    picture also looks up its hash blown up, as region ``resized``."""
    work = _reduced(rgb)
    luma = luma_of(work)
    signal = pdq_from_luma(luma, dihedral=True)
    plain = signal if work is rgb else pdq_from_rgb(rgb)
    variants = (plain.value, *signal.dihedral[1:])
    views = {"whole": work}
    regions: list[tuple[str, str]] = []
    height, width = rgb.shape[:2]
    if max(height, width) < _SMALL_SIDE:
        scale = _UPSCALED_SIDE / max(height, width)
        big = _resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))))
        blown_up = pdq_from_rgb(big)
        if blown_up.value != plain.value and blown_up.quality >= PDQ_MIN_QUALITY:
            regions.append(("resized", blown_up.value))
            views["resized"] = big
    turned: list[tuple[str, str, str]] = []
    boxes = []
    for name, box in _boxes(work):
        part = luma[box.top : box.bottom, box.left : box.right]
        view = pdq_from_luma(part)
        if view.quality >= PDQ_MIN_QUALITY:
            regions.append((name, view.value))
            views[name] = box.crop(work)
            boxes.append(box)
            # A mirrored copy inside bars or app chrome: the part mirrored left-right.
            turned.append((name, "flipy", pdq_from_luma(part[:, ::-1]).value))
    source = QueryViews(views, grid_of_luma(luma), luma, boxes)
    return PdqSignal(
        plain.value,
        plain.quality,
        variants,
        tuple(regions),
        source.grid("whole", "original", None),
        source,
        tuple(turned),
    )


def _boxes(rgb: npt.NDArray[np.uint8]) -> list[tuple[str, Box]]:
    """The picture inside bars (``content``) and inside app chrome or one-sided padding
    (``picture``), each box once."""
    probed = probe(rgb)
    if probed is None:  # too small to hold a picture inside anything
        return []
    bars = content_box(rgb, probed)
    named = [("content", bars)] if bars is not None else []
    named += [("picture", box) for box in picture_boxes(rgb, probed)]
    named += [("content", box) for box in aspect_boxes(rgb, probed)]
    out: list[tuple[str, Box]] = []
    for name, box in named:
        if not any(box.near(seen) for _, seen in out):
            taken = sum(1 for other, _ in out if other.split("-")[0] == name)
            out.append((f"{name}-{taken + 1}" if taken else name, box))
    return out


def _reduced(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    height, width = rgb.shape[:2]
    if max(height, width) <= _LARGE_SIDE:
        return rgb
    return _resize(rgb, _at_most((width, height), _LARGE_SIDE))


def _at_most(size: tuple[int, int], side: int) -> tuple[int, int]:
    scale = side / max(size)
    if scale >= 1.0:
        return size
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def _resize(rgb: npt.NDArray[np.uint8], size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """``rgb`` resized to ``size`` (width, height): area averaging down, bilinear up."""
    down = size[0] * size[1] < rgb.shape[0] * rgb.shape[1]
    method = Image.Resampling.BOX if down else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(rgb).resize(size, method))

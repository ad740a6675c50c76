"""What a query looks up: the picture's PDQ, its 8 rotations and mirrors, and regions.

The query side holds the media (the monitor, ``/v1/match/file``, ``reclaim match``), so it
may do more work than a survivor's browser did when she registered: every view here is
looked up against the same banked hashes, and nothing more is stored per banked item.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from reclaim.matching.content import Box, content_box, picture_boxes, probe
from reclaim.signals.pdq import PDQ_MIN_QUALITY, PdqSignal, pdq_from_rgb

_VIEW_SIDE = 1024
"""Views are hashed from a copy at most this large: PDQ reduces every picture to 64x64
anyway, and the extra passes over a full-size photo would cost more than decoding it."""


def query_signal(rgb: npt.NDArray[np.uint8]) -> PdqSignal:
    """PDQ of ``rgb`` with its dihedral variants and the regions worth looking up too.

    The hash itself is always of the pixels as given (an exact re-upload is distance 0);
    variants and regions of a picture larger than 1024 pixels come from a reduced copy,
    a few bits from hashing them at full size."""
    reduced = _reduced(rgb)
    signal = pdq_from_rgb(reduced, dihedral=True)
    plain = signal if reduced is rgb else pdq_from_rgb(rgb)
    variants = (plain.value, *signal.dihedral[1:])
    return PdqSignal(plain.value, plain.quality, variants, _regions(reduced))


def _regions(rgb: npt.NDArray[np.uint8]) -> tuple[tuple[str, str], ...]:
    """The picture inside bars (``content``) and inside app chrome or one-sided padding
    (``picture``), each hashed once."""
    probed = probe(rgb)
    if probed is None:  # too small to hold a picture inside anything
        return ()
    bars = content_box(rgb, probed)
    named = [("content", bars)] if bars is not None else []
    named += [("picture", box) for box in picture_boxes(rgb, probed)]
    regions: list[tuple[str, str]] = []
    boxes: list[Box] = []
    for name, box in named:
        if any(box.near(seen) for seen in boxes):
            continue
        boxes.append(box)
        inner = pdq_from_rgb(box.crop(rgb))
        if inner.quality >= PDQ_MIN_QUALITY:
            regions.append((name, inner.value))
    return tuple(regions)


def _reduced(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    height, width = rgb.shape[:2]
    scale = _VIEW_SIDE / max(height, width)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))

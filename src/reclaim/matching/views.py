"""What a query looks up: the picture's PDQ, its 8 rotations and mirrors, and regions.

The query side holds the media (the monitor, ``/v1/match/file``, ``reclaim match``), so it
may do more work than a survivor's browser did when she registered: every view here is
looked up against the same banked hashes, and nothing more is stored per banked item.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from reclaim.matching.content import content_box
from reclaim.signals.pdq import PDQ_MIN_QUALITY, PdqSignal, pdq_from_rgb


def query_signal(rgb: npt.NDArray[np.uint8]) -> PdqSignal:
    """PDQ of ``rgb`` with its dihedral variants and the regions worth looking up too."""
    signal = pdq_from_rgb(rgb, dihedral=True)
    regions: list[tuple[str, str]] = []
    box = content_box(rgb)
    if box is not None:
        inner = pdq_from_rgb(box.crop(rgb))
        if inner.quality >= PDQ_MIN_QUALITY:
            regions.append(("content", inner.value))
    return PdqSignal(signal.value, signal.quality, signal.dihedral, tuple(regions))

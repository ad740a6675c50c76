"""Features of long streams stay within bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from reclaim.sweep.wifi.features import refine_fps


def test_refining_the_frame_rate_of_a_long_stream_takes_bounded_memory() -> None:
    """Two hours of a 25 fps stream: the phases of all bursts against the whole grid at
    once took ~270 MB (regression); chunked, a few MB."""
    rng = np.random.default_rng(3)
    starts = np.arange(0.0, 7200.0, 1 / 25.013)
    starts += rng.normal(0, 1e-3, len(starts))
    weights = np.full(len(starts), 1500.0)
    tracemalloc.start()
    try:
        fps, _phase = refine_fps(starts, weights, 25.1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fps == pytest.approx(25.013, abs=0.001)
    assert peak < 40 * 2**20

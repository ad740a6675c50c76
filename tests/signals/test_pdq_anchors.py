"""Anchored regions: the protocol's steps, its determinism, and what is refused."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from skimage import data

from reclaim.signals import HashFormatError
from reclaim.signals.pdq import pdq_from_rgb
from reclaim.signals.pdq_anchors import (
    MAX_REGIONS,
    TURN,
    WORK_SIDE,
    AnchoredRegion,
    _blur,
    _dcts,
    _reduce,
    anchored_regions,
    find_anchors,
    handedness,
    regions_from_json,
    regions_to_json,
    sample_regions,
    working_luma,
)
from reclaim.signals.pdq_core import luma_of
from reclaim.signals.pdq_grid import Grid


def _hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def test_working_luma_is_box_means_at_256_on_the_longer_side() -> None:
    luma = np.arange(512 * 384, dtype=np.float32).reshape(384, 512) % 251
    work = working_luma(luma)
    assert work.shape == (192, WORK_SIDE)
    assert work[3, 5] == pytest.approx(luma[6:8, 10:12].mean())
    small = working_luma(np.ones((30, 20), np.float32))  # enlarged: nearest pixels
    assert small.shape == (WORK_SIDE, 171)
    assert np.all(small == 1.0)
    assert _reduce(luma, 5, 7)[1, 2] == pytest.approx(luma[76:153, 146:219].mean(), rel=1e-4)


def test_blur_is_three_clamped_box_passes_each_way() -> None:
    rng = np.random.default_rng(1)
    image = rng.random((37, 53)).astype(np.float32) * 255
    width = 7

    def box(line: np.ndarray) -> np.ndarray:
        padded = np.pad(line, width // 2, mode="edge")
        return np.convolve(padded, np.ones(width) / width, mode="valid")

    expected = image.astype(np.float64)
    for axis in (1, 0):
        for _ in range(3):
            expected = np.apply_along_axis(box, axis, expected)
    assert np.allclose(_blur(image, width), expected, atol=1e-3)


def test_regions_are_deterministic_and_stored_one_way_round() -> None:
    rgb = data.coffee()
    first = anchored_regions(luma_of(rgb))
    assert 10 <= len(first) <= MAX_REGIONS
    assert first == anchored_regions(luma_of(rgb))
    work = working_luma(luma_of(rgb))
    found = sample_regions(work, find_anchors(work))
    dcts = _dcts(found.samples)
    for region, dct, sign in zip(first, dcts, handedness(dcts), strict=True):
        stored = dct if sign >= 0 else dct * TURN
        assert handedness(stored[None])[0] >= 0
        assert region.anchors[0] >= 0
        assert region.anchors[3] <= WORK_SIDE


def test_a_picture_turned_half_round_stores_the_same_regions() -> None:
    """Handedness makes a region's stored form independent of which anchor came first:
    the picture turned by 180 degrees has the same anchors, taken the other way round."""
    rgb = np.ascontiguousarray(data.astronaut()[:384])  # 384 x 512: reduced by exactly 2
    regions = anchored_regions(luma_of(rgb))
    turned = anchored_regions(luma_of(np.ascontiguousarray(rgb[::-1, ::-1])))
    close = [min(_hamming(r.value, t.value) for t in turned) for r in regions]
    assert sum(d <= 8 for d in close) >= 0.8 * len(regions)


@pytest.mark.parametrize("shape", [(20, 20, 3), (300, 300, 3), (40, 900, 3)])
def test_flat_tiny_and_thin_pictures_have_no_regions(shape: tuple[int, int, int]) -> None:
    assert anchored_regions(luma_of(np.full(shape, 90, np.uint8))) == ()


def test_banked_grids_carry_their_regions_through_json() -> None:
    signal = pdq_from_rgb(data.chelsea(), grid=True)
    assert signal.grid is not None
    assert signal.grid.anchored
    stored = json.loads(json.dumps(signal.grid.to_json()))
    assert Grid.from_json(stored) == signal.grid


def _readable(grid: Grid) -> dict:
    """A grid's JSON with its regions as objects (the form an API caller may send)."""
    out = grid.to_json()
    out["anchored"] = [region.to_json() for region in grid.anchored]
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: g.pop("size"), "needs its size"),
        (lambda g: g["anchored"][0].update(anchors=[1, 2, 3]), "anchors"),
        (lambda g: g["anchored"][0].update(anchors=[1, 2, 3, WORK_SIDE + 1]), "anchors"),
        (lambda g: g["anchored"][0].update(anchors=[1, 2, 3, True]), "anchors"),
        (lambda g: g["anchored"][0].update(quality=101), "quality"),
        (lambda g: g["anchored"][0].update(anchors=[7, 7, 7.5, 7]), "distinct"),
        (lambda g: g["anchored"][0].update(value="zz"), "pdq"),
        (lambda g: g.update(anchored=g["anchored"] * 10), "at most"),
        (lambda g: g.update(anchored={"value": 1}), "list"),
        (lambda g: g.update(anchored="not base64!"), "base64"),
        (lambda g: g.update(anchored=base64.b64encode(b"x" * 40).decode()), "41-byte"),
        (
            lambda g: g.update(
                anchored=base64.b64encode(b"\x00" * 32 + b"d" + b"\xff" * 8).decode()
            ),
            "anchors",
        ),
        (lambda g: g.update(anchored=base64.b64encode(b"\x00" * 41 * 49).decode()), "at most"),
    ],
)
def test_malformed_regions_are_refused(change, message: str) -> None:
    signal = pdq_from_rgb(data.chelsea(), grid=True)
    assert signal.grid is not None
    stored = _readable(signal.grid)
    change(stored)
    with pytest.raises(HashFormatError, match=message):
        Grid.from_json(stored)


def test_regions_are_stored_packed_and_read_either_way() -> None:
    signal = pdq_from_rgb(data.chelsea(), grid=True)
    assert signal.grid is not None
    packed = signal.grid.to_json()["anchored"]
    assert isinstance(packed, str)
    assert len(base64.b64decode(packed)) == 41 * len(signal.grid.anchored)
    assert Grid.from_json(_readable(signal.grid)) == signal.grid
    region = AnchoredRegion("ab" * 32, 77, (1.5, 2.0, 100.25, 90.0))
    assert region.to_json() == {
        "value": "ab" * 32,
        "quality": 77,
        "anchors": [1.5, 2.0, 100.25, 90.0],
    }
    assert AnchoredRegion.from_json(region.to_json()) == region
    assert regions_from_json(regions_to_json([region, region])) == (region, region)

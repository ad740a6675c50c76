"""The grid protocol: nine documented crops, each the reference PDQ of its pixels."""

from __future__ import annotations

import json

import numpy as np
import pdqhash
import pytest

from reclaim.demo.media import render_scene
from reclaim.signals import HashFormatError, signal_from_json
from reclaim.signals.pdq import DIHEDRAL_NAMES, PdqSignal, pdq_from_rgb
from reclaim.signals.pdq_grid import GRID_CELLS, Grid, cell_bounds, pdq_grid, turned


def test_cells_are_the_quadrants_and_the_windows_between_them() -> None:
    cells = dict(zip(GRID_CELLS, cell_bounds(301, 400), strict=True))
    assert cells["top-left"] == (0, 150, 0, 200)
    assert cells["bottom-right"] == (150, 300, 200, 400)
    assert cells["centre"] == (75, 225, 100, 300)
    assert cells["right"] == (75, 225, 200, 400)


@pytest.mark.parametrize("size", [(300, 400), (257, 181), (64, 90)])
def test_each_cell_is_the_reference_pdq_of_its_crop(size: tuple[int, int]) -> None:
    """What a browser computing the same crops with the reference hasher stores."""
    rgb = render_scene(size[1], size[0], seed=sum(size))
    grid = pdq_grid(rgb)
    assert grid.size == (size[1], size[0])
    for (value, quality), (top, bottom, left, right) in zip(
        grid.cells, cell_bounds(*size), strict=True
    ):
        bits, expected_quality = pdqhash.compute(np.ascontiguousarray(rgb[top:bottom, left:right]))
        assert value == np.packbits(bits).tobytes().hex()
        assert quality == expected_quality


def test_a_picture_too_small_for_cells_has_only_unusable_cells() -> None:
    grid = pdq_grid(np.zeros((9, 40, 3), np.uint8))
    assert len(grid.cells) == 9
    assert all(quality == 0 for _, quality in grid.cells)


def test_turned_pixels_follow_the_variant_names() -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert turned(rgb, "flipy").tolist() == rgb[:, ::-1].tolist()
    assert turned(rgb, "flipx").tolist() == rgb[::-1].tolist()
    assert turned(rgb, "rot90").shape == (3, 2, 3)
    # a turned picture's plain hash is the variant the dihedral hashing names so
    scene = render_scene(200, 150, seed=3)
    variants = pdq_from_rgb(scene, dihedral=True).dihedral
    for name, variant in zip(DIHEDRAL_NAMES, variants, strict=True):
        assert pdq_from_rgb(turned(scene, name)).value == variant, name


def test_grid_travels_in_json_and_back() -> None:
    signal = pdq_from_rgb(render_scene(320, 240, seed=5), grid=True)
    data = json.loads(json.dumps(signal.to_json()))
    assert data["grid"]["size"] == [320, 240]
    again = signal_from_json(data)
    assert isinstance(again, PdqSignal)
    assert again.grid == signal.grid
    without_size = {"cells": data["grid"]["cells"]}
    assert Grid.from_json(without_size).size is None


CELL = {"value": "ab" * 32, "quality": 90}


@pytest.mark.parametrize(
    "grid",
    [
        [CELL] * 9,  # the old bare list
        {"cells": [CELL] * 8},
        {"cells": [CELL] * 10},
        {"cells": [CELL] * 8 + [{"value": "zz" * 32, "quality": 90}]},
        {"cells": [CELL] * 8 + [{"value": "ab" * 31, "quality": 90}]},
        {"cells": [CELL] * 8 + [{"value": "ab" * 32, "quality": 101}]},
        {"cells": [CELL] * 8 + [{"value": "ab" * 32, "quality": True}]},
        {"cells": [CELL] * 8 + ["ab" * 32]},
        {"cells": [CELL] * 9, "size": [0, 10]},
        {"cells": [CELL] * 9, "size": [10]},
        {"cells": [CELL] * 9, "size": ["10", "10"]},
        {"cells": "ab" * 32},
    ],
)
def test_malformed_grids_are_refused(grid: object) -> None:
    with pytest.raises(HashFormatError):
        signal_from_json({"type": "pdq", "value": "ab" * 32, "grid": grid})

"""The SVG plot helper (reclaim.sweep.plots): well-formed, inert, escaped, small."""

from __future__ import annotations

import math

import defusedxml.ElementTree as SafeET
import pytest

from reclaim.sweep.plots import Band, line_plot

HOSTILE = "<script>alert(1)</script>&\"'"
SVG = "{http://www.w3.org/2000/svg}"


def test_a_plot_is_well_formed_and_inert() -> None:
    data = line_plot(
        [0, 1, 2, 3],
        [10, 50, 20, math.nan],
        bands=[Band(0.5, 1.5, HOSTILE)],
        title=HOSTILE,
        x_label=HOSTILE,
        y_label=HOSTILE,
    )
    root = SafeET.fromstring(data)
    assert root.tag == f"{SVG}svg"
    for element in root.iter():
        assert element.tag.removeprefix(SVG) not in ("script", "foreignObject", "style", "a")
        assert not any(
            name in ("style", "href") or name.startswith("on") for name in element.attrib
        )
        assert not any("{" in name for name in element.attrib)  # no xlink:href either
    assert HOSTILE in "".join(root.itertext())  # shown as text, escaped in the file
    assert b"<script>" not in data
    bands = [e for e in root.iter(f"{SVG}rect") if e.get("fill-opacity")]
    assert len(bands) == 1
    (line,) = root.iter(f"{SVG}polyline")
    assert len(line.get("points", "").split()) == 3  # the NaN point is left out


def test_long_series_are_reduced_to_pixel_columns() -> None:
    xs = [i * 0.01 for i in range(200_000)]
    ys = [1000.0 if i == 123_456 else float(i % 7) for i in range(200_000)]
    data = line_plot(xs, ys, width=400)
    assert len(data) < 40_000
    (line,) = SafeET.fromstring(data).iter(f"{SVG}polyline")
    points = [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]
    assert len(points) <= 2 * 400
    assert min(y for _, y in points) < 40  # the one spike reaches the top of the plot


def test_empty_and_flat_series_still_plot() -> None:
    SafeET.fromstring(line_plot([], []))
    SafeET.fromstring(line_plot([5, 5], [0, 0]))
    with pytest.raises(ValueError, match="same length"):
        line_plot([1, 2], [1])


def test_an_x_range_fixes_the_axis() -> None:
    root = SafeET.fromstring(line_plot([2.5, 7.5], [1, 2], x_range=(0, 10)))
    labels = {e.text for e in root.iter(f"{SVG}text")}
    assert {"0", "10"} <= labels

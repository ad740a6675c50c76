"""The staff app's SVG charts: well-formed, inert whatever the labels say, proportional,
and sensible for every awkward input (nothing, one value, zeros, gaps, NaN, infinities,
negatives, numbers near the largest float)."""

from __future__ import annotations

import itertools
import math
import random
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from reclaim.web.ui.charts import (
    MUTED,
    PALETTE,
    TEXT,
    Series,
    Table,
    bar_chart,
    bar_table,
    clean,
    format_number,
    line_chart,
    line_table,
    nice_ticks,
)

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = [
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "' onmouseover='alert(1)",
    "&amp; &lt;b&gt; ]]> <![CDATA[x]]> <!-- -->",
    "</text></svg><img src=x onerror=alert(1)>",
]
DIRTY = "nul\x00 bell\x07 esc\x1b lone\ud800 \u202egnp.exe\u202c tab\tline\nend \ufffe"


def parse(markup: Markup) -> ET.Element:
    """The chart as XML (it must be well-formed), after checks that hold for every chart."""
    assert isinstance(markup, Markup)
    text = str(markup)
    text.encode("utf-8")  # no lone surrogate survives
    root = ET.fromstring(text)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    for element in root.iter():
        assert element.tag.startswith(NS)
        assert element.tag not in (f"{NS}script", f"{NS}style", f"{NS}foreignObject")
        assert element.tag not in (f"{NS}image", f"{NS}use", f"{NS}a")  # nothing fetched
        for name in element.attrib:
            assert name != "style"
            assert not name.lower().startswith("on")
            assert "href" not in name
    assert "style=" not in text
    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
    assert title is not None
    assert desc is not None
    assert root.get("aria-labelledby") == title.get("id")
    assert root.get("aria-describedby") == desc.get("id")
    return root


def texts(root: ET.Element, kind: str) -> list[str]:
    """The visible texts of one class (their own text, not their tooltips)."""
    found = []
    for element in root.iter(f"{NS}text"):
        if kind in (element.get("class") or "").split():
            tip = element.find(f"{NS}title")
            found.append((tip.tail if tip is not None else element.text) or "")
    return found


def bars_of(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{NS}rect") if "chart-bar" in (r.get("class") or "").split()]


def numbers(root: ET.Element) -> list[float]:
    """Every coordinate and size in the chart."""
    found = []
    for element in root.iter():
        for name in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"):
            if name in element.attrib:
                found.append(float(element.attrib[name]))
    return found


# -- bar charts ----------------------------------------------------------------------------


def test_bar_lengths_are_proportional_to_their_values() -> None:
    root = parse(bar_chart("Removals", [("a", 10), ("b", 5), ("c", 2.5), ("d", 0)]))
    rects = bars_of(root)
    widths = [float(r.get("width", "")) for r in rects]
    assert widths[0] > 100
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.02)
    assert widths[2] == pytest.approx(widths[0] / 4, abs=0.02)
    assert widths[3] == 0
    assert len({r.get("x") for r in rects}) == 1  # all from the same zero
    assert texts(root, "chart-label") == ["a", "b", "c", "d"]
    assert texts(root, "chart-value") == ["10", "5", "2.5", "0"]


def test_bars_carry_their_unit_and_the_title_names_the_chart() -> None:
    root = parse(bar_chart("Hours to removal", [("forum.example", 7.25)], unit=" h"))
    assert texts(root, "chart-value") == ["7.25 h"]
    assert root.findtext(f"{NS}title") == "Hours to removal"
    assert root.findtext(f"{NS}desc") == "forum.example: 7.25 h"
    given = bar_chart("t", [("a", 1)], description="요약: 한 곳")
    assert parse(given).findtext(f"{NS}desc") == "요약: 한 곳"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_labels_come_out_as_text(hostile: str) -> None:
    markup = bar_chart(hostile, [(hostile, 1), ("b", None)], unit=hostile, description=hostile)
    root = parse(markup)
    assert "<script" not in str(markup)
    assert "<img" not in str(markup)
    assert [e.tag for e in root.iter() if e.tag.endswith("svg")] == [f"{NS}svg"]
    assert root.findtext(f"{NS}title") == hostile
    assert root.findtext(f"{NS}desc") == hostile
    label = next(e for e in root.iter(f"{NS}text") if e.get("class") == "chart-label")
    full = label.findtext(f"{NS}title") or label.text
    assert full == hostile  # shortened on screen perhaps, whole in its tooltip


def test_characters_xml_refuses_and_bidi_controls_are_dropped() -> None:
    root = parse(bar_chart(DIRTY, [(DIRTY, 1)], unit=DIRTY))
    title = root.findtext(f"{NS}title")
    assert title == "nul bell esc lone gnp.exe tab line end"
    assert "\u202e" not in ET.tostring(root, encoding="unicode")
    assert clean("a\n\n b\t") == "a b"
    assert clean("x" * 300) == "x" * 199 + "…"


def test_long_and_korean_labels_are_shortened_with_the_whole_in_a_tooltip() -> None:
    long = "아주 긴 한국어 사이트 이름 " * 6
    root = parse(bar_chart("t", [(long, 3), ("short.example", 4)], width=400))
    shown = texts(root, "chart-label")
    assert shown[0].endswith("…")
    assert len(shown[0]) < len(long)
    assert shown[1] == "short.example"
    labels = [e for e in root.iter(f"{NS}text") if e.get("class") == "chart-label"]
    assert labels[0].findtext(f"{NS}title") == clean(long)
    assert labels[1].find(f"{NS}title") is None


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, -math.inf])
def test_a_missing_or_non_finite_value_is_a_dash_and_no_bar(missing: float | None) -> None:
    root = parse(bar_chart("t", [("a", 4), ("b", missing), ("c", 2)]))
    assert texts(root, "chart-value") == ["4", "—", "2"]
    assert len(bars_of(root)) == 2
    assert all(math.isfinite(n) for n in numbers(root))


def test_negative_values_extend_left_of_zero() -> None:
    root = parse(bar_chart("t", [("up", 10), ("down", -5)]))
    up, down = bars_of(root)
    zero = float(up.get("x", ""))
    assert float(down.get("x", "")) + float(down.get("width", "")) == pytest.approx(zero)
    assert float(down.get("width", "")) == pytest.approx(float(up.get("width", "")) / 2, abs=0.02)
    assert "chart-bar-negative" in (down.get("class") or "")
    assert texts(root, "chart-value") == ["10", "-5"]
    assert min(numbers(root)) >= 0  # the negative bar and its label stay inside


@pytest.mark.parametrize(
    "bars",
    [
        [],
        [("only", 3)],
        [("a", 0), ("b", 0)],
        [("a", None), ("b", math.nan)],
        [("a", 1e300), ("b", 1.7e308), ("c", -1.7e308), ("d", 1)],
        [("a", 5e-324), ("b", 1e-300)],
        [("a", 1e15 + 0.5), ("b", 123456789012)],
    ],
)
def test_awkward_inputs_render_within_the_picture(bars: list[tuple[str, float | None]]) -> None:
    root = parse(bar_chart("t", bars))
    width, height = float(root.get("width", "")), float(root.get("height", ""))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    for n in numbers(root):
        assert math.isfinite(n)
        assert -1 <= n <= max(width, height) + 1
    for rect in bars_of(root):
        assert float(rect.get("width", "")) >= 0
    if not bars:
        assert texts(root, "chart-empty") == ["—"]


def test_huge_values_are_drawn_at_the_limit_and_labelled_truly() -> None:
    root = parse(bar_chart("t", [("a", 1.7e308), ("b", 1e300)]))
    assert texts(root, "chart-value") == ["1.7e+308", "1e+300"]
    first, second = bars_of(root)
    assert first.get("width") == second.get("width")


def test_an_empty_chart_says_what_the_page_asks() -> None:
    root = parse(bar_chart("t", [], empty="자료 없음"))
    assert texts(root, "chart-empty") == ["자료 없음"]
    assert root.findtext(f"{NS}desc") == "자료 없음"


def test_the_same_chart_is_drawn_the_same_way_and_ids_can_be_given() -> None:
    assert bar_chart("t", [("a", 1)]) == bar_chart("t", [("a", 1)])
    assert parse(bar_chart("t", [("a", 1)])).get("id") is None
    one, two = parse(bar_chart("t", [("a", 1)])), parse(bar_chart("t", [("a", 2)]))
    assert one.get("aria-labelledby") != two.get("aria-labelledby")
    named = parse(bar_chart("t", [("a", 1)], chart_id="removals"))
    assert named.get("aria-labelledby") == "removals-title"
    for bad in ('x" onload="alert(1)', "1abc", "", "a b"):
        with pytest.raises(ValueError, match="id"):
            bar_chart("t", [("a", 1)], chart_id=bad)
    with pytest.raises(ValueError, match="width"):
        bar_chart("t", [("a", 1)], width=100)


# -- line charts ---------------------------------------------------------------------------

WEEKS = ["3/2", "3/9", "3/16", "3/23", "3/30"]


def paths(root: ET.Element) -> list[str]:
    return [p.get("d", "") for p in root.iter(f"{NS}path") if p.get("class") == "chart-line"]


def markers(root: ET.Element, index: int) -> list[ET.Element]:
    group = next(
        g
        for g in root.iter(f"{NS}g")
        if f"chart-series-{index}" in (g.get("class") or "").split()
        and g.find(f"{NS}text") is None  # not the legend's entry
    )
    return [e for e in group if e.get("class") == "chart-marker"]


def test_a_line_per_series_with_gaps_a_legend_and_a_marker_per_value() -> None:
    series = [
        Series("Sightings", [4, 8, None, 6, 2]),
        Series("Cases opened", [1, 0, 2, 1, 3]),
    ]
    root = parse(line_chart("Per week", series, x_labels=WEEKS))
    lines = paths(root)
    # Two legend samples, then the lines: the first broken in two by its gap.
    assert len(lines) == 4
    assert lines[2].count("M") == 2
    assert lines[3].count("M") == 1
    assert lines[3].count("L") == 4
    assert len(markers(root, 0)) == 4
    assert len(markers(root, 1)) == 5
    legend = [e for e in root.iter(f"{NS}text") if e.get("class") == "chart-label"]
    assert [e.text for e in legend] == ["Sightings", "Cases opened"]
    assert texts(root, "chart-tick")[-5:] == WEEKS
    assert root.findtext(f"{NS}desc") == (
        "Sightings: 3/2 4, 3/9 8, 3/16 —, 3/23 6, 3/30 2; "
        "Cases opened: 3/2 1, 3/9 0, 3/16 2, 3/23 1, 3/30 3"
    )


def test_series_differ_by_colour_dash_and_marker() -> None:
    series = [Series(f"s{i}", [i, i + 1]) for i in range(5)]
    root = parse(line_chart("t", series, x_labels=["a", "b"]))
    lines = [p for p in root.iter(f"{NS}path") if p.get("class") == "chart-line"][5:]
    assert [p.get("stroke") for p in lines] == list(PALETTE)
    assert len({p.get("stroke-dasharray") for p in lines}) == 5
    shapes = {(markers(root, i)[0].tag, markers(root, i)[0].get("d", "")[-4:]) for i in range(5)}
    assert len(shapes) == 5


def test_the_value_axis_has_nice_ticks_from_zero() -> None:
    root = parse(line_chart("t", [Series("s", [3, 37, 12])], x_labels=["a", "b", "c"]))
    ticks = [t for t in texts(root, "chart-tick") if t not in ("a", "b", "c")]
    assert ticks == ["0", "10", "20", "30", "40"]
    hours = parse(line_chart("t", [Series("s", [0.2, 1.3])], x_labels=["a", "b"], unit=" h"))
    # About five steps over 1.3: 0.26 each, rounded up to the next 1-2-5 step, 0.5.
    assert [t for t in texts(hours, "chart-tick") if t not in ("a", "b")] == [
        "0 h",
        "0.5 h",
        "1 h",
        "1.5 h",
    ]


def gridlines(root: ET.Element) -> list[tuple[float, float, float, float]]:
    return [
        tuple(float(line.get(k, "")) for k in ("x1", "x2", "y1", "y2"))  # type: ignore[misc]
        for line in root.iter(f"{NS}line")
    ]


def test_grid_lines_run_across_the_values_axis() -> None:
    bars = parse(bar_chart("t", [("a", 3), ("b", 10)]))
    assert all(x1 == x2 and y1 < y2 for x1, x2, y1, y2 in gridlines(bars))
    zero = [e for e in bars.iter(f"{NS}line") if e.get("class") == "chart-axis"]
    assert [e.get("x1") for e in zero] == [bars_of(bars)[0].get("x")]
    lines = parse(line_chart("t", [Series("s", [3, 37])], x_labels=["a", "b"]))
    found = gridlines(lines)
    assert all(y1 == y2 and x1 < x2 for x1, x2, y1, y2 in found)
    assert len(found) == 5  # 0, 10, 20, 30, 40
    heights = sorted(y for _, _, y, _ in found)
    steps = {round(b - a, 1) for a, b in itertools.pairwise(heights)}
    assert len(steps) == 1  # evenly spaced
    # The zero line is the lowest; a point's height is proportional to its value.
    circles = [e for e in lines.iter(f"{NS}circle") if e.find(f"{NS}title") is not None]
    ys = [float(c.get("cy", "")) for c in circles]
    assert (heights[-1] - ys[1]) == pytest.approx((heights[-1] - ys[0]) * 37 / 3, abs=0.2)


def test_counts_get_whole_ticks_only() -> None:
    root = parse(line_chart("t", [Series("s", [0, 1, 2])], x_labels=["a", "b", "c"]))
    assert [t for t in texts(root, "chart-tick") if t not in ("a", "b", "c")] == ["0", "1", "2"]


def test_many_weeks_label_only_every_few_so_they_do_not_overlap() -> None:
    weeks = [f"2026-W{i:02d}" for i in range(1, 53)]
    root = parse(line_chart("t", [Series("s", list(range(52)))], x_labels=weeks))
    shown = [t for t in texts(root, "chart-tick") if t.startswith("2026")]
    assert 3 <= len(shown) < 20
    assert shown[0] == weeks[0]
    first = next(e for e in root.iter(f"{NS}text") if e.text == weeks[0])
    assert float(first.get("x", "")) >= 8 * 12 * 0.6 / 2  # half its width: inside the picture


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_and_labels_in_line_charts_are_inert(hostile: str) -> None:
    series = [Series(hostile, [1, None, 3])]
    markup = line_chart(hostile, series, x_labels=[hostile, "b", "c"], unit=hostile)
    root = parse(markup)
    assert "<script" not in str(markup)
    assert root.findtext(f"{NS}title") == hostile
    legend = next(e for e in root.iter(f"{NS}text") if e.get("class") == "chart-label")
    assert (legend.findtext(f"{NS}title") or legend.text) == hostile
    tips = [e.findtext(f"{NS}title") for e in markers(root, 0)]
    assert tips[0] is not None
    assert tips[0].startswith(hostile)


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        ([], []),
        ([7], ["only"]),
        ([0, 0, 0], ["a", "b", "c"]),
        ([None, None], ["a", "b"]),
        ([math.nan, math.inf, -math.inf, 2], ["a", "b", "c", "d"]),
        ([-5, 3, -1], ["a", "b", "c"]),
        ([1.7e308, -1.7e308, 1e300], ["a", "b", "c"]),
    ],
)
def test_awkward_series_render_within_the_picture(
    values: list[float | None], labels: list[str]
) -> None:
    root = parse(line_chart("t", [Series("s", values)], x_labels=labels))
    width, height = float(root.get("width", "")), float(root.get("height", ""))
    for n in numbers(root):
        assert math.isfinite(n)
        assert -10 <= n <= max(width, height) + 10
    for d in paths(root):
        assert "nan" not in d
        assert "inf" not in d


def test_no_series_at_all_is_an_empty_chart() -> None:
    root = parse(line_chart("t", [], x_labels=["a"], empty="없음"))
    assert texts(root, "chart-empty") == ["없음"]


def test_values_and_labels_must_pair_up() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        line_chart("t", [Series("s", [1, 2])], x_labels=["a", "b", "c"])


# -- ticks, numbers, tables, colours -------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "count", "integer", "expected"),
    [
        (0, 10, 5, False, [0, 2, 4, 6, 8, 10]),
        (0, 37, 4, False, [0, 10, 20, 30, 40]),
        (0, 1, 5, False, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (0, 1, 5, True, [0, 1]),
        (-4, 12, 4, False, [-5, 0, 5, 10, 15]),
        (0, 0, 5, False, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (0, 0, 5, True, [0, 1]),
        (0, 730, 5, False, [0, 200, 400, 600, 800]),
        (0.3, 0.7, 4, False, [0.3, 0.4, 0.5, 0.6, 0.7]),
        (5, 5, 5, False, [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]),
    ],
)
def test_nice_ticks(
    low: float, high: float, count: int, integer: bool, expected: list[float]
) -> None:
    assert nice_ticks(low, high, count=count, integer=integer) == expected


def test_nice_ticks_are_even_1_2_5_steps_covering_the_range() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        scale = 10.0 ** rng.randint(-8, 12)
        low, high = sorted((rng.uniform(-1, 1) * scale, rng.uniform(-1, 1) * scale))
        count = rng.randint(2, 10)
        ticks = nice_ticks(low, high, count=count)
        assert ticks[0] <= low
        assert ticks[-1] >= high
        assert 2 <= len(ticks) <= 2 * count + 3
        step = ticks[1] - ticks[0]
        mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
        assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6
        for a, b in itertools.pairwise(ticks):
            assert b - a == pytest.approx(step, rel=1e-9)


def test_nice_ticks_at_the_edges_of_floating_point() -> None:
    for low, high in [(-1.7e308, 1.7e308), (0, 1e308), (0, 5e-324), (math.nan, 3), (0, math.inf)]:
        ticks = nice_ticks(low, high)
        assert all(math.isfinite(t) for t in ticks)
        assert len(ticks) >= 2


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1234567, "", "1,234,567"),
        (7.25, " h", "7.25 h"),
        (0.4444, "", "0.44"),
        (123.6, "", "124"),
        (3, "건", "3건"),
        (-4, "", "-4"),
        (-0.0, "", "0"),
        (1e300, "", "1e+300"),
        (None, " h", "—"),
        (math.nan, "", "—"),
        (math.inf, "", "—"),
    ],
)
def test_format_number(value: float | None, unit: str, text: str) -> None:
    assert format_number(value, unit) == text


def test_tables_hold_the_same_numbers_as_the_charts() -> None:
    bars = [("forum.example", 7.25), ("<b>x</b>", None)]
    assert bar_table("Hours", bars, unit=" h", header="Site") == Table(
        caption="Hours",
        header=("Site", "Hours"),
        rows=(("forum.example", "7.25 h"), ("<b>x</b>", "—")),
    )
    series = [Series("Sightings", [4, None]), Series("Cases", [1, 2])]
    assert line_table("Per week", series, x_labels=["3/2", "3/9"], header="Week") == Table(
        caption="Per week",
        header=("Week", "Sightings", "Cases"),
        rows=(("3/2", "4", "1"), ("3/9", "—", "2")),
    )


def _contrast(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_colours_have_enough_contrast_on_white() -> None:
    assert _contrast(TEXT) >= 7
    assert _contrast(MUTED) >= 4.5  # tick labels: WCAG AA for text
    for colour in PALETTE:
        assert _contrast(colour) >= 3  # lines and bars: WCAG 1.4.11 for graphics

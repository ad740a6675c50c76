"""Charts drawn on the server as inline SVG, for the staff app's statistics page.

The app's Content-Security-Policy allows no script, no ``style`` attribute and nothing
from elsewhere, so a chart is plain SVG markup: colours are presentation attributes
(``fill``, ``stroke``), which the stylesheet may override through the ``chart-*`` classes.
Every text in a chart comes from data -- site names read from web pages among it -- so each
is cleaned (characters XML refuses and bidirectional controls removed) and escaped.

A chart is one ``role="img"`` element named by its ``<title>`` and described by its
``<desc>`` (a plain listing of its numbers unless the page gives a summary); the page shows
the same numbers as a table (:func:`bar_table`, :func:`line_table`), which is what a screen
reader reads best. Colours are the Okabe-Ito palette's darker half (each at least 3:1
against white, text at least 7:1), and series also differ by dash and marker shape, so
nothing depends on telling colours apart.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 3")
MARKERS = ("circle", "square", "triangle", "diamond", "cross")
TEXT, MUTED, GRID = "#1b1b1b", "#595959", "#d9d9d9"
MISSING = "—"
FONT = 13
LIMIT = 1e300
"""Values beyond ±LIMIT are drawn at it (their labels keep the true number)."""
_REFUSED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff]"
)
_SHAPES = {  # a start relative to the point, then relative moves
    "triangle": ((0, -4), "l4 7h-8z"),
    "diamond": ((0, -4), "l4 4l-4 4l-4-4z"),
    "cross": ((-3, -3), "l6 6m-6 0l6-6"),
}
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart: its name and one value per x label (None: a gap)."""

    name: str
    values: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class Table:
    """A chart's numbers as text, for the page's ``<table>`` (not escaped: the template
    escapes them)."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def clean(text: str, limit: int = 200) -> str:
    """``text`` fit for a chart: characters XML refuses and bidirectional controls
    removed, white space runs made one space, at most ``limit`` characters."""
    text = " ".join(_REFUSED.sub("", str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_number(value: float | None, unit: str = "") -> str:
    """``value`` for people (``1,234``, ``7.25``, ``0.44``, ``1.2e+300``), ``unit`` after
    it as given (``" h"``, ``"건"``); a missing or non-finite value is ``—``."""
    if value is None or not math.isfinite(value):
        return MISSING
    size = abs(value)
    if size < 1e15 and value == int(value):
        text = f"{int(value):,}"
    elif size >= 1e15 or size < 1e-3:
        text = f"{value:.3g}"
    elif size >= 100:
        text = f"{value:,.0f}"
    elif size >= 1:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.2g}"
    return text + re.sub(r"\s", " ", _REFUSED.sub("", unit))[:20]  # its own spacing kept


def nice_ticks(low: float, high: float, *, count: int = 5, integer: bool = False) -> list[float]:
    """About ``count`` ticks at multiples of 1, 2 or 5 times a power of ten, the first at or
    below ``low`` and the last at or above ``high`` (``integer``: no step below 1)."""
    low, high = (max(-LIMIT, min(LIMIT, v)) if math.isfinite(v) else 0.0 for v in (low, high))
    low, high = min(low, high), max(low, high)
    if high - low < max(abs(low), abs(high), 1e-250) * 1e-12:
        pad = abs(low) * 0.1
        low, high = (low - pad, high + pad) if pad else (0.0, 1.0)
    raw = (high - low) / max(count, 1)
    exponent = math.floor(math.log10(raw))
    mantissa = next((m for m in (1, 2, 5) if m * 10.0**exponent >= raw), 10)
    if mantissa == 10:
        mantissa, exponent = 1, exponent + 1
    if integer and exponent < 0:
        mantissa, exponent = 1, 0
    step = mantissa * 10.0**exponent
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [float(f"{k * mantissa}e{exponent}") for k in range(first, last + 1)]


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float | None]],
    *,
    unit: str = "",
    width: int = 640,
    bar_height: int = 20,
    description: str | None = None,
    empty: str = MISSING,
    chart_id: str | None = None,
) -> Markup:
    """Horizontal bars from zero, one per (label, value), its value written after it; a
    missing or non-finite value shows ``—`` and no bar."""
    _check_size(width, 200, "width")
    _check_size(bar_height, 8, "bar_height")
    rows = [(clean(label), _finite(value)) for label, value in bars]
    numbers = [v for _, v in rows if v is not None]
    texts = [format_number(v, unit) for _, v in rows]
    ident = _ident(chart_id, "bars", title, bars, unit)
    listing = (f"{label}: {text}" for (label, _), text in zip(rows, texts, strict=True))
    summary = "; ".join(listing) if description is None else description
    if not rows:
        return _empty(ident, title, summary or empty, empty, width, 3 * FONT)
    value_width = max(_text_width(t) for t in texts) + 8
    label_width = min(max(_text_width(label) for label, _ in rows), width * 0.4) + 8
    ticks = nice_ticks(
        min([0.0, *numbers]),
        max([0.0, *numbers]),
        count=max(2, width // 120),
        integer=all(v == int(v) for v in numbers),
    )
    left = label_width + (value_width if ticks[0] < 0 else 0)
    scale = _Scale(ticks[0], ticks[-1], left, width - value_width)
    pitch = bar_height + 8
    height = 4 + pitch * len(rows) + FONT + 10
    axis_bottom = 4 + pitch * len(rows)
    parts = [_grid(ticks, scale, (4, axis_bottom), unit, vertical=True)]
    for i, ((label, value), text) in enumerate(zip(rows, texts, strict=True)):
        parts.append(_bar(label, value, text, scale, 8 + i * pitch, bar_height, label_width))
    return _svg(ident, "chart-bars", title, summary, width, height, parts)


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_labels: Sequence[str],
    unit: str = "",
    width: int = 640,
    height: int = 280,
    description: str | None = None,
    empty: str = MISSING,
    chart_id: str | None = None,
) -> Markup:
    """One line per series over ``x_labels`` (a None value leaves a gap), each point
    marked, a legend above, ticks on the value axis at 1-2-5 steps from zero."""
    _check_size(width, 200, "width")
    _check_size(height, 120, "height")
    for one in series:
        if len(one.values) != len(x_labels):
            raise ValueError(
                f"series {one.name!r} has {len(one.values)} values for {len(x_labels)} labels"
            )
    labels = [clean(label, 40) for label in x_labels]
    lines = [(clean(s.name), [_finite(v) for v in s.values]) for s in series]
    numbers = [v for _, values in lines for v in values if v is not None]
    ident = _ident(chart_id, "lines", title, [(s.name, list(s.values)) for s in series], x_labels)
    summary = _listing(lines, labels, unit) if description is None else description
    if not numbers:
        return _empty(ident, title, summary or empty, empty, width, height)
    legend, legend_height = _legend([name for name, _ in lines], width)
    ticks = nice_ticks(
        min([0.0, *numbers]),
        max([0.0, *numbers]),
        count=max(2, (height - legend_height) // 50),
        integer=all(v == int(v) for v in numbers),
    )
    tick_width = max(_text_width(format_number(t, unit), 12) for t in ticks) + 8
    top, bottom = legend_height + 10, height - FONT - 14
    y = _Scale(ticks[-1], ticks[0], top, bottom)
    left, right = tick_width + 8, width - 12
    xs = (
        [(left + right) / 2]
        if len(labels) == 1
        else [left + i * (right - left) / (len(labels) - 1) for i in range(len(labels))]
    )
    parts = [legend, _grid(ticks, y, (left, right), unit, vertical=False)]
    parts.append(_x_labels(labels, xs, bottom + 16, width))
    for index, (name, values) in enumerate(lines):
        parts.append(_series(index, name, values, xs, labels, y, unit))
    return _svg(ident, "chart-lines", title, summary, width, height, parts)


def _bar(
    label: str, value: float | None, text: str, scale: _Scale, top: float, size: int, room: float
) -> str:
    """One row of a bar chart: its label (shortened to ``room``), bar and value."""
    middle = top + size / 2
    shown = _shorten(label, room - 8)
    parts = [
        '<g class="chart-row">'
        f'<text class="chart-label" x="{_n(room - 8)}" y="{_n(middle)}" dy="0.35em" '
        f'text-anchor="end" font-size="{FONT}" fill="{TEXT}">'
        f"{_tip(label, shown)}{escape(shown)}</text>"
    ]
    if value is None:
        parts.append(_text("chart-value chart-missing", scale.at(0) + 4, middle, text))
    else:
        start, end = sorted((scale.at(0), scale.at(value)))
        negative = value < 0
        parts.append(
            f'<rect class="chart-bar{" chart-bar-negative" if negative else ""}" '
            f'x="{_n(start)}" y="{_n(top)}" width="{_n(end - start)}" height="{size}" '
            f'fill="{PALETTE[1] if negative else PALETTE[0]}"/>'
        )
        anchor, x = ("end", start - 4) if negative else ("start", end + 4)
        parts.append(_text("chart-value", x, middle, text, anchor=anchor))
    return "".join([*parts, "</g>"])


def bar_table(
    title: str, bars: Sequence[tuple[str, float | None]], *, unit: str = "", header: str = ""
) -> Table:
    """The numbers of a bar chart, one row per bar (``header`` names the label column)."""
    rows = tuple((clean(label, 500), format_number(_finite(v), unit)) for label, v in bars)
    return Table(clean(title, 500), (clean(header), clean(title)), rows)


def line_table(
    title: str,
    series: Sequence[Series],
    *,
    x_labels: Sequence[str],
    unit: str = "",
    header: str = "",
) -> Table:
    """The numbers of a line chart: one row per x label, one column per series."""
    names = tuple(clean(s.name) for s in series)
    rows = tuple(
        (clean(label, 40), *(format_number(_finite(s.values[i]), unit) for s in series))
        for i, label in enumerate(x_labels)
    )
    return Table(clean(title, 500), (clean(header), *names), rows)


def _listing(lines: list[tuple[str, list[float | None]]], labels: list[str], unit: str) -> str:
    """A line chart's numbers as one text: ``name: label value, ...; name: ...``."""
    return "; ".join(
        f"{name}: "
        + ", ".join(f"{x} {format_number(v, unit)}" for x, v in zip(labels, values, strict=True))
        for name, values in lines
    )


@dataclass(frozen=True, slots=True)
class _Scale:
    """Maps values in [low, high] onto [start, end] (pixels)."""

    low: float
    high: float
    start: float
    end: float

    def at(self, value: float) -> float:
        value = max(-LIMIT, min(LIMIT, value))
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _check_size(value: int, least: int, name: str) -> None:
    if value < least:
        raise ValueError(f"a chart's {name} must be at least {least}, not {value}")


def _ident(chart_id: str | None, kind: str, *data: object) -> str:
    if chart_id is None:
        return f"chart-{kind}-" + hashlib.sha256(repr(data).encode()).hexdigest()[:12]
    if not _ID.fullmatch(chart_id):
        raise ValueError(f"not a usable element id: {chart_id!r}")
    return chart_id


def _text_width(text: str, size: int = FONT) -> float:
    """A text's width in pixels, roughly: wide (CJK) characters one em, others 0.6."""
    return size * sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in text)


def _shorten(text: str, room: float) -> str:
    if _text_width(text) <= room:
        return text
    while text and _text_width(text + "…") > room:
        text = text[:-1]
    return text + "…"


def _n(value: float) -> str:
    return format(round(value, 2) + 0.0, "g")


def _tip(full: str, shown: str) -> str:
    return f"<title>{escape(full)}</title>" if full != shown else ""


def _text(
    kind: str, x: float, y: float, text: str, *, anchor: str = "start", size: int = FONT
) -> str:
    fill = TEXT if kind.startswith("chart-value") else MUTED
    return (
        f'<text class="{kind}" x="{_n(x)}" y="{_n(y)}" dy="0.35em" text-anchor="{anchor}" '
        f'font-size="{size}" fill="{fill}">{escape(text)}</text>'
    )


def _grid(
    ticks: list[float], scale: _Scale, span: tuple[float, float], unit: str, *, vertical: bool
) -> str:
    """A line and a label per tick: ``vertical`` lines over ``span`` (top, bottom),
    labelled below, or horizontal ones over it (left, right), labelled on the left."""
    parts = ['<g class="chart-grid">']
    for tick in ticks:
        at, label = scale.at(tick), format_number(tick, unit)
        kind, colour = ("chart-axis", MUTED) if tick == 0 else ("chart-gridline", GRID)
        ends = (at, at, *span) if vertical else (*span, at, at)
        x1, x2, y1, y2 = (_n(v) for v in ends)
        parts.append(
            f'<line class="{kind}" x1="{x1}" x2="{x2}" y1="{y1}" y2="{y2}" '
            f'stroke="{colour}" stroke-width="1" shape-rendering="crispEdges"/>'
        )
        if vertical:
            parts.append(_text("chart-tick", at, span[1] + 12, label, anchor="middle"))
        else:
            parts.append(_text("chart-tick", span[0] - 6, at, label, anchor="end", size=12))
    return "".join([*parts, "</g>"])


def _x_labels(labels: list[str], xs: list[float], y: float, width: int) -> str:
    """Every few x labels, as many as fit side by side, each kept inside the picture."""
    widest = max(_text_width(label, 12) for label in labels) + 10
    every = max(1, math.ceil(widest * len(labels) / (xs[-1] - xs[0] + widest)))
    parts = []
    for i, (x, label) in enumerate(zip(xs, labels, strict=True)):
        if i % every == 0:
            half = _text_width(label, 12) / 2
            at = min(max(x, half + 2), width - half - 2)
            parts.append(_text("chart-tick", at, y, label, anchor="middle", size=12))
    return "".join(parts)


def _legend(names: list[str], width: int) -> tuple[str, int]:
    parts, x, row = ['<g class="chart-legend">'], 0.0, 0
    for index, name in enumerate(names):
        shown = _shorten(name, width - 40)
        item = 30 + _text_width(shown) + 16
        if x and x + item > width:
            x, row = 0.0, row + 1
        y = 10 + row * 20
        parts.append(f'<g class="chart-series chart-series-{index % len(PALETTE)}">')
        parts.append(_stroke(index, f"M{_n(x + 2)} {y}H{_n(x + 26)}"))
        parts.append(_marker(index, x + 14, y))
        parts.append(
            f'<text class="chart-label" x="{_n(x + 32)}" y="{y}" dy="0.35em" '
            f'font-size="{FONT}" fill="{TEXT}">{_tip(name, shown)}{escape(shown)}</text></g>'
        )
        x += item
    return "".join([*parts, "</g>"]), 20 * (row + 1)


def _series(
    index: int,
    name: str,
    values: list[float | None],
    xs: list[float],
    labels: list[str],
    y: _Scale,
    unit: str,
) -> str:
    path, pen_down = [], False
    marks = []
    for x, label, value in zip(xs, labels, values, strict=True):
        if value is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{_n(x)} {_n(y.at(value))}")
        pen_down = True
        tip = f"{name} · {label}: {format_number(value, unit)}"
        marks.append(_marker(index, x, y.at(value), tip))
    line = _stroke(index, "".join(path)) if path else ""
    kind = f"chart-series chart-series-{index % len(PALETTE)}"
    return f'<g class="{kind}">{line}{"".join(marks)}</g>'


def _stroke(index: int, d: str) -> str:
    colour, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<path class="chart-line" d="{d}" fill="none" stroke="{colour}" stroke-width="2"'
        f'{dashes} stroke-linejoin="round"/>'
    )


def _marker(index: int, x: float, y: float, tip: str = "") -> str:
    colour, shape = PALETTE[index % len(PALETTE)], MARKERS[index % len(MARKERS)]
    title = f"<title>{escape(tip)}</title>" if tip else ""
    paint = f'class="chart-marker" fill="{colour}" stroke="{colour}"'
    if shape == "circle":
        return f'<circle {paint} cx="{_n(x)}" cy="{_n(y)}" r="3.5">{title}</circle>'
    if shape == "square":
        return f'<rect {paint} x="{_n(x - 3)}" y="{_n(y - 3)}" width="6" height="6">{title}</rect>'
    start, rest = _SHAPES[shape]
    d = f"M{_n(x + start[0])} {_n(y + start[1])}{rest}"
    return f'<path {paint} stroke-width="2" d="{d}">{title}</path>'


def _empty(ident: str, title: str, summary: str, empty: str, width: int, height: int) -> Markup:
    note = _text("chart-empty", width / 2, height / 2, clean(empty), anchor="middle")
    return _svg(ident, "chart-empty", title, summary, width, height, [note])


def _svg(
    ident: str, kind: str, title: str, summary: str, width: int, height: float, parts: list[str]
) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" role="img" '
        f'width="{width}" height="{_n(height)}" viewBox="0 0 {width} {_n(height)}" '
        f'aria-labelledby="{ident}-title" aria-describedby="{ident}-desc">'
        f'<title id="{ident}-title">{escape(clean(title, 500))}</title>'
        f'<desc id="{ident}-desc">{escape(clean(summary, 4000))}</desc>'
    )
    return Markup(head + "".join(parts) + "</svg>")  # noqa: S704 -- every text escaped above

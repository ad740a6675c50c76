"""Small SVG line plots for sweep reports: a time series with shaded bands (a transmitter's
rate over the capture, the stimulus intervals behind it).

The SVG is written by hand so a report needs no plotting library: presentation attributes
only (no ``style``, no script, no external reference), every text escaped, and long series
reduced to at most one min/max pair per pixel column so a two-hour capture stays a few
kilobytes and its spikes stay visible. The report embeds it as a ``data:`` image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

WIDTH = 640
HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 28, 36
_LINE = "#1f4e8c"
_BAND = "#f2b134"
_GRID = "#d9d9d9"
_TEXT = "#1b1b1b"


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded stretch of the x axis (e.g. a stimulus interval)."""

    start: float
    end: float
    label: str = ""


def line_plot(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    bands: Sequence[Band] = (),
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    x_range: tuple[float, float] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> bytes:
    """A well-formed, self-contained SVG document (UTF-8) plotting ``ys`` against ``xs``
    (over ``x_range`` if given, else over the data)."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys must have the same length")
    points = [
        (float(x), float(y))
        for x, y in zip(xs, ys, strict=True)
        if math.isfinite(x) and math.isfinite(y)
    ]
    x_lo, x_hi = _span(list(x_range) if x_range else [p[0] for p in points] or [0.0, 1.0])
    y_hi = _nice_top(max((p[1] for p in points), default=1.0))
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def sx(x: float) -> float:
        return _LEFT + (x - x_lo) / (x_hi - x_lo) * plot_w

    def sy(y: float) -> float:
        return _TOP + plot_h - max(min(y, y_hi), 0.0) / y_hi * plot_h

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' font-family='sans-serif' font-size='11'>",
        f"<title>{escape(title)}</title>",
        f"<rect x='0' y='0' width='{width}' height='{height}' fill='#ffffff'/>",
    ]
    for band in bands:
        a, b = max(band.start, x_lo), min(band.end, x_hi)
        if b > a:
            parts.append(
                f"<rect x='{sx(a):.1f}' y='{_TOP}' width='{sx(b) - sx(a):.1f}' "
                f"height='{plot_h}' fill='{_BAND}' fill-opacity='0.35'>"
                f"<title>{escape(band.label or 'interval')}</title></rect>"
            )
    parts += _axes(x_lo, x_hi, y_hi, sx, sy, plot_w, plot_h)
    reduced = _reduce([p for p in points if x_lo <= p[0] <= x_hi], plot_w, x_lo, x_hi)
    if reduced:
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in reduced)
        parts.append(f"<polyline points='{path}' fill='none' stroke='{_LINE}' stroke-width='1.3'/>")
    parts.append(f"<text x='{_LEFT}' y='16' fill='{_TEXT}' font-size='12'>{escape(title)}</text>")
    parts.append(
        f"<text x='{_LEFT + plot_w / 2:.1f}' y='{height - 6}' fill='{_TEXT}' "
        f"text-anchor='middle'>{escape(x_label)}</text>"
    )
    parts.append(
        f"<text x='12' y='{_TOP + plot_h / 2:.1f}' fill='{_TEXT}' text-anchor='middle' "
        f"transform={quoteattr(f'rotate(-90 12 {_TOP + plot_h / 2:.1f})')}>"
        f"{escape(y_label)}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts).encode("utf-8")


_Scale = Callable[[float], float]


def _axes(
    x_lo: float, x_hi: float, y_hi: float, sx: _Scale, sy: _Scale, plot_w: int, plot_h: int
) -> list[str]:
    out = [
        f"<rect x='{_LEFT}' y='{_TOP}' width='{plot_w}' height='{plot_h}' fill='none' "
        f"stroke='{_GRID}'/>"
    ]
    for y in _ticks(0.0, y_hi):
        out.append(
            f"<line x1='{_LEFT}' x2='{_LEFT + plot_w}' y1='{sy(y):.1f}' y2='{sy(y):.1f}' "
            f"stroke='{_GRID}'/>"
        )
        out.append(
            f"<text x='{_LEFT - 4}' y='{sy(y) + 4:.1f}' fill='{_TEXT}' "
            f"text-anchor='end'>{_label(y)}</text>"
        )
    for x in _ticks(x_lo, x_hi):
        out.append(
            f"<text x='{sx(x):.1f}' y='{_TOP + plot_h + 14}' fill='{_TEXT}' "
            f"text-anchor='middle'>{_label(x)}</text>"
        )
    return out


def _span(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _nice_top(value: float) -> float:
    """The smallest 1-2-5 step multiple at or above ``value`` (at least something)."""
    if not value > 0:
        return 1.0
    step = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return float(factor * step)
    return float(10 * step)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= factor * step:
            step *= factor
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.3g}"


def _reduce(
    points: list[tuple[float, float]], columns: int, x_lo: float, x_hi: float
) -> list[tuple[float, float]]:
    """At most a min and a max per pixel column, in x order."""
    if len(points) <= 2 * columns:
        return sorted(points)
    buckets: dict[int, list[tuple[float, float]]] = {}
    for x, y in points:
        column = min(int((x - x_lo) / (x_hi - x_lo) * columns), columns - 1)
        buckets.setdefault(column, []).append((x, y))
    out: list[tuple[float, float]] = []
    for column in sorted(buckets):
        group = buckets[column]
        low, high = min(group, key=lambda p: p[1]), max(group, key=lambda p: p[1])
        out += sorted({low, high})
    return out

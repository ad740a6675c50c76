"""The stimulus test: does a transmitter's outgoing rate follow what the inspector did?

A camera encodes what it sees: switching the light on and off, or waving in front of it,
makes its video frames larger for as long as it lasts (and, with an encoder that reacts
late, up to a couple of seconds after). No phone, laptop or speaker sends more because the
light in the room changed. The inspector logs when she did it as :class:`Interval`\\ s.

Times are **seconds from the first record of the capture**. Values at or above
:data:`EPOCH_FROM` (about September 2001 in Unix time) are taken as **absolute Unix epoch
seconds** instead -- a phone's stopwatch log -- and converted with the capture's first
timestamp; one timeline may not mix the two. :func:`load_stimulus` also reads ISO 8601
times with a time zone (absolute).

The test: the rate in 0.5 s bins, ranked (so key-frame spikes and bursts of someone walking
by weigh no more than their rank), correlated with the stimulus indicator shifted by each
lag in 0-2 s (point-biserial correlation on ranks); the best lag's ``|r|`` is compared with
the best of the same lags for :data:`SHUFFLES` timelines made of the same intervals placed
at random. Placing the intervals at random, rather than shifting the timeline, matters: an
inspector who toggles at a steady pace would otherwise line up with her own shifted copy.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from reclaim.sweep.wifi.errors import StimulusError

EPOCH_FROM = 1e9
BIN = 0.5
"""Seconds per rate bin."""
MAX_LAG = 2.0
"""Longest encoder reaction allowed for (seconds)."""
SHUFFLES = 199
MAX_FILE_BYTES = 1 << 20
MAX_INTERVALS = 10_000

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Interval:
    """A stretch of time when the inspector stimulated the room (see the module doc)."""

    start: float
    end: float
    label: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise StimulusError(f"interval times must be finite numbers: {self.start}, {self.end}")
        if self.end <= self.start:
            raise StimulusError(f"interval ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True, slots=True)
class StimulusResult:
    r: float
    """Rank point-biserial correlation at the best lag (positive: rate rises)."""
    p: float
    """Share of random timelines correlating at least as strongly (two-sided)."""
    lag: float
    ratio: float
    """Mean rate inside the (lagged) intervals over the mean rate outside."""
    inside: float
    """Share of the analysed time inside the intervals."""


def load_stimulus(path: Path) -> list[Interval]:
    """Intervals from a small CSV (``start,end[,label]`` with or without a header row) or
    JSON file (a list of ``{"start", "end", "label"}`` objects or ``[start, end]`` pairs).
    Times are seconds, or ISO 8601 with a time zone (absolute)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise StimulusError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise StimulusError(f"{path}: cannot be read ({exc})") from None
    stripped = text.lstrip()
    rows = _json_rows(path, stripped) if stripped[:1] in ("[", "{") else _csv_rows(text)
    if len(rows) > MAX_INTERVALS:
        raise StimulusError(f"{path}: more than {MAX_INTERVALS} intervals")
    out = []
    for number, (start, end, label) in enumerate(rows, 1):
        try:
            out.append(Interval(_seconds(start), _seconds(end), str(label)[:200]))
        except StimulusError as exc:
            raise StimulusError(f"{path}: interval {number}: {exc}") from None
    if not out:
        raise StimulusError(f"{path}: no intervals")
    return out


def _json_rows(path: Path, text: str) -> list[tuple[Any, Any, Any]]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise StimulusError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict):
        data = data.get("intervals", data.get("stimulus"))
    if not isinstance(data, list):
        raise StimulusError(f"{path}: expected a list of intervals")
    rows = []
    for item in data:
        if isinstance(item, dict) and "start" in item and "end" in item:
            rows.append((item["start"], item["end"], item.get("label", "")))
        elif isinstance(item, list) and len(item) in (2, 3):
            rows.append((item[0], item[1], item[2] if len(item) == 3 else ""))
        else:
            raise StimulusError(f"{path}: an interval must be {{start, end}} or [start, end]")
    return rows


def _csv_rows(text: str) -> list[tuple[Any, Any, Any]]:
    rows = []
    for row in csv.reader(io.StringIO(text)):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if cells[0].lower() in ("start", "begin", "from"):
            continue
        if len(cells) < 2:
            raise StimulusError(f"a CSV row needs start and end: {','.join(cells)[:80]}")
        rows.append((cells[0], cells[1], cells[2] if len(cells) > 2 else ""))
    return rows


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise StimulusError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise StimulusError(
                f"not a number of seconds or an ISO 8601 time: {value[:40]!r}"
            ) from None
        if moment.tzinfo is None:
            raise StimulusError(f"an ISO 8601 time needs a time zone: {value[:40]!r}")
        return moment.timestamp()
    raise StimulusError(f"not a time: {str(value)[:40]!r}")


def relative(stimulus: Sequence[Interval], capture_start: float) -> list[Interval]:
    """``stimulus`` in seconds from the capture's first record (see the module doc)."""
    absolute = [i.start >= EPOCH_FROM for i in stimulus]
    if any(absolute) and not all(absolute):
        raise StimulusError("the stimulus mixes absolute (epoch) and relative times; use one kind")
    if stimulus and all(absolute):
        return [Interval(i.start - capture_start, i.end - capture_start, i.label) for i in stimulus]
    return list(stimulus)


def indicator(stimulus: Sequence[Interval], bins: int) -> Floats:
    """1.0 for every bin whose centre lies in an interval, else 0.0."""
    out = np.zeros(bins)
    for i in stimulus:
        a, b = _bin_span(i.start, i.end, bins)
        out[a:b] = 1.0
    return out


def _bin_span(start: float, end: float, bins: int) -> tuple[int, int]:
    """The bins whose centres ``(j + 0.5) * BIN`` lie in [start, end)."""
    first = min(max(math.ceil(start / BIN - 0.5), 0), bins)
    stop = min(max(math.ceil(end / BIN - 0.5), 0), bins)
    return first, stop


def _lagged(base: Floats, lags: int) -> Floats:
    """``base`` (..., n) shifted later by 0..lags bins: shape (..., lags + 1, n)."""
    n = base.shape[-1]
    out = np.zeros((*base.shape[:-1], lags + 1, n))
    for k in range(lags + 1):
        out[..., k, k:] = base[..., : n - k]
    return out


class StimulusTest:
    """The test for one capture's timeline; :meth:`run` it on each transmitter's rate."""

    def __init__(self, stimulus: Sequence[Interval], bins: int, seed: int = 0) -> None:
        self.bins = bins
        self.lags = round(MAX_LAG / BIN)
        base = indicator(stimulus, bins)
        self.usable = 2 <= base.sum() <= bins - 2
        self.observed = _lagged(base, self.lags)
        self.null = _lagged(_shuffled(stimulus, bins, seed), self.lags).reshape(-1, bins)

    def run(self, rate: Floats) -> StimulusResult | None:
        """Correlate ``rate`` (bytes per :data:`BIN`, ``bins`` long) with the timeline;
        None when the timeline gives too little contrast (under two bins either side)."""
        if not self.usable or len(rate) != self.bins:
            return None
        ranks = _ranks(rate)
        rs = _corr(ranks, self.observed)
        best = int(np.argmax(np.abs(rs)))
        null_best = np.max(np.abs(_corr(ranks, self.null)).reshape(SHUFFLES, -1), axis=1)
        p = (1 + int(np.sum(null_best >= abs(rs[best]) - 1e-12))) / (1 + SHUFFLES)
        inside = self.observed[best] > 0
        outside_mean = float(rate[~inside].mean()) if (~inside).any() else 0.0
        ratio = float(rate[inside].mean()) / outside_mean if outside_mean > 0 else math.inf
        return StimulusResult(float(rs[best]), p, best * BIN, ratio, float(inside.mean()))


def _ranks(values: Floats) -> Floats:
    """Ranks, ties (many empty bins) sharing their mean rank as Spearman's rho does."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.asarray((below + (counts - 1) / 2)[inverse], dtype=np.float64)


def _corr(x: Floats, indicators: Floats) -> Floats:
    """Pearson correlation of ``x`` with each row of ``indicators``."""
    xc = x - x.mean()
    ic = indicators - indicators.mean(axis=1, keepdims=True)
    denominator = np.sqrt((xc @ xc) * np.einsum("ij,ij->i", ic, ic))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (ic @ xc) / denominator
    return np.asarray(np.nan_to_num(out), dtype=np.float64)


def _shuffled(stimulus: Sequence[Interval], bins: int, seed: int) -> Floats:
    """SHUFFLES timelines, shape (SHUFFLES, bins): the same interval lengths (as far as
    they fall inside the capture) in random order at random places, never overlapping."""
    rng = np.random.default_rng(seed)
    span = bins * BIN
    lengths = np.array([max(min(i.end, span) - max(i.start, 0.0), 0.0) for i in stimulus])
    lengths = lengths[lengths > 0]
    out = np.zeros((SHUFFLES, bins))
    if not len(lengths):
        return out
    free = max(span - lengths.sum(), 0.0)
    for s in range(SHUFFLES):
        gaps = rng.dirichlet(np.ones(len(lengths) + 1)) * free
        order = lengths[rng.permutation(len(lengths))]
        starts = np.cumsum(gaps[:-1]) + np.concatenate([[0.0], np.cumsum(order)[:-1]])
        for start, length in zip(starts, order, strict=True):
            a, b = _bin_span(start, start + length, bins)
            out[s, a:b] = 1.0
    return out

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

A capture holds many transmitters, all tested against one timeline; each alone would get
p <= 0.05 by chance one time in twenty. :meth:`StimulusTest.adjust` makes the p-values
family-wise (step-down max-T over the same random timelines), so that the chance that
*any* transmitter which ignores the stimulus reaches p <= a is at most a.
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
SHUFFLES = 999
"""Random timelines: p-values come in steps of 0.001."""
_NULL_CHUNK = 128
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
    """Family-wise p (two-sided): allows for the other transmitters tested against the same
    timeline (see :meth:`StimulusTest.adjust`)."""
    p_stream: float
    """This transmitter's own p: the share of random timelines it correlates with at least
    as strongly."""
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
    for a, b in _spans(stimulus, bins):
        out[a:b] = 1.0
    return out


def _bin_span(start: float, end: float, bins: int) -> tuple[int, int]:
    """The bins whose centres ``(j + 0.5) * BIN`` lie in [start, end)."""
    first = min(max(math.ceil(start / BIN - 0.5), 0), bins)
    stop = min(max(math.ceil(end / BIN - 0.5), 0), bins)
    return first, stop


def _spans(stimulus: Sequence[Interval], bins: int) -> list[tuple[int, int]]:
    """The bin spans of ``stimulus``, overlapping intervals merged, empty spans left out."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(_bin_span(i.start, i.end, bins) for i in stimulus):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


@dataclass(frozen=True, slots=True)
class Observation:
    """One rate against the timeline, before the p-value (see :meth:`StimulusTest.adjust`)."""

    r: float
    lag: float
    ratio: float
    inside: float
    null: Floats
    """The best ``|r|`` over the lags against each random timeline, shape (SHUFFLES,)."""

    @property
    def p_stream(self) -> float:
        """Share of random timelines this rate correlates with at least as strongly."""
        return _p(abs(self.r), self.null)

    def result(self, p: float) -> StimulusResult:
        """The result, with ``p`` the family-wise p-value (or :attr:`p_stream`)."""
        return StimulusResult(self.r, p, self.p_stream, self.lag, self.ratio, self.inside)


class StimulusTest:
    """The test for one capture's timeline: :meth:`observe` each transmitter's rate, then
    :meth:`adjust` the p-values for the number of transmitters tested.

    Timelines are kept as bin spans, and a correlation is computed from prefix sums of the
    ranks over them: memory and time grow with the number of intervals, not with the
    length of the capture (a 6-hour capture is 43,200 bins, and a dense indicator per
    random timeline and lag cost 700 MB before a single rate was looked at).
    """

    def __init__(self, stimulus: Sequence[Interval], bins: int, seed: int = 0) -> None:
        self.bins = bins
        self.lags = round(MAX_LAG / BIN)
        spans = _spans(stimulus, bins)
        self.covered = sum(b - a for a, b in spans)
        self.usable = 2 <= self.covered <= bins - 2
        self.observed = np.array(spans, dtype=np.int64).reshape(1, -1, 2)
        self.null = _shuffled(spans, bins, seed)

    @property
    def coverage(self) -> float:
        """Share of the capture's bins inside the intervals (at lag 0)."""
        return self.covered / self.bins

    def observe(self, rate: Floats) -> Observation | None:
        """Correlate ``rate`` (bytes per :data:`BIN`, ``bins`` long) with the timeline and
        with the random ones; None when the timeline gives too little contrast (under two
        bins either side)."""
        if not self.usable or len(rate) != self.bins:
            return None
        ranks = _ranks(rate)
        centred = ranks - ranks.mean()
        sums = np.concatenate([[0.0], np.cumsum(centred)])
        scale = float(centred @ centred)
        rs = self._corr(sums, scale, self.observed)[0]
        best = int(np.argmax(np.abs(rs)))
        null = np.zeros(SHUFFLES)
        for at in range(0, SHUFFLES, _NULL_CHUNK):  # memory: a chunk of timelines at a time
            chunk = self.null[at : at + _NULL_CHUNK]
            null[at : at + len(chunk)] = np.abs(self._corr(sums, scale, chunk)).max(axis=1)
        inside = np.zeros(self.bins, dtype=bool)
        for a, b in np.minimum(self.observed[0] + best, self.bins):
            inside[a:b] = True
        outside_mean = float(rate[~inside].mean()) if (~inside).any() else 0.0
        ratio = float(rate[inside].mean()) / outside_mean if outside_mean > 0 else math.inf
        return Observation(float(rs[best]), best * BIN, ratio, float(inside.mean()), null)

    def _corr(self, sums: Floats, scale: float, spans: npt.NDArray[np.int64]) -> Floats:
        """Pearson r of the ranks (``sums``: prefix sums of the centred ranks; ``scale``:
        their sum of squares) with each timeline of ``spans`` (timelines, intervals, 2)
        shifted later by 0..lags bins: shape (timelines, lags + 1)."""
        n = self.bins
        out = np.zeros((len(spans), self.lags + 1))
        for k in range(self.lags + 1):
            shifted = np.minimum(spans + k, n)
            a, b = shifted[..., 0], shifted[..., 1]
            inside = (sums[b] - sums[a]).sum(axis=1)
            m = (b - a).sum(axis=1).astype(np.float64)
            denominator = np.sqrt(scale * m * (1 - m / n))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, k] = np.where(denominator > 0, inside / denominator, 0.0)
        return out

    @staticmethod
    def adjust(observations: Sequence[Observation]) -> list[float]:
        """p-values that allow for testing several rates against one timeline.

        Step-down max-T (Westfall and Young): the rate with the largest ``|r|`` is compared
        with the largest ``|r|`` *any* of the rates reaches against each random timeline,
        the next with the largest among the rest, and so on (p never decreasing down the
        list). So the chance that any rate which ignores the stimulus gets p <= a is at
        most a, however many were tested -- and rates of the same capture that move
        together (one busy room) are allowed for, which Bonferroni would not.
        """
        if not observations:
            return []
        best = np.array([abs(o.r) for o in observations])
        nulls = np.stack([o.null for o in observations])
        order = np.argsort(-best, kind="stable")
        # The null maximum over the rates ranked j and below, for every j.
        tail = np.maximum.accumulate(nulls[order][::-1], axis=0)[::-1]
        out = np.empty(len(observations))
        floor = 0.0
        for j, i in enumerate(order):
            floor = max(floor, _p(float(best[i]), tail[j]))
            out[i] = floor
        return [float(x) for x in out]


def _p(observed: float, null: Floats) -> float:
    return (1 + int(np.sum(null >= observed - 1e-12))) / (1 + len(null))


def _ranks(values: Floats) -> Floats:
    """Ranks, ties (many empty bins) sharing their mean rank as Spearman's rho does."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.asarray((below + (counts - 1) / 2)[inverse], dtype=np.float64)


def _shuffled(spans: Sequence[tuple[int, int]], bins: int, seed: int) -> npt.NDArray[np.int64]:
    """SHUFFLES random timelines as bin spans, shape (SHUFFLES, intervals, 2): the same
    interval lengths in random order at random places, never overlapping."""
    rng = np.random.default_rng(seed)
    lengths = np.array([(b - a) * BIN for a, b in spans])
    if not len(lengths):
        return np.zeros((SHUFFLES, 0, 2), dtype=np.int64)
    free = max(bins * BIN - lengths.sum(), 0.0)
    gaps = rng.dirichlet(np.ones(len(lengths) + 1), SHUFFLES)[:, :-1] * free
    order = lengths[rng.permuted(np.tile(np.arange(len(lengths)), (SHUFFLES, 1)), axis=1)]
    starts = np.cumsum(gaps, axis=1) + np.cumsum(order, axis=1) - order
    # Start and end on bin edges, so each random interval covers as many bins as its model.
    first = np.clip(np.round(starts / BIN), 0, bins).astype(np.int64)
    stop = np.minimum(first + np.round(order / BIN).astype(np.int64), bins)
    return np.stack([first, stop], axis=-1)

"""The clip-aware video rule: a query that is a cut of a banked video (or contains one).

The reference vPDQ rule (:class:`reclaim.signals.vpdq.VpdqReferenceRule`) asks that 80%
of each video's frames be found in the other: a 10-second clip of a 20-minute banked
video finds all its frames but covers 1% of the banked one, and misses. This rule looks
for a **time alignment** instead: pairs of frames within the PDQ threshold vote for an
offset (banked time minus query time); at the best offsets, each frame of the sparser
video is compared with the other video's frames at the same aligned time, and the clip
matches when enough aligned frames agree, over long enough, in time order.

Why an aligned comparison may be looser than the threshold: a frame's PDQ is 110-130 bits
from other scenes' frames and from the same video's frames seconds away (measured on the
reference videos, 1st percentile 110, minimum 96), so a run of aligned frames whose median
distance is 64 is not chance, while a large logo over every frame puts single frames 40-80
bits from the original.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.index import hamming_distances
from reclaim.signals.pdq import PDQ_MIN_QUALITY, PDQ_THRESHOLD
from reclaim.signals.vpdq import VpdqFrame, VpdqSignal, frame_distance_blocks

_WHOLE = 0.8


@dataclass(frozen=True, slots=True)
class ClipMatch:
    """Where a query and a banked video agree, and how well."""

    time_range: tuple[float, float]
    """Seconds of the query the aligned run spans (first to last aligned frame within
    ``aligned_median``)."""
    target_time_range: tuple[float, float]
    """The same run in the banked video's time."""
    offset: float
    """Banked time minus query time."""
    query_coverage: float
    """Percent of the query's duration the run covers."""
    target_coverage: float
    """Percent of the banked video's duration the run covers."""
    aligned: int
    """Frames compared at the alignment."""
    agreeing: int
    """Of those, frames within the threshold."""
    median_distance: float


@dataclass(frozen=True, slots=True)
class _Frames:
    ts: npt.NDArray[np.float64]
    codes: npt.NDArray[np.uint8]

    reordered: bool = False
    """The frames were not in time order (a hash list from elsewhere) and were sorted."""

    @classmethod
    def of(cls, frames: Sequence[VpdqFrame], quality: int) -> _Frames:
        kept = [f for f in frames if f.quality >= quality]
        if not kept:
            return cls(np.zeros(0), np.zeros((0, 32), np.uint8))
        codes = np.frombuffer(bytes.fromhex("".join(f.value for f in kept)), np.uint8)
        ts = np.array([f.ts for f in kept])
        if np.all(np.diff(ts) >= 0):
            return cls(ts, codes.reshape(-1, 32))
        order = np.argsort(ts, kind="stable")
        return cls(ts[order], codes.reshape(-1, 32)[order], reordered=True)

    def __len__(self) -> int:
        return len(self.ts)

    def interval(self) -> float:
        """The median time between frames (0 for a single frame)."""
        return float(np.median(np.diff(self.ts))) if len(self.ts) > 1 else 0.0


@dataclass(frozen=True, slots=True)
class ClipRule:
    """Find a query inside a banked video, or a banked clip inside a query, in time order."""

    distance: int = PDQ_THRESHOLD
    """A frame pair this close is an anchor and counts as agreeing."""
    quality: int = PDQ_MIN_QUALITY
    aligned_median: float = 64.0
    """Aligned frames' median distance at most this."""
    min_agreeing: int = 3
    """Anchors at the alignment (frames within ``distance``), at least."""
    min_seconds: float = 5.0
    """The aligned run lasts at least this long, or spans most of both videos (a short
    video found whole, sampled at another rate than it was banked)."""
    offsets_tried: int = 8

    name = "clip"

    def compare(
        self,
        query: VpdqSignal,
        target: VpdqSignal,
        anchors: npt.NDArray[np.int64] | None = None,
    ) -> ClipMatch | None:
        """The best alignment of ``query`` in ``target``, or ``None``. ``anchors`` are the
        (query, target) pairs of frames within ``distance``, counted among each video's
        frames of quality >= ``quality``, when an index has found them already."""
        q = _Frames.of(query.frames, self.quality)
        t = _Frames.of(target.frames, self.quality)
        if len(q) == 0 or len(t) == 0:
            return None
        if anchors is None or q.reordered or t.reordered:  # given anchors count stored order
            anchors = _anchors(q.codes, t.codes, self.distance)
        if len(anchors) < self.min_agreeing:
            return None
        # Align frame to frame within half the denser video's spacing (a frame or two).
        tolerance = 0.5 * max(min(q.interval(), t.interval()), 1 / 60) + 1e-3
        best: ClipMatch | None = None
        for offset in _offsets(t.ts[anchors[:, 1]] - q.ts[anchors[:, 0]], tolerance)[
            : self.offsets_tried
        ]:
            found = self._at(q, t, offset, tolerance)
            if found is not None and (best is None or _better(found, best)):
                best = found
        return best

    def _at(
        self,
        q: _Frames,
        t: _Frames,
        offset: float,
        tolerance: float,
    ) -> ClipMatch | None:
        """Compare the sparser video's frames with the other's at the aligned times."""
        query_sparser = q.interval() >= t.interval()
        sparse, dense = (q, t) if query_sparser else (t, q)
        shift = offset if query_sparser else -offset
        lows = np.searchsorted(dense.ts, sparse.ts + shift - tolerance)
        highs = np.searchsorted(dense.ts, sparse.ts + shift + tolerance)
        aligned_at, best = [], []
        for index in np.flatnonzero(highs > lows).tolist():
            near = dense.codes[lows[index] : highs[index]]
            aligned_at.append(sparse.ts[index])
            best.append(int(hamming_distances(near, sparse.codes[index]).min()))
        if len(best) < self.min_agreeing:
            return None
        run = np.array(best)
        agreeing = run <= self.distance
        if agreeing.sum() < self.min_agreeing or float(np.median(run)) > self.aligned_median:
            return None
        times = np.array(aligned_at)
        consistent = times[run <= self.aligned_median]  # the run: frames that still look alike
        first, last = float(consistent[0]), float(consistent[-1])
        if query_sparser:
            span, target_span = (first, last), (first + offset, last + offset)
        else:
            span, target_span = (first - offset, last - offset), (first, last)
        seconds = span[1] - span[0]
        query_seconds = _duration(q.ts)
        target_seconds = _duration(t.ts)
        whole = seconds + 1e-6 >= _WHOLE * max(query_seconds, target_seconds)
        if seconds + 1e-6 < self.min_seconds and not whole:
            return None
        return ClipMatch(
            time_range=(round(span[0], 3), round(span[1], 3)),
            target_time_range=(round(target_span[0], 3), round(target_span[1], 3)),
            offset=round(offset, 3),
            query_coverage=round(100 * seconds / query_seconds, 1) if query_seconds else 100.0,
            target_coverage=round(100 * seconds / target_seconds, 1) if target_seconds else 100.0,
            aligned=len(run),
            agreeing=int(agreeing.sum()),
            median_distance=float(np.median(run)),
        )


def _duration(ts: npt.NDArray[np.float64]) -> float:
    return float(ts[-1] - ts[0]) if len(ts) > 1 else 0.0


def _better(a: ClipMatch, b: ClipMatch) -> bool:
    return (a.agreeing, -a.median_distance) > (b.agreeing, -b.median_distance)


def _offsets(values: npt.NDArray[np.float64], tolerance: float) -> list[float]:
    """Offsets the anchors vote for, most votes first: each anchor's offset, scored by
    the anchors within ``tolerance`` of it (a frame's neighbours vote alike)."""
    ordered = np.sort(values)
    votes = np.searchsorted(ordered, ordered + tolerance, side="right") - np.searchsorted(
        ordered, ordered - tolerance, side="left"
    )
    out: list[float] = []
    for index in np.argsort(-votes, kind="stable"):
        offset = float(ordered[index])
        if all(abs(offset - seen) > tolerance for seen in out):
            out.append(offset)
    return out


def _anchors(
    q: npt.NDArray[np.uint8], t: npt.NDArray[np.uint8], distance: int
) -> npt.NDArray[np.int64]:
    """(query frame, target frame) index pairs within ``distance``."""
    found = [
        np.argwhere(block <= distance) + np.array([q_start, t_start])
        for q_start, t_start, block in frame_distance_blocks(q, t)
    ]
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)

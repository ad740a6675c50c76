"""What a unit's traffic looks like, in numbers a person can check against the capture.

A streaming camera sends video frames at a steady rate (10-30 per second), each frame as a
burst of packets, most of them full-size; every GOP (0.5-4 s) one frame is a key frame
several times larger; it does so for as long as it is on, and receives little back. Each
of these is measured here without any codec knowledge:

- *sustained rate*: the median bit rate over the seconds it sends, and the share of the
  capture's seconds in which it sends;
- *bursts*: packets closer than 8 ms together, i.e. roughly one video frame each;
- *frame periodicity*: the byte series in 5 ms bins, its power spectrum averaged over
  2.56 s segments (Welch), and the lowest spectral line in 4-32 Hz that stands out of the
  spectrum's median floor and survives a look at the bursts themselves: cut into slots of
  its period (the rate refined to 0.5 mHz), nearly every slot must hold a burst, one per
  slot (see :func:`_frame_rhythm`);
- *key frames*: frame slots at least 3x the median of their neighbours, and how regularly
  they recur: the most common gap in frames, and the share of gaps that are whole
  multiples of it (a missed key frame does not hide the rhythm);
- *sizes*: share of near-MTU frames;
- *what comes back*: the reverse direction's bytes, and whether it carries a media stream
  of its own (frames of 400 bytes and more, steadily): that is a call, not a camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from reclaim.sweep.wifi.traffic import Unit

Floats = npt.NDArray[np.float64]

ACTIVE_BYTES = 1500
"""A second counts as active when the unit sends at least this much in it."""
FINE_BIN = 0.005
SEGMENT = 512
"""Welch segment (bins): 2.56 s, a 0.39 Hz resolution."""
MAX_SPECTRUM_SECONDS = 900.0
FPS_BAND = (4.0, 32.0)
LINE = 6.0
"""A spectral line stands at least this many times above the median floor."""
MIN_FILL = 0.6
MIN_DOMINANCE = 0.7
TALL = 0.5
BURST_GAP = 0.008
KEY_FACTOR = 3.0
KEY_PERIOD = (0.4, 5.0)
NEAR_MTU = 1400
MEDIA_BYTES = 400
MEDIA_ACTIVE_BYTES = 4000
_COHERENCE_CHUNK = 8192
"""Bursts per step of :func:`refine_fps`: a 6-hour stream at 30 fps has 650,000 bursts, and
the phases of all of them at once against a 61-point grid took 630 MB."""


@dataclass(frozen=True)
class Periodicity:
    fps: float
    strength: float
    """Height of the line over the spectrum's median floor."""
    fill: float
    """Share of frame slots in which the unit sent something."""
    dominance: float
    """Mean share of a slot's bytes carried by its largest burst."""


@dataclass(frozen=True)
class KeyFrames:
    period: float
    regularity: float
    """Share of intervals between key frames that are whole multiples of ``period``."""
    ratio: float
    """Median key-frame burst over the median burst."""
    count: int


@dataclass(frozen=True)
class Features:
    frames: int
    bytes: int
    seconds: float
    """Length of the capture (the span rates are measured over)."""
    rate: float
    """Median bit/s over the seconds in which the unit sent."""
    active: float
    """Share of the capture's seconds in which the unit sent at least ACTIVE_BYTES."""
    near_mtu: float
    rev_bytes: int
    rev_media_rate: float
    """Median bit/s of the reverse direction's media-sized frames, over its active seconds."""
    rev_media_active: float
    bursts_per_second: float
    burst_median: float
    periodicity: Periodicity | None
    key_frames: KeyFrames | None

    @property
    def ratio(self) -> float:
        """Bytes sent over bytes received (infinite when nothing came back)."""
        return self.bytes / self.rev_bytes if self.rev_bytes else math.inf


def measure(unit: Unit, seconds: float) -> Features:
    """The features of ``unit`` over a capture ``seconds`` long."""
    t, s = unit.fwd_times, unit.fwd_sizes
    n = max(1, math.ceil(seconds))
    per_second = _per_second(t, s, n)
    active = per_second >= ACTIVE_BYTES
    rev_media = unit.rev_sizes >= MEDIA_BYTES
    rev_second = _per_second(unit.rev_times[rev_media], unit.rev_sizes[rev_media], n)
    rev_active = rev_second >= MEDIA_ACTIVE_BYTES
    starts, sizes = bursts(t, s)
    span = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    periodicity, slots = _frame_rhythm(t, s, starts, sizes)
    key_frames = _key_frames(slots, periodicity.fps) if periodicity else None
    return Features(
        frames=len(t),
        bytes=int(s.sum()),
        seconds=seconds,
        rate=float(np.median(per_second[active]) * 8) if active.any() else 0.0,
        active=float(active.mean()),
        near_mtu=float(np.mean(s >= NEAR_MTU)) if len(s) else 0.0,
        rev_bytes=int(unit.rev_sizes.sum()),
        rev_media_rate=float(np.median(rev_second[rev_active]) * 8) if rev_active.any() else 0.0,
        rev_media_active=float(rev_active.mean()),
        bursts_per_second=len(starts) / span if span > 0 else 0.0,
        burst_median=float(np.median(sizes)) if len(sizes) else 0.0,
        periodicity=periodicity,
        key_frames=key_frames,
    )


def _per_second(times: Floats, sizes: npt.NDArray[np.int64], n: int) -> Floats:
    index = np.clip(times.astype(np.int64), 0, n - 1)
    return np.bincount(index, weights=sizes, minlength=n).astype(np.float64)


def binned(times: Floats, sizes: npt.NDArray[np.int64], width: float, n: int) -> Floats:
    """Bytes per ``width``-second bin, ``n`` bins from time 0."""
    index = np.clip((times / width).astype(np.int64), 0, n - 1)
    return np.bincount(index, weights=sizes, minlength=n).astype(np.float64)


def bursts(times: Floats, sizes: npt.NDArray[np.int64]) -> tuple[Floats, Floats]:
    """Start times and byte totals of packet runs with gaps under BURST_GAP."""
    if not len(times):
        return np.empty(0), np.empty(0)
    new = np.concatenate([[True], np.diff(times) > BURST_GAP])
    index = np.cumsum(new) - 1
    return times[new], np.bincount(index, weights=sizes).astype(np.float64)


def spectrum(times: Floats, sizes: npt.NDArray[np.int64]) -> tuple[Floats, Floats] | None:
    """Frequencies and Welch power of the byte series in FINE_BIN bins (None if too short)."""
    if len(times) < 50:
        return None
    begin = float(times[0])
    end = min(float(times[-1]), begin + MAX_SPECTRUM_SECONDS)
    n = int((end - begin) / FINE_BIN) + 1
    if n < 2 * SEGMENT:
        return None
    keep = times <= end
    x = binned(times[keep] - begin, sizes[keep], FINE_BIN, n)
    segments = sliding_window_view(x, SEGMENT)[:: SEGMENT // 2]
    segments = segments - segments.mean(axis=1, keepdims=True)
    power = np.mean(np.abs(np.fft.rfft(segments * np.hanning(SEGMENT), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(SEGMENT, FINE_BIN)
    return freqs.astype(np.float64), np.asarray(power, dtype=np.float64)


def _frame_rhythm(
    times: Floats, sizes: npt.NDArray[np.int64], starts: Floats, burst_sizes: Floats
) -> tuple[Periodicity | None, Floats]:
    """The frame rate and the bytes per frame slot, if the stream has a frame rhythm.

    A spectral line is a frame rhythm when, cut into slots of its period, nearly every slot
    holds a burst (a keep-alive every second makes lines at 4, 5, 6 Hz... but leaves most
    4 Hz slots empty), and it is either among the tallest lines or one burst carries most
    of each slot's bytes: key frames make lines at every multiple of 1/GOP, weaker than the
    frame line, whose slots hold several frames. (A steady audio stream beside the video
    also shares the slots, which is why a tall line need not pass the second test.)
    The lowest line that passes is the frame rate.
    """
    lines = _lines(times, sizes)
    tallest = max((strength for _, strength in lines), default=0.0)
    valid = []
    for freq, strength in lines:
        fps, phase = refine_fps(starts, burst_sizes, freq)
        totals, largest = _slots(starts, burst_sizes, fps, phase)
        sent = totals > 0
        fill = float(sent.mean())
        dominance = float(np.mean(largest[sent] / totals[sent]))
        tall = strength >= TALL * tallest
        if fill >= MIN_FILL and (tall or dominance >= MIN_DOMINANCE):
            valid.append((fps, Periodicity(fps, strength, fill, dominance), totals))
    if not valid:
        return None, np.empty(0)
    _, periodicity, totals = min(valid, key=lambda v: v[0])
    return periodicity, totals


def _lines(times: Floats, sizes: npt.NDArray[np.int64]) -> list[tuple[float, float]]:
    """Spectral lines in FPS_BAND standing out of the floor (the 8 tallest)."""
    found = spectrum(times, sizes)
    if found is None:
        return []
    freqs, power = found
    floor = float(np.median(power[(freqs >= 2) & (freqs <= 98)]))
    if floor <= 0:
        floor = float(power[freqs >= 2].mean()) or 1.0
    ratio = power / floor
    peaks = _local_maxima(ratio)
    everywhere = peaks[(freqs[peaks] >= FPS_BAND[0]) & (freqs[peaks] <= 98)]
    if not len(everywhere):
        return []
    tallest = float(ratio[everywhere].max())
    band = everywhere[freqs[everywhere] <= FPS_BAND[1]]
    lines = band[ratio[band] >= max(LINE, 0.15 * tallest)]
    lines = lines[np.argsort(-ratio[lines], kind="stable")][:8]
    return [(_refine(freqs, power, int(i)), float(ratio[i])) for i in lines]


def _slots(starts: Floats, sizes: Floats, fps: float, phase: float) -> tuple[Floats, Floats]:
    """Bytes per frame slot (one per 1/fps, aligned on the frames; empty slots 0) and the
    bytes of the largest burst in each."""
    slot = np.round(starts * fps - phase).astype(np.int64)
    slot -= slot.min()
    totals = np.bincount(slot, weights=sizes).astype(np.float64)
    largest = np.zeros(len(totals))
    np.maximum.at(largest, slot, sizes)
    return totals, largest


def _local_maxima(x: Floats) -> npt.NDArray[np.int64]:
    inner = (x[1:-1] >= x[:-2]) & (x[1:-1] > x[2:])
    return np.flatnonzero(inner) + 1


def _refine(freqs: Floats, power: Floats, i: int) -> float:
    """The line's frequency between bins, from a parabola through the log powers."""
    a, b, c = np.log(power[i - 1 : i + 2] + 1e-12)
    denominator = a - 2 * b + c
    shift = 0.5 * (a - c) / denominator if denominator < 0 else 0.0
    return float(freqs[i] + np.clip(shift, -0.5, 0.5) * (freqs[1] - freqs[0]))


def refine_fps(starts: Floats, weights: Floats, fps: float) -> tuple[float, float]:
    """The frame rate near ``fps`` at which the bursts line up best, and their phase.

    The spectrum only places the line to a few tenths of a hertz; cutting a minute of
    stream into frame slots needs the rate to a few thousandths. This maximises the
    byte-weighted phase coherence (Rayleigh) of the burst times, coarse then fine.
    """
    best = fps
    for half, step in ((0.3, 0.01), (0.012, 0.0005)):
        grid = np.arange(best - half, best + half + step / 2, step)
        strength = np.zeros(len(grid), np.complex128)
        for at in range(0, len(starts), _COHERENCE_CHUNK):  # memory: grid x chunk, not x all
            chunk = slice(at, at + _COHERENCE_CHUNK)
            strength += np.exp(2j * np.pi * np.outer(grid, starts[chunk])) @ weights[chunk]
        best = float(grid[int(np.argmax(np.abs(strength)))])
    phase = float(np.angle(np.exp(2j * np.pi * best * starts) @ weights) / (2 * np.pi))
    return best, phase


def _key_frames(slots: Floats, fps: float) -> KeyFrames | None:
    """Key frames: slots KEY_FACTOR x the median of their neighbours, and their rhythm."""
    sent = np.flatnonzero(slots > 0)
    if len(sent) < 20:
        return None
    sizes = slots[sent]
    window = min(31, len(sizes) | 1)
    padded = np.pad(sizes, window // 2, mode="edge")
    local = np.median(sliding_window_view(padded, window), axis=1)
    big = sizes >= KEY_FACTOR * np.maximum(local, 1.0)
    if big.sum() < 4:
        return None
    gaps = np.diff(sent[big])  # in frames: a GOP is a whole number of them
    values, counts = np.unique(gaps, return_counts=True)
    gop = int(values[np.argmax(counts)])
    # A slot of jitter either way, and a missed key frame (a multiple), still count.
    off = np.abs(gaps - gop * np.maximum(np.round(gaps / gop), 1))
    return KeyFrames(
        period=gop / fps,
        regularity=float(np.mean(off <= 1)),
        ratio=float(np.median(sizes[big]) / max(float(np.median(sizes)), 1.0)),
        count=int(big.sum()),
    )

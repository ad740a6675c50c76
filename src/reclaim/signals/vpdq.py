"""vPDQ: PDQ of sampled video frames with quality and timestamp, and the reference match rule.

Frames are decoded in a background thread while the previous ones are hashed (both
release the GIL), so hashing a video uses two cores.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from reclaim.media.errors import Corrupt
from reclaim.media.frames import prefetch
from reclaim.media.sniff import MediaKind
from reclaim.signals.base import HashFormatError, Signal, SignalType, int_field, parse_hex
from reclaim.signals.pdq import PDQ_MIN_QUALITY, PDQ_THRESHOLD, pdq_from_rgb
from reclaim.signals.source import MediaSource

if TYPE_CHECKING:
    from reclaim.matching.content import Box

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_CHUNK = 512


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    """One hashed frame: presentation time (s), PDQ quality, PDQ hex."""

    ts: float
    quality: int
    value: str


@dataclass(frozen=True, slots=True)
class VpdqSignal(Signal):
    """A video's vPDQ: its sampled frames in presentation order."""

    frames: tuple[VpdqFrame, ...]
    partial: bool = False
    views: tuple[tuple[str, tuple[VpdqFrame, ...]], ...] = field(default=(), compare=False)
    """Query side only: the frames again as other views look them up (``content``: inside
    letterbox or pillarbox bars; ``flipy``: mirrored left to right; ``content-flipy``)."""

    def view(self, name: str) -> VpdqSignal:
        """The frames of one of :attr:`views` as a signal of their own."""
        return VpdqSignal(dict(self.views)[name])

    @property
    def type(self) -> str:
        return "vpdq"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "vpdq",
            "frames": [{"ts": f.ts, "quality": f.quality, "value": f.value} for f in self.frames],
        }
        if self.partial:
            out["partial"] = True
        return out

    def to_reference_text(self) -> str:
        """The reference tool's text format: ``frame,quality,hex,timestamp`` per line."""
        return "".join(f"{n},{f.quality},{f.value},{f.ts:.3f}\n" for n, f in enumerate(self.frames))

    @classmethod
    def from_reference_text(cls, text: str) -> VpdqSignal:
        """Parse the reference text format (or pytx's ``hex,quality,timestamp`` lines)."""
        frames = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(",")]
            try:
                if len(parts) == 4:
                    _, quality, value, ts = parts
                elif len(parts) == 3:
                    value, quality, ts = parts
                else:
                    raise ValueError(f"expected 3 or 4 comma-separated fields, got {len(parts)}")
                frames.append(_frame(value, int(quality), float(ts)))
            except (ValueError, HashFormatError) as exc:
                raise HashFormatError(f"vpdq line {number}: {exc}") from exc
        return cls(tuple(frames))

    @classmethod
    def from_frames(cls, frames: Iterable[Mapping[str, Any]]) -> VpdqSignal:
        """Parse the ``frames`` list of the JSON form, validating every field."""
        parsed = []
        for number, frame in enumerate(frames):
            if not isinstance(frame, Mapping):
                raise HashFormatError(f"vpdq frame {number} must be an object")
            ts = frame.get("ts")
            if isinstance(ts, bool) or not isinstance(ts, int | float):
                raise HashFormatError(f"vpdq frame {number}: ts must be a number of seconds")
            quality = int_field(frame, "quality", low=0, high=100, default=-1)
            parsed.append(_frame(frame.get("value"), quality, float(ts)))  # type: ignore[arg-type]
        return cls(tuple(parsed))


def _frame(value: str, quality: int, ts: float) -> VpdqFrame:
    if not 0 <= quality <= 100:
        raise HashFormatError(f"frame quality must be 0-100, not {quality}")
    if not (math.isfinite(ts) and ts >= 0):
        raise HashFormatError(f"frame timestamp must be a finite number >= 0, not {ts}")
    return VpdqFrame(round(ts, 3), quality, parse_hex(value, bits=256, name="pdq"))


@dataclass(frozen=True, slots=True)
class VpdqMatch:
    """Share of the query's frames found in the target, and of the target's in the query."""

    query_match_percent: float
    target_match_percent: float


@dataclass(frozen=True, slots=True)
class VpdqReferenceRule:
    """The reference vPDQ match rule (ThreatExchange), kept as one named rule.

    Frames below ``quality`` are dropped and exact duplicate hashes removed on each side;
    a frame "is found" in the other video when any of its frames is within ``distance``.
    The videos match when both shares reach their thresholds.
    """

    distance: int = PDQ_THRESHOLD
    quality: int = PDQ_MIN_QUALITY
    query_percent: float = 80.0
    target_percent: float = 80.0

    name = "vpdq-reference"

    def compare(self, query: VpdqSignal, target: VpdqSignal) -> VpdqMatch | None:
        """The match, or ``None`` when the rule says the videos differ."""
        result = self.match_percents(query, target)
        if (
            result.query_match_percent >= self.query_percent
            and result.target_match_percent >= self.target_percent
        ):
            return result
        return None

    def match_percents(self, query: VpdqSignal, target: VpdqSignal) -> VpdqMatch:
        """Both shares, whatever the thresholds."""
        q = _prepare(query.frames, self.quality)
        t = _prepare(target.frames, self.quality)
        if len(q) == 0 or len(t) == 0:
            return VpdqMatch(0.0, 0.0)
        q_found, t_found = _found_each_way(q, t, self.distance)
        return VpdqMatch(100.0 * q_found / len(q), 100.0 * t_found / len(t))


REFERENCE_RULE = VpdqReferenceRule()


def _prepare(frames: Sequence[VpdqFrame], quality: int) -> npt.NDArray[np.uint8]:
    seen: set[str] = set()
    unique = []
    for frame in frames:
        if frame.value not in seen:
            seen.add(frame.value)
            if frame.quality >= quality:
                unique.append(frame.value)
    if not unique:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(unique)), dtype=np.uint8).reshape(-1, 32)


def _found_each_way(
    q: npt.NDArray[np.uint8], t: npt.NDArray[np.uint8], distance: int
) -> tuple[int, int]:
    q_found = np.zeros(len(q), dtype=bool)
    t_found = np.zeros(len(t), dtype=bool)
    for q_start, t_start, block in frame_distance_blocks(q, t):
        close = block <= distance
        q_found[q_start : q_start + len(block)] |= close.any(axis=1)
        t_found[t_start : t_start + block.shape[1]] |= close.any(axis=0)
    return int(q_found.sum()), int(t_found.sum())


def frame_distance_blocks(
    q: npt.NDArray[np.uint8], t: npt.NDArray[np.uint8]
) -> Iterator[tuple[int, int, npt.NDArray[np.int32]]]:
    """The Hamming distances between every frame code of ``q`` and of ``t`` (``uint8[n,
    32]`` each), a block at a time (first query row, first target column, distances):
    bounded memory for hour-long videos."""
    for q_start in range(0, len(q), _CHUNK):
        rows = q[q_start : q_start + _CHUNK]
        for t_start in range(0, len(t), _CHUNK * 8):
            cols = t[t_start : t_start + _CHUNK * 8]
            block = _POPCOUNT[rows[:, None, :] ^ cols[None, :, :]].sum(axis=2, dtype=np.int32)
            yield q_start, t_start, block


class VpdqSignalType(SignalType):
    name = "vpdq"
    content_kinds = frozenset({MediaKind.VIDEO, MediaKind.IMAGE})
    default_for = frozenset({MediaKind.VIDEO})

    @classmethod
    def applies_to(cls, source: MediaSource) -> bool:
        return source.is_moving

    @classmethod
    def compute(cls, source: MediaSource) -> VpdqSignal:
        frames: list[VpdqFrame] = []
        views = _QueryViews() if source.options.query_regions else None
        partial = False
        try:
            for frame in prefetch(source.frames(), depth=3):
                pdq = pdq_from_rgb(frame.rgb)
                frames.append(VpdqFrame(round(frame.ts, 3), pdq.quality, pdq.value))
                if views is not None:
                    views.add(frame.rgb, round(frame.ts, 3))
        except Corrupt:
            if not frames:
                raise
            partial = True  # a truncated file: keep what decoded
        return VpdqSignal(tuple(frames), partial, views.signals() if views is not None else ())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VpdqSignal:
        frames = data.get("frames")
        if not isinstance(frames, list) or not frames:
            raise HashFormatError("vpdq needs a non-empty list of frames")
        return VpdqSignal.from_frames(frames)

    @classmethod
    def compare(cls, query: VpdqSignal, target: VpdqSignal) -> VpdqMatch | None:
        """The reference definition of a vPDQ match (:data:`REFERENCE_RULE`)."""
        return REFERENCE_RULE.compare(query, target)


class _QueryViews:
    """The query side's other views of a video's frames: the picture inside bars, the
    frames mirrored left to right, and both.

    Bars are the video's, not a frame's: a dark scene merges with black bars and moves
    a single frame's box. The box is the one found (within a few pixels) on
    ``_VOTES`` frames; frames before that are kept, up to ``_PENDING_BYTES`` of pixels
    (a decoder worker's memory is limited), and hashed inside it once it is known (or,
    for a short video, inside the most-found box)."""

    _VOTES = 3
    _PENDING_BYTES = 64 << 20

    def __init__(self) -> None:
        from reclaim.matching.content import content_box  # matching builds on signals

        self._find_box = content_box
        self._box: Box | None = None
        self._votes: list[Box] = []
        self._pending: list[tuple[float, npt.NDArray[np.uint8]]] = []
        self._frames: dict[str, list[VpdqFrame]] = {"content": [], "flipy": [], "content-flipy": []}

    def add(self, rgb: npt.NDArray[np.uint8], ts: float) -> None:
        if self._box is None:
            found = self._find_box(rgb)
            if found is not None:
                self._votes.append(found)
                if sum(found.near(other, 4) for other in self._votes) >= self._VOTES:
                    self._settle(found)
            held = sum(pixels.nbytes for _, pixels in self._pending)
            if self._box is None and held + rgb.nbytes <= self._PENDING_BYTES:
                self._pending.append((ts, rgb))
        if self._box is not None:
            self._add_content(rgb, ts)
        mirrored = pdq_from_rgb(np.ascontiguousarray(rgb[:, ::-1]))
        self._frames["flipy"].append(VpdqFrame(ts, mirrored.quality, mirrored.value))

    def _settle(self, box: Box) -> None:
        self._box = box
        for ts, rgb in self._pending:
            self._add_content(rgb, ts)
        self._pending.clear()

    def _add_content(self, rgb: npt.NDArray[np.uint8], ts: float) -> None:
        assert self._box is not None
        inner = self._box.crop(rgb)
        for name, pixels in (("content", inner), ("content-flipy", inner[:, ::-1])):
            pdq = pdq_from_rgb(np.ascontiguousarray(pixels))
            self._frames[name].append(VpdqFrame(ts, pdq.quality, pdq.value))

    def signals(self) -> tuple[tuple[str, tuple[VpdqFrame, ...]], ...]:
        if self._box is None and self._votes:  # a short video: its most-found box
            self._settle(max(self._votes, key=lambda b: sum(b.near(o, 4) for o in self._votes)))
        for frames in self._frames.values():
            frames.sort(key=lambda frame: frame.ts)
        return tuple((name, tuple(frames)) for name, frames in self._frames.items() if frames)

"""Glints followed from frame to frame, with the view's movement taken out.

Each frame, every live track predicts where its glint should be if it were fixed in the
room (its last position plus the view's movement since), and takes the nearest new glint
within a gate that widens with that movement (hand-held phones roll and see parallax, and
a reflection that slides a little should still be followed, so that it can be shown to
slide). A track survives short gaps -- motion blur, something passing in front -- and ends
when its glint has been missing too long or its predicted place leaves the picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from reclaim.sweep.optical.detect import COLOURED, RGB, Glint
from reclaim.sweep.optical.motion import Step
from reclaim.sweep.optical.options import GlintOptions

GATE = 0.012
"""The gate's fixed part, as a fraction of the frame width."""
GATE_PER_MOVE = 1.1
"""How much the gate widens per pixel the view moved since the previous frame."""
GATE_PER_GAP = 0.3
"""... and per pixel it moved before that, since the glint was last seen."""
PICTURES_KEPT = 64
"""Finished tracks that keep their clearest frame for the picture: the most lens-like."""
TRACKS_KEPT = 2_000
"""Finished tracks kept for judging in a video full of glints: the most lens-like."""
BRIEF_KEPT = 20_000
GATE_LOST = 0.08
"""Extra gate (fraction of the width) after a frame whose movement could not be measured."""


@dataclass(frozen=True, slots=True)
class Sighting:
    frame: int
    """Sequence number of the frame among those read."""
    ts: float
    glint: Glint
    speed: float
    """How far the view moved since the previous frame read (pixels): blur to expect."""


@dataclass(eq=False)
class Track:
    ident: int
    sightings: list[Sighting] = field(default_factory=list)
    best: Sighting | None = None
    """The clearest sighting: what the annotated picture shows."""
    best_rgb: RGB | None = None
    passes: int = 1
    """Separate times the view came by and saw it (see :func:`join_revisits`)."""
    rank: float = 0.0
    """How lens-like it looked when it ended (:class:`Tracker`'s ``rank``): which tracks
    keep their pictures, and which are set aside in a video full of glints."""

    @property
    def first(self) -> Sighting:
        return self.sightings[0]

    @property
    def last(self) -> Sighting:
        return self.sightings[-1]

    @property
    def duration(self) -> float:
        return self.last.ts - self.first.ts

    def add(self, sighting: Sighting, rgb: RGB) -> None:
        self.sightings.append(sighting)
        if self.best is None or _clarity(sighting) > _clarity(self.best):
            self.best, self.best_rgb = sighting, rgb


def _clarity(sighting: Sighting) -> float:
    glint = sighting.glint
    return glint.contrast / (1.0 + 0.1 * sighting.speed) / glint.elongation


@dataclass
class ViewPath:
    """Where the view was at each frame read: the accumulated movement, so that a point
    fixed in the room at room position ``s`` shows at ``s + origin[frame]``."""

    origins: list[tuple[float, float]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    lost: list[bool] = field(default_factory=list)
    """Frames whose movement from the previous one could not be measured."""
    speeds: list[float] = field(default_factory=list)
    """How fast the view moved since the previous frame (pixels a second)."""

    def add(self, ts: float, step: Step) -> None:
        if not self.origins:
            self.origins.append((0.0, 0.0))
            self.lost.append(False)
            self.speeds.append(0.0)
        else:
            x, y = self.origins[-1]
            move = (step.dx, step.dy) if step.reliable else (0.0, 0.0)
            self.origins.append((x + move[0], y + move[1]))
            self.lost.append(not step.reliable)
            # Unmeasured movement counts as fast: nothing can be expected to show then.
            elapsed = max(ts - self.times[-1], 1e-3)
            self.speeds.append(math.hypot(*move) / elapsed if step.reliable else math.inf)
        self.times.append(ts)

    def moved(self, since: int, until: int) -> tuple[float, float]:
        (ax, ay), (bx, by) = self.origins[since], self.origins[until]
        return bx - ax, by - ay

    def any_lost(self, since: int, until: int) -> bool:
        return any(self.lost[since + 1 : until + 1])


Rank = Callable[[Track, ViewPath], float]
"""How lens-like a finished track is, on its own (higher: more)."""


def _by_length(track: Track, path: ViewPath) -> float:
    return float(len(track.sightings))


class Tracker:
    """Feed frames in order with :meth:`add`; :meth:`finish` returns the tracks worth a
    look (seen long enough), each with its clearest frame kept for the picture.

    ``rank`` orders finished tracks when they must be bounded: only the
    :data:`PICTURES_KEPT` highest keep a frame, and in a video full of glints only the
    :data:`TRACKS_KEPT` highest are judged. The sweep ranks by the score a track gets on
    its own, so that a short lens track keeps its picture among long reflections."""

    def __init__(
        self, options: GlintOptions, width: int, height: int, rank: Rank = _by_length
    ) -> None:
        self.options = options
        self.rank = rank
        self.width, self.height = width, height
        self.reach = options.reach(width)
        self.path = ViewPath()
        self.live: list[Track] = []
        self.done: list[Track] = []
        self.dropped = 0
        """Tracks too short to be findings."""
        self.set_aside = 0
        """Tracks long enough to judge but dropped to bound the work (the shortest)."""
        self.brief: list[tuple[float, float]] = []
        """Room positions of the white glints too short to be findings (drops sparkle
        briefly, one after another, in the same spot)."""
        self._next_id = 1
        self._max_live = 4 * options.max_candidates

    def add(self, ts: float, rgb: RGB, step: Step, glints: list[Glint]) -> None:
        self.path.add(ts, step)
        frame = len(self.path.origins) - 1
        speed = math.hypot(step.dx, step.dy) if frame else 0.0
        taken = self._associate(frame, glints)
        for index, track in taken.items():
            track.add(Sighting(frame, ts, glints[index], speed), rgb)
        for track in list(self.live):
            if track.last.frame == frame:
                continue
            gone = ts - track.last.ts > self.options.max_gap
            if gone or not self._inside(self._predict(track, frame)):
                self._end(track)
        for index, glint in enumerate(glints):
            if index not in taken and len(self.live) < self._max_live:
                track = Track(self._next_id)
                self._next_id += 1
                track.add(Sighting(frame, ts, glint, speed), rgb)
                self.live.append(track)

    def finish(self) -> list[Track]:
        for track in list(self.live):
            self._end(track)
        return self.done

    def _associate(self, frame: int, glints: list[Glint]) -> dict[int, Track]:
        """Greedy nearest-first matching of live tracks to this frame's glints."""
        if not self.live or not glints:
            return {}
        pairs = []
        for track in self.live:
            px, py = self._predict(track, frame)
            gate = self._gate(track, frame)
            for index, glint in enumerate(glints):
                distance = math.hypot(glint.x - px, glint.y - py)
                if distance <= gate and _alike(track.last.glint, glint):
                    pairs.append((distance, track.ident, index, track))
        pairs.sort(key=lambda pair: (pair[0], pair[1], pair[2]))
        taken: dict[int, Track] = {}
        used: set[int] = set()
        for _, ident, index, track in pairs:
            if ident not in used and index not in taken:
                taken[index] = track
                used.add(ident)
        return taken

    def _predict(self, track: Track, frame: int) -> tuple[float, float]:
        dx, dy = self.path.moved(track.last.frame, frame)
        return track.last.glint.x + dx, track.last.glint.y + dy

    def _gate(self, track: Track, frame: int) -> float:
        """How far from the prediction a glint may be and still continue ``track``. The
        latest frame's movement counts fully (a highlight sliding along an edge keeps up
        with the view, and must be followed to be seen sliding); earlier movement, over
        a gap, only partly (a fixed glint's prediction stays good; a wide gate would
        catch whatever else glints nearby)."""
        latest = math.hypot(*self.path.moved(frame - 1, frame))
        before = math.hypot(*self.path.moved(track.last.frame, frame - 1))
        gate = GATE * self.width + GATE_PER_MOVE * latest + GATE_PER_GAP * before
        if self.path.any_lost(track.last.frame, frame):
            gate += GATE_LOST * self.width
        return gate

    def _inside(self, point: tuple[float, float]) -> bool:
        x, y = point
        return (
            self.reach <= x < self.width - self.reach and self.reach <= y < self.height - self.reach
        )

    def _end(self, track: Track) -> None:
        self.live.remove(track)
        if track.duration >= self.options.min_track and len(track.sightings) >= 3:
            track.rank = self.rank(track, self.path)
            self.done.append(track)
            self._bound_pictures()
            if len(self.done) > 2 * TRACKS_KEPT:  # a video full of glints: the most lens-like
                self.done.sort(key=_keep_first)
                self.set_aside += len(self.done) - TRACKS_KEPT
                del self.done[TRACKS_KEPT:]
        else:
            self.dropped += 1
            if track.first.glint.chroma < COLOURED and len(self.brief) < BRIEF_KEPT:
                self.brief.append(room_position(track, self.path))

    def _bound_pictures(self) -> None:
        """Keep the frames of at most :data:`PICTURES_KEPT` finished tracks (the most
        lens-like): a video full of glints must not keep a frame for each of them."""
        holding = [t for t in self.done if t.best_rgb is not None]
        if len(holding) > PICTURES_KEPT:
            max(holding, key=_keep_first).best_rgb = None


def _keep_first(track: Track) -> tuple[float, int, int]:
    """Sort key: the most lens-like first, then the longest, then the earliest."""
    return (-track.rank, -len(track.sightings), track.ident)


def _alike(a: Glint, b: Glint) -> bool:
    """Plausibly the same glint: comparable size and colour."""
    big, small = max(a.diameter, b.diameter), min(a.diameter, b.diameter)
    return big <= 2.5 * small + 2.0 and abs(a.chroma - b.chroma) < 0.35


REVISIT = 0.025
"""Tracks whose room positions are this close (fraction of the width, plus 1% of the
view's travel in between, for the drift of the accumulated movement) are one glint seen
again when the view came back."""
REVISIT_MAX = 0.06
"""... but never farther apart than this (fraction of the width)."""


def join_revisits(tracks: list[Track], path: ViewPath, width: int) -> list[Track]:
    """Merge tracks of the same glint seen on separate passes of the view. Only tracks
    that do not overlap in time and look alike are joined, earliest first."""
    cell = REVISIT_MAX * width
    grid: dict[tuple[int, int], list[Track]] = {}
    where: dict[int, tuple[float, float]] = {}
    joined: list[Track] = []
    for track in sorted(tracks, key=lambda t: (t.first.frame, t.ident)):
        x, y = room_position(track, path)
        cx, cy = math.floor(x / cell), math.floor(y / cell)
        earlier = _revisited(track, (x, y), grid, where, (cx, cy), path, width)
        if earlier is not None:
            _absorb(earlier, track)
            where[earlier.ident] = room_position(earlier, path)
            continue
        joined.append(track)
        where[track.ident] = (x, y)
        grid.setdefault((cx, cy), []).append(track)
    return joined


def _revisited(
    track: Track,
    here: tuple[float, float],
    grid: dict[tuple[int, int], list[Track]],
    where: dict[int, tuple[float, float]],
    cell: tuple[int, int],
    path: ViewPath,
    width: int,
) -> Track | None:
    """The earlier track ``track`` continues on a later pass, if any."""
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for earlier in grid.get((cell[0] + dx, cell[1] + dy), ()):
                if earlier.last.frame >= track.first.frame:
                    continue
                if not _alike(earlier.last.glint, track.first.glint):
                    continue
                between = math.hypot(*path.moved(earlier.last.frame, track.first.frame))
                allowed = min(REVISIT * width + 0.01 * between, REVISIT_MAX * width)
                ex, ey = where[earlier.ident]
                if math.hypot(here[0] - ex, here[1] - ey) <= allowed:
                    return earlier
    return None


def room_position(track: Track, path: ViewPath) -> tuple[float, float]:
    """Where the track's glint sits in the room, on average."""
    xs = [s.glint.x - path.origins[s.frame][0] for s in track.sightings]
    ys = [s.glint.y - path.origins[s.frame][1] for s in track.sightings]
    return sum(xs) / len(xs), sum(ys) / len(ys)


def _absorb(track: Track, later: Track) -> None:
    """Add the later pass ``later`` to ``track``; the clearer sighting of the two becomes
    the picture, but a sighting whose frame was let go never replaces one with a frame."""
    track.sightings.extend(later.sightings)
    track.passes += later.passes
    assert later.best is not None
    assert track.best is not None
    if (later.best_rgb is not None, _clarity(later.best)) > (
        track.best_rgb is not None,
        _clarity(track.best),
    ):
        track.best, track.best_rgb = later.best, later.best_rgb

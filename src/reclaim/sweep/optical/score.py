"""What a glint track shows, and how much it looks like a lens, in plain words.

The weights add up (clipped to [0, 1]); each is a :class:`Reason` with the numbers behind
it, so an inspector can see why a glint was flagged and judge it herself. The strongest
evidence is geometric: a lens is fixed in the room, so while the view moves its room
position stays put; reflections slide over their surface or sit still in the picture.
Appearance adds the rest: small, round, steady, and white like the flash (an LED has its
own colour and needs no flash).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np

from reclaim.sweep.optical.detect import COLOURED
from reclaim.sweep.optical.track import Track, ViewPath
from reclaim.sweep.report import Reason

FULL_CREDIT_SECONDS = 1.5
"""A glint seen this long (with few gaps) gets the full weight for being persistent."""
MIN_TRAVEL = 0.04
"""The view must move this much (fraction of the width) to tell fixed from sliding."""
BLUR_SPEED = 0.18
"""A view moving faster than this (fraction of the width a second) may smear a small
glint too much to see: such frames do not count against a glint that is missed."""
JUMP = 0.005
"""From one sighting to the next a fixed glint strays less than this (fraction of the
width; 90th percentile): centroid jitter and the error of one movement estimate."""
MIN_JUMP = 2.4
"""... and never less than this many pixels."""
WEIGHTS: dict[str, float] = {
    "persistent": 0.2,
    "stays_put": 0.45,
    "mostly_stays_put": 0.45,
    "view_still": 0.0,
    "slides": -0.4,
    "follows_view": -0.5,
    "round": 0.15,
    "roundish": 0.05,
    "elongated": -0.15,
    "steady": 0.1,
    "fairly_steady": 0.0,
    "unsteady": -0.1,
    "white": 0.1,
    "tinted": 0.0,
    "coloured": -0.6,
    "seen_again": 0.05,
    "crowded": -0.3,
    "blinks": -0.15,
}
"""Every reason and the largest weight it carries. Positive weights are scaled by the
evidence (how much of the time it was seen), the geometric ones also by how far the view
moved; the positive ones add up to 1 (with ``mostly_stays_put`` in place of
``stays_put``, less)."""
BUSY = 4
"""This many other glints around the same spot make it a busy one (drops, glitter)."""
NEIGHBOURHOOD = 0.05
"""How near (fraction of the width, in the room) another glint must be to count."""
FIXED = 0.004
"""Wander (RMS, fraction of the width) still counted as fixed in the room: detection
jitter of a pixel or two."""
DRIFT_PER_TRAVEL = 0.01
"""Extra wander allowed per pixel the view travelled: the measured movement is summed
frame by frame and drifts a little."""


@dataclass(frozen=True, slots=True)
class TrackFacts:
    """Measured over one track; lengths in detection pixels."""

    seen: int
    expected: int
    """Frames, from its first to its last sighting, in which it should have been seen."""
    duration: float
    travel: float
    """How far the view moved while it was seen."""
    drift: float
    """Spread (RMS) of its position in the room."""
    drift_ratio: float
    """Its spread in the room over the view's spread: 0 fixed in the room, 1 fixed in
    the picture, between: sliding over a surface."""
    jump: float
    """How far it strays from where a fixed glint would be, from one sighting to the next
    (90th percentile): small for a lens, large for a highlight that slides or a chain of
    drops sparkling one after another."""
    diameter: float
    steadiness: float
    """The larger relative spread (coefficient of variation) of its size and contrast."""
    chroma: float
    colour: tuple[float, float, float]
    elongation: float
    crowd: float
    """Other white glints in the same frames close by (median over its sightings)."""
    company: int
    """Other white glints seen, at any time, around the same spot in the room."""
    gaps: int
    """Runs of frames in which it should have shown (in the picture) but did not."""
    passes: int
    room: tuple[float, float]


def measure(
    track: Track, path: ViewPath, width: int, height: int, reach: int, company: int = 0
) -> TrackFacts:
    sightings = track.sightings
    frames = np.asarray([s.frame for s in sightings])
    origins = np.asarray([path.origins[f] for f in frames])
    points = np.asarray([(s.glint.x, s.glint.y) for s in sightings])
    room = points - origins
    centre = room.mean(axis=0)
    drift = float(np.sqrt(((room - centre) ** 2).sum(axis=1).mean()))
    view = float(np.sqrt(((origins - origins.mean(axis=0)) ** 2).sum(axis=1).mean()))
    span = np.ptp(origins, axis=0)
    diameters = np.asarray([s.glint.diameter for s in sightings])
    contrasts = np.asarray([s.glint.contrast for s in sightings])
    speeds = np.asarray([s.speed for s in sightings])
    steady = speeds <= np.median(speeds)  # the sharper half: motion blur stretches glints
    expected, gaps = _expected(centre, path, frames, width, height, reach)
    # Steps between sightings close in time only: across a long gap (another pass) the
    # summed movement has drifted, which the wander allowance covers.
    close = np.diff(frames) <= 3
    steps = np.hypot(*(np.diff(room, axis=0)[close].T)) if close.any() else np.zeros(1)
    red, green, blue = np.mean([s.glint.colour for s in sightings], axis=0)
    elongations = np.asarray([s.glint.elongation for s in sightings])
    return TrackFacts(
        seen=len(sightings),
        expected=expected,
        duration=track.duration,
        travel=float(np.hypot(*span)),
        drift=drift,
        drift_ratio=drift / max(view, 1.0),
        jump=float(np.percentile(steps, 90)),
        diameter=float(np.median(diameters)),
        steadiness=float(max(_spread(diameters), _spread(contrasts))),
        chroma=float(np.median([s.glint.chroma for s in sightings])),
        colour=(float(red), float(green), float(blue)),
        elongation=float(np.median(elongations[steady])),
        crowd=float(np.median([s.glint.crowd for s in sightings])),
        company=company,
        gaps=gaps,
        passes=track.passes,
        room=(float(centre[0]), float(centre[1])),
    )


def score_alone(
    track: Track, path: ViewPath, *, width: int, height: int, reach: int, fps: float
) -> float:
    """The score ``track`` gets on its own, as it ends: before passes are joined and other
    glints around it are counted (the tracker's rank for what it keeps)."""
    return assess(measure(track, path, width, height, reach), width, 1.0, fps)[0]


def company(
    spots: list[tuple[float, float]], others: list[tuple[float, float]], width: int
) -> list[int]:
    """For each room position in ``spots``, how many of ``spots`` and ``others`` (besides
    itself) lie within :data:`NEIGHBOURHOOD` of it. A grid of cells as wide as that
    distance keeps this linear in the number of glints."""
    radius = NEIGHBOURHOOD * width
    cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for x, y in [*spots, *others]:
        cells.setdefault((math.floor(x / radius), math.floor(y / radius)), []).append((x, y))
    counts = []
    for x, y in spots:
        cx, cy = math.floor(x / radius), math.floor(y / radius)
        near = sum(
            1
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            for ox, oy in cells.get((cx + dx, cy + dy), ())
            if (ox - x) ** 2 + (oy - y) ** 2 <= radius**2
        )
        counts.append(near - 1)
    return counts


def _expected(
    room: np.ndarray,
    path: ViewPath,
    frames: np.ndarray,
    width: int,
    height: int,
    reach: int,
) -> tuple[int, int]:
    """Frames from the first sighting to the last in which a glint fixed at ``room``
    could have been seen -- inside the searched part of the picture, and the view steady
    enough not to smear a small glint below the brightness it needs -- and the runs of
    those it was missed in."""
    first, last = int(frames[0]), int(frames[-1])
    where = room + np.asarray(path.origins[first : last + 1])
    inside = (
        (where[:, 0] >= reach)
        & (where[:, 0] < width - reach)
        & (where[:, 1] >= reach)
        & (where[:, 1] < height - reach)
    )
    inside &= np.asarray(path.speeds[first : last + 1]) <= BLUR_SPEED * width
    seen = np.zeros_like(inside)
    seen[frames - first] = True
    inside |= seen
    missing = (inside & ~seen).astype(np.int8)
    gaps = int(np.count_nonzero(np.diff(missing, prepend=0) == 1))
    return int(inside.sum()), gaps


def _spread(values: np.ndarray) -> float:
    mean = float(values.mean())
    return float(values.std()) / mean if mean > 0 else 0.0


def assess(facts: TrackFacts, width: int, scale: float, fps: float) -> tuple[float, list[Reason]]:
    """The track's score in [0, 1] and the reasons that make it up. ``scale`` turns
    detection pixels into the video's own pixels for the sentences.

    Positive weights grow with the evidence (how many frames it was seen in, of those it
    should have shown in): a glint seen three times may be round and white and still be a
    water drop's sparkle.
    """
    share = min(1.0, facts.seen / facts.expected)
    # Seen long enough, and in most of the frames where it should show: a reflection off a
    # moving highlight can line up with a fixed spot now and then, never most of the time.
    evidence = min(1.0, facts.seen / (FULL_CREDIT_SECONDS * fps)) * min(1.0, share / 0.8)
    reasons = [
        _persistence(facts, scale, evidence),
        _geometry(facts, width, scale, evidence),
        _shape(facts, evidence),
        _steadiness(facts, evidence),
        _colour(facts, evidence),
    ]
    if facts.passes > 1:
        reasons.append(
            _reason(
                "seen_again",
                f"seen again at the same place when the view came back ({facts.passes} passes)",
                evidence,
            )
        )
    if facts.crowd >= 2 or facts.company >= BUSY:
        many = (
            f"one of {round(facts.crowd) + 1} similar glints close together"
            if facts.crowd >= 2
            else f"{facts.company} other glints came and went around this spot"
        )
        reasons.append(_reason("crowded", f"{many}: probably water drops or a glittery surface"))
    if facts.gaps >= 3 and facts.seen < 0.8 * facts.expected:
        reasons.append(_reason("blinks", "goes off and on again and again: a blinking light"))
    score = float(np.clip(sum(r.weight for r in reasons), 0.0, 1.0))
    return score, reasons


def _persistence(facts: TrackFacts, scale: float, evidence: float) -> Reason:
    share = min(1.0, facts.seen / facts.expected)
    look = "white" if facts.chroma < COLOURED else _hue_name(facts.colour)
    return _reason(
        "persistent",
        f"a small {look} glint, {facts.diameter * scale:.0f} px across, seen in {facts.seen} "
        f"of the {max(facts.expected, facts.seen)} frames that could show it over "
        f"{facts.duration:.1f} s while the view moved {facts.travel * scale:.0f} px",
        share * evidence,
    )


def _geometry(facts: TrackFacts, width: int, scale: float, evidence: float) -> Reason:
    least = MIN_TRAVEL * width
    if facts.travel < least:
        return _reason(
            "view_still",
            "the view hardly moved while it was seen, so whether it is fixed in the room "
            "cannot be told: pan slowly past it",
        )
    certainty = 0.5 + 0.5 * min(1.0, (facts.travel - least) / least)
    # What "fixed" allows: detection jitter, and the drift of the accumulated movement.
    allowed = FIXED * width + DRIFT_PER_TRAVEL * facts.travel
    ratio, drift = facts.drift_ratio, facts.drift
    if ratio >= 0.75:
        return _reason(
            "follows_view",
            "stays at the same place in the picture while the room moves past: the "
            "flashlight's own reflection on a glossy surface",
            certainty,
        )
    strays = facts.jump / max(JUMP * width, MIN_JUMP)
    if ratio >= 0.25 or drift >= 1.6 * allowed or strays >= 2:
        return _reason(
            "slides",
            f"moves over its surface as the view moves ({drift * scale:.0f} px, "
            f"{ratio:.0%} of the view's movement): a reflection on something shiny",
            certainty,
        )
    if drift <= allowed and ratio <= 0.12 and strays <= 1.0:
        return _reason(
            "stays_put",
            f"stays put relative to the room (within {drift * scale:.1f} px) as the view moves",
            certainty * evidence,
        )
    closeness = max(
        0.0, min((0.25 - ratio) / 0.13, (1.6 * allowed - drift) / (0.6 * allowed), 2 - strays, 1.0)
    )
    return _reason(
        "mostly_stays_put",
        f"mostly stays put, wandering {drift * scale:.1f} px in the room ({ratio:.0%} of the "
        f"view's movement) and straying up to {facts.jump * scale:.1f} px from one frame to "
        "the next: parallax, a reflection on a small curved surface, or drops sparkling in "
        "turn",
        certainty * evidence * closeness,
    )


def _shape(facts: TrackFacts, evidence: float) -> Reason:
    if facts.elongation <= 1.8:
        return _reason("round", "round and compact", evidence)
    if facts.elongation <= 2.5:
        return _reason("roundish", f"roughly round ({facts.elongation:.1f}:1)", evidence)
    return _reason("elongated", f"elongated ({facts.elongation:.1f}:1): a highlight along an edge")


def _steadiness(facts: TrackFacts, evidence: float) -> Reason:
    if facts.steadiness <= 0.25:
        return _reason("steady", "keeps its size and brightness", evidence)
    if facts.steadiness >= 0.5:
        return _reason(
            "unsteady", "changes size and brightness from frame to frame, as reflections do"
        )
    return _reason("fairly_steady", "its size and brightness vary somewhat")


def _colour(facts: TrackFacts, evidence: float) -> Reason:
    if facts.chroma < 0.15:
        return _reason("white", "white, like the flashlight", evidence)
    if facts.chroma < COLOURED:
        return _reason("tinted", "slightly tinted (lens coatings tint a glint)")
    return _reason("coloured", f"coloured ({_hue_name(facts.colour)}): probably an LED indicator")


def _reason(code: str, text: str, factor: float = 1.0) -> Reason:
    return Reason(code, text, round(WEIGHTS[code] * factor, 3))


def _hue_name(colour: tuple[float, float, float]) -> str:
    r, g, b = (max(0.0, min(1.0, c / 255)) for c in colour)
    hue, _, saturation = colorsys.rgb_to_hls(r, g, b)
    if saturation < 0.15:
        return "whitish"
    degrees = hue * 360
    for limit, name in (
        (20, "red"),
        (45, "orange"),
        (70, "yellow"),
        (170, "green"),
        (200, "cyan"),
        (260, "blue"),
        (320, "purple"),
        (360, "red"),
    ):
        if degrees < limit:
            return name
    return "red"

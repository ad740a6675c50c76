"""The parts on their own: the view's movement, glints in one frame, the verdict on a
track, the options' bounds, and the generator's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reclaim.sweep.optical import GlintOptions
from reclaim.sweep.optical.detect import COLOURED, Glint, find_glints
from reclaim.sweep.optical.findings import _clock
from reclaim.sweep.optical.motion import MotionEstimator, Step
from reclaim.sweep.optical.scene_objects import stamp
from reclaim.sweep.optical.scenes import GroundTruth, LensSpec, SceneSpec, build_scene
from reclaim.sweep.optical.score import TrackFacts, assess
from reclaim.sweep.optical.track import Sighting, Track, ViewPath, join_revisits
from reclaim.sweep.report import LIKELY, POSSIBLE


def _texture(seed: int, height: int = 300, width: int = 520) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(60, 170, (height // 10 + 2, width // 10 + 2))
    fine = np.kron(coarse, np.ones((10, 10)))[:height, :width]
    return np.clip(fine + rng.normal(0, 6, (height, width)), 0, 255)


@pytest.mark.parametrize(("dx", "dy"), [(0.0, 0.0), (7.0, -3.0), (-12.5, 4.25), (30.0, 11.0)])
def test_motion_finds_the_shift(dx: float, dy: float) -> None:
    room = _texture(1, 400, 700)
    ys, xs = np.mgrid[0:270, 0:480].astype(np.float64)

    def view(ox: float, oy: float) -> np.ndarray:
        # Bilinear sampling of the room at a sub-pixel offset.
        x, y = xs + 100 + ox, ys + 60 + oy
        x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
        fx, fy = x - x0, y - y0
        grey = (
            room[y0, x0] * (1 - fx) * (1 - fy)
            + room[y0, x0 + 1] * fx * (1 - fy)
            + room[y0 + 1, x0] * (1 - fx) * fy
            + room[y0 + 1, x0 + 1] * fx * fy
        )
        return np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)

    motion = MotionEstimator()
    motion.step(view(0, 0))
    step = motion.step(view(-dx, -dy))  # the view moves left: the room moves right
    assert step.reliable
    assert step.dx == pytest.approx(dx, abs=0.35)
    assert step.dy == pytest.approx(dy, abs=0.35)


def test_motion_on_a_blank_view_is_unreliable() -> None:
    motion = MotionEstimator()
    grey = np.full((270, 480, 3), 90, np.uint8)
    motion.step(grey)
    assert not motion.step(grey).reliable


def test_glints_are_small_bright_and_measured() -> None:
    frame = np.repeat(_texture(2)[:, :, None], 3, axis=2).astype(np.float32)
    stamp(frame, 100.3, 80.6, diameter=4.0, amplitude=500.0)  # a lens
    frame[194:207, 294:307] = 30.0  # an LED on its device
    stamp(frame, 300.0, 200.0, diameter=3.0, amplitude=500.0, colour=(1.0, 0.1, 0.05))
    frame[150:230, 380:500] = 250.0  # a screen: big, not a glint
    stamp(frame, 200.0, 60.0, diameter=3.0, amplitude=500.0, elongation=3.0)  # an edge
    rgb = np.clip(frame, 0, 255).astype(np.uint8)
    glints = find_glints(rgb, GlintOptions())

    def at(x: float, y: float) -> Glint:
        return min(glints, key=lambda g: (g.x - x) ** 2 + (g.y - y) ** 2)

    lens = at(100.3, 80.6)
    assert (lens.x, lens.y) == (pytest.approx(100.3, abs=0.5), pytest.approx(80.6, abs=0.5))
    assert lens.diameter == pytest.approx(4.0, abs=1.2)
    assert lens.chroma < 0.15
    assert lens.elongation < 1.5
    assert at(300, 200).chroma >= COLOURED
    edge = at(200, 60)
    assert abs(edge.x - 200) < 1
    assert edge.elongation > 2.5
    assert not [g for g in glints if 380 <= g.x < 500 and 150 <= g.y < 230]
    assert len(glints) == 3


def test_a_frame_without_glints_has_none() -> None:
    rgb = np.repeat(_texture(3)[:, :, None], 3, axis=2).astype(np.uint8)
    assert find_glints(rgb, GlintOptions()) == []
    assert find_glints(np.zeros((8, 8, 3), np.uint8), GlintOptions()) == []


def _facts(**changes: object) -> TrackFacts:
    lens = {
        "seen": 36,
        "expected": 38,
        "duration": 3.5,
        "travel": 160.0,
        "drift": 0.8,
        "drift_ratio": 0.015,
        "jump": 0.6,
        "company": 0,
        "diameter": 3.5,
        "steadiness": 0.12,
        "chroma": 0.04,
        "colour": (250.0, 250.0, 252.0),
        "elongation": 1.2,
        "crowd": 0.0,
        "gaps": 1,
        "passes": 1,
        "room": (200.0, 100.0),
    }
    return TrackFacts(**{**lens, **changes})  # type: ignore[arg-type]


def _score(facts: TrackFacts) -> tuple[float, set[str]]:
    score, reasons = assess(facts, width=480, scale=1.0, fps=12.0)
    return score, {reason.code for reason in reasons}


def test_a_fixed_white_round_glint_is_likely() -> None:
    score, codes = _score(_facts())
    assert score >= LIKELY
    assert {"persistent", "stays_put", "round", "steady", "white"} <= codes


@pytest.mark.parametrize(
    ("changes", "code", "below"),
    [
        ({"drift": 40.0, "drift_ratio": 0.5}, "slides", POSSIBLE),
        ({"drift": 50.0, "drift_ratio": 0.98}, "follows_view", POSSIBLE),
        ({"chroma": 0.7, "colour": (250.0, 30.0, 20.0)}, "coloured", POSSIBLE),
        ({"elongation": 3.5, "drift": 12.0, "drift_ratio": 0.2}, "elongated", POSSIBLE),
        ({"seen": 4, "expected": 5, "duration": 0.4}, "persistent", POSSIBLE),
        # Drops that stay put: worth a look at most.
        ({"crowd": 6.0}, "crowded", LIKELY),
        ({"seen": 14, "expected": 38, "gaps": 6}, "blinks", LIKELY),
        ({"company": 9}, "crowded", LIKELY),
        # Hopping from drop to drop: never far, but never quite still.
        ({"jump": 4.5, "drift": 3.0, "drift_ratio": 0.15}, "mostly_stays_put", LIKELY),
    ],
)
def test_what_lenses_do_not_do_keeps_the_score_down(
    changes: dict[str, object], code: str, below: float
) -> None:
    score, codes = _score(_facts(**changes))
    assert score < below
    assert code in codes


def test_a_still_view_cannot_tell_and_says_so() -> None:
    score, codes = _score(_facts(travel=5.0))
    assert "view_still" in codes
    assert POSSIBLE <= score < LIKELY


def test_the_led_reason_names_its_colour() -> None:
    _, reasons = assess(_facts(chroma=0.8, colour=(20.0, 240.0, 40.0)), 480, 1.0, 12.0)
    assert any("green" in r.text and "LED" in r.text for r in reasons)


@pytest.mark.parametrize(
    "bad",
    [
        {"fps": 0.5},
        {"max_side": 100},
        {"max_diameter": 0.0},
        {"max_candidates": 0},
        {"max_gap": -1},
        # Unchecked before: NaN slipped through every comparison, a fractional count
        # failed deep inside (a slice), thresholds out of range found nothing silently.
        {"max_gap": float("nan")},
        {"min_track": float("inf")},
        {"min_brightness": 300.0},
        {"min_contrast": -5.0},
        {"min_report_score": 1.5},
        {"max_findings": -1},
        {"max_findings": 2.5},
        {"max_candidates": 10_000},
        {"max_side": 960.5},
        {"fps": "12"},
        {"max_findings": True},
    ],
)
def test_options_are_checked(bad: dict[str, object]) -> None:
    (name,) = bad
    with pytest.raises(ValueError, match=rf"^GlintOptions\.{name} .*, not "):
        GlintOptions(**bad)  # type: ignore[arg-type]


def test_the_ground_truth_follows_the_view(tmp_path: Path) -> None:
    spec = SceneSpec(seed=9, seconds=1.0, lenses=(LensSpec(4.0),))
    scene = build_scene(spec)
    lens = next(thing for ident, thing in scene.objects if ident == "lens-1")
    for index in (0, 7):
        offset = scene.offset(index / spec.fps)
        glints = {ident: (x, y) for ident, _, x, y, _ in scene.truth_at(index)}
        if "lens-1" in glints:
            assert glints["lens-1"] == pytest.approx((lens.x - offset[0], lens.y - offset[1]))  # type: ignore[attr-defined]
    truth = GroundTruth(spec.width, spec.height, spec.fps, spec.frames)
    again = GroundTruth.from_json(json.loads(json.dumps(truth.to_json())))
    assert again == truth


@pytest.mark.parametrize("shape", [(2, 1920), (4, 1280), (1920, 2), (1, 1)])
def test_motion_in_frames_too_thin_for_texture_is_unmeasured(shape: tuple[int, int]) -> None:
    """A video 2 pixels high reduced to no rows at all crashed the FFT (ZeroDivisionError)."""
    motion = MotionEstimator()
    rng = np.random.default_rng(0)
    for _ in range(3):
        step = motion.step(rng.integers(0, 255, (*shape, 3), dtype=np.uint8))
    assert not step.reliable
    assert (step.dx, step.dy) == (0.0, 0.0)


def _lone_track(ident: int, frames: range, contrast: float, picture: bool) -> Track:
    found = Track(ident)
    for frame in frames:
        glint = Glint(10.0, 10.0, 3.0, 250.0, contrast, 0.0, 1.0, (250.0, 250.0, 250.0))
        found.add(Sighting(frame, frame / 12, glint, 0.0), np.zeros((4, 4, 3), np.uint8))
    if not picture:
        found.best_rgb = None
    return found


@pytest.mark.parametrize(("first", "second"), [(True, False), (False, True), (True, True)])
def test_joined_passes_keep_a_picture(first: bool, second: bool) -> None:
    """Joining a later, clearer pass whose frame was let go used to drop the picture the
    first pass still had."""
    path = ViewPath()
    for frame in range(40):
        path.add(frame / 12, Step(0.0, 0.0, 1.0))
    early = _lone_track(1, range(0, 10), contrast=60.0, picture=first)
    late = _lone_track(2, range(30, 40), contrast=120.0, picture=second)
    (joined,) = join_revisits([early, late], path, width=480)
    assert joined.passes == 2
    assert joined.best_rgb is not None
    assert joined.best is not None
    assert joined.best.glint.contrast == (120.0 if second else 60.0)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.0, "0:00.0"), (59.94, "0:59.9"), (59.96, "1:00.0"), (119.97, "2:00.0"), (61.25, "1:01.2")],
)
def test_finding_times_read_as_a_clock(seconds: float, shown: str) -> None:
    """59.96 s used to read 0:60.0."""
    assert _clock(seconds) == shown

"""End to end on generated sweeps: both lenses are found at the right time and place,
nothing else is called a camera, and each finding's picture circles the right spot."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from reclaim.sweep.optical import GlintOptions, analyse, analyse_in_process, track
from reclaim.sweep.optical.annotate import MIN_WIDTH
from reclaim.sweep.optical.scenes import GroundTruth, ObjectTruth
from reclaim.sweep.report import LIKELY, Finding, Verdict
from tests.sweep.optical.conftest import Sweep


def _where(truth: GroundTruth, thing: ObjectTruth, seconds: float) -> tuple[float, float] | None:
    frame = round(seconds * truth.fps)
    for index, x, y in thing.track:
        if index == frame:
            return x, y
    return None


def _nearest(truth: GroundTruth, finding: Finding) -> tuple[str, float]:
    """The ground-truth glint nearest the finding's place at the finding's time."""
    best = ("nothing", math.inf)
    for thing in truth.objects:
        at = _where(truth, thing, finding.details["time"])
        if at is not None:
            distance = math.dist(at, (finding.details["x"], finding.details["y"]))
            if distance < best[1]:
                best = (thing.ident, distance)
    return best


def test_both_lenses_are_found_and_no_distractor_is_likely(two_lenses: Sweep) -> None:
    report = two_lenses.report
    likely = [f for f in report.findings if f.verdict is Verdict.CAMERA_LIKELY]
    matched = {_nearest(two_lenses.truth, f) for f in likely}
    assert {ident for ident, _ in matched} == {"lens-1", "lens-2"}, report.to_text()
    assert all(distance < 3.0 for _, distance in matched), matched
    for finding in report.findings:
        ident, distance = _nearest(two_lenses.truth, finding)
        if finding.score >= LIKELY:
            assert ident.startswith("lens"), (finding.label, ident)
            assert distance < 3.0
    # The distractors were really there, and in view.
    kinds = {thing.kind for thing in two_lenses.truth.objects if thing.track}
    assert kinds >= {"lens", "metal", "drops", "led", "hotspot"}


def test_a_lens_finding_explains_itself(two_lenses: Sweep) -> None:
    finding = two_lenses.report.ranked()[0]
    codes = {reason.code for reason in finding.reasons}
    assert {"persistent", "stays_put", "round", "white"} <= codes
    seen = next(r for r in finding.reasons if r.code == "persistent")
    assert "seen in" in seen.text
    assert "while the view moved" in seen.text
    details = finding.details
    assert details["first_seen"] <= details["time"] <= details["last_seen"]
    assert details["frames_seen"] <= details["frames_expected"]
    assert details["drift_ratio"] < 0.1
    assert finding.label.startswith("glint at 0:")


def test_distractors_alone_give_no_likely_camera(distractors_only: Sweep) -> None:
    report = distractors_only.report
    assert not [f for f in report.findings if f.verdict is Verdict.CAMERA_LIKELY], report.to_text()
    assert report.parameters["tracks_followed"] > 5  # the glints were seen, and judged
    assert any("no glint that stayed put" in note for note in report.notes)


def test_the_picture_circles_the_lens(two_lenses: Sweep) -> None:
    for finding in two_lenses.report.findings:
        if finding.verdict is not Verdict.CAMERA_LIKELY:
            continue
        (attachment,) = finding.attachments
        assert attachment.media_type == "image/jpeg"
        assert attachment.caption.startswith(finding.label.removeprefix("glint at "))
        picture = np.asarray(Image.open(io.BytesIO(attachment.data)).convert("RGB"))
        height, width = picture.shape[:2]
        assert width >= MIN_WIDTH
        zoom = width / two_lenses.truth.width
        ident, _ = _nearest(two_lenses.truth, finding)
        thing = next(t for t in two_lenses.truth.objects if t.ident == ident)
        x, y = _where(two_lenses.truth, thing, finding.details["time"]) or (0.0, 0.0)
        # Walking out from the true place in every direction meets the yellow ring, at
        # the same distance all round: the circle is centred on the lens.
        reached = []
        for angle in np.linspace(0, 2 * np.pi, 36, endpoint=False):
            for step in range(3, 90):
                px = round((x + 0.5) * zoom + step * math.cos(angle))
                py = round((y + 0.5) * zoom + step * math.sin(angle))
                if not (0 <= px < width and 0 <= py < height):
                    break
                r, g, b = (int(v) for v in picture[py, px])
                if r > 180 and g > 150 and b < 110:
                    reached.append(step)
                    break
        assert len(reached) >= 30, (finding.label, reached)
        middle = float(np.median(reached))
        assert sum(abs(d - middle) <= 2 for d in reached) >= 28, (finding.label, reached)


def test_the_report_renders_with_pictures(two_lenses: Sweep) -> None:
    html = two_lenses.report.to_html()
    assert html.count("data:image/jpeg;base64,") >= 2
    assert two_lenses.report.to_json()["method"] == "optical"
    assert "likely camera" in two_lenses.report.to_text()


def test_the_isolated_worker_gives_the_same_report(two_lenses: Sweep) -> None:
    report = analyse(two_lenses.path)
    assert [(f.ident, round(f.score, 6)) for f in report.ranked()] == [
        (f.ident, round(f.score, 6)) for f in two_lenses.report.ranked()
    ]


def test_options_bound_the_findings(two_lenses: Sweep) -> None:
    report = analyse_in_process(two_lenses.path, options=GlintOptions(max_findings=1))
    assert len(report.findings) == 1
    assert report.findings[0].verdict is Verdict.CAMERA_LIKELY


def test_the_lenses_keep_their_pictures_among_many_tracks(
    two_lenses: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When more tracks end than frames can be kept (a long sweep), the frames kept are
    those of the most lens-like tracks, not of the longest (reflections, LEDs)."""
    monkeypatch.setattr(track, "PICTURES_KEPT", 2)
    report = analyse_in_process(two_lenses.path)
    likely = [f for f in report.findings if f.verdict is Verdict.CAMERA_LIKELY]
    assert len(likely) == 2
    assert all(len(f.attachments) == 1 for f in likely), [f.ident for f in likely]

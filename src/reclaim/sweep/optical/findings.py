"""Turn finished glint tracks into the sweep report: scored findings with their reasons,
the annotated picture of each, and notes on what was read and what was set aside."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from reclaim.media.video import VideoInfo
from reclaim.sweep.optical.annotate import annotate
from reclaim.sweep.optical.detect import COLOURED
from reclaim.sweep.optical.options import GlintOptions
from reclaim.sweep.optical.score import TrackFacts, assess, company, measure
from reclaim.sweep.optical.track import Track, Tracker, join_revisits, room_position
from reclaim.sweep.report import LIKELY, Attachment, Finding, Reason, SweepReport, now


def build_report(
    *,
    target: str,
    started: datetime,
    info: VideoInfo,
    fps: float,
    tracker: Tracker,
    options: GlintOptions,
    notes: list[str],
    parameters: dict[str, Any],
) -> SweepReport:
    width, height = tracker.width, tracker.height
    tracks = join_revisits(tracker.finish(), tracker.path, width)
    scale = info.width / width if info.width > 0 else 1.0
    white = [track for track in tracks if _white(track)]
    spots = [room_position(track, tracker.path) for track in white]
    counts = company(spots, tracker.brief, width)
    around = {id(track): count for track, count in zip(white, counts, strict=True)}
    scored = []
    for track in tracks:
        facts = measure(track, tracker.path, width, height, tracker.reach, around.get(id(track), 0))
        score, reasons = assess(facts, width, scale, fps)
        scored.append((score, track, facts, reasons))
    scored.sort(key=lambda item: (-item[0], item[1].ident))
    shown = [item for item in scored if item[0] >= options.min_report_score]
    findings = [
        _finding(score, track, facts, reasons, scale)
        for score, track, facts, reasons in shown[: options.max_findings]
    ]
    report = SweepReport(
        method="optical",
        target=target,
        started=started,
        finished=now(),
        findings=findings,
        notes=[*notes, *_summary(tracker, len(tracks), shown, len(findings), fps, info)],
        parameters={
            **parameters,
            "detection_size": [width, height],
            "tracks_followed": len(tracks) + tracker.dropped,
            "fps_read": round(fps, 3),
            "video": {
                "width": info.width,
                "height": info.height,
                "fps": round(info.fps, 3),
                "duration": info.duration,
                "codec": info.codec,
            },
        },
    )
    return report


def _finding(
    score: float, track: Track, facts: TrackFacts, reasons: list[Reason], scale: float
) -> Finding:
    best = track.best
    assert best is not None
    x, y = _video_xy(best.glint.x, best.glint.y, scale)
    when = _clock(best.ts)
    label = f"glint at {when}"
    details = {
        "time": round(best.ts, 3),
        "first_seen": round(track.first.ts, 3),
        "last_seen": round(track.last.ts, 3),
        "x": round(x, 1),
        "y": round(y, 1),
        "diameter_px": round(facts.diameter * scale, 1),
        "frames_seen": facts.seen,
        "frames_expected": max(facts.expected, facts.seen),
        "view_travel_px": round(facts.travel * scale, 1),
        "drift_px": round(facts.drift * scale, 2),
        "drift_ratio": round(facts.drift_ratio, 3),
        "jump_px": round(facts.jump * scale, 2),
        "passes": facts.passes,
        "chroma": round(facts.chroma, 3),
        "elongation": round(facts.elongation, 2),
        "track": [
            [round(s.ts, 3), *(round(v, 1) for v in _video_xy(s.glint.x, s.glint.y, scale))]
            for s in track.sightings
        ],
    }
    attachments: tuple[Attachment, ...] = ()
    if track.best_rgb is not None:
        caption = f"{when}, at x {x:.0f}, y {y:.0f} of the frame (circled; inset enlarged)"
        picture = annotate(
            track.best_rgb,
            best.glint.x,
            best.glint.y,
            best.glint.diameter,
            f"{when}  x {x:.0f}, y {y:.0f}",
        )
        attachments = (Attachment(f"glint-{track.ident}.jpg", "image/jpeg", picture, caption),)
    return Finding(
        ident=f"glint-{track.ident}",
        label=label,
        score=score,
        reasons=tuple(reasons),
        details=details,
        attachments=attachments,
    )


def _white(track: Track) -> bool:
    return float(np.median([s.glint.chroma for s in track.sightings])) < COLOURED


def _video_xy(x: float, y: float, scale: float) -> tuple[float, float]:
    """Detection pixels (centres at integers) to the video's own pixels."""
    return (x + 0.5) * scale - 0.5, (y + 0.5) * scale - 0.5


def _clock(seconds: float) -> str:
    """``m:ss.s``, rounded to the tenth first (59.96 s is 1:00.0, not 0:60.0)."""
    minutes, tenths = divmod(round(seconds * 10), 600)
    return f"{minutes}:{tenths / 10:04.1f}"


def _summary(
    tracker: Tracker,
    tracks: int,
    shown: list[tuple[float, Track, TrackFacts, list[Reason]]],
    listed: int,
    fps: float,
    info: VideoInfo,
) -> list[str]:
    path = tracker.path
    frames = len(path.times)
    lost = sum(path.lost)
    notes = [
        f"read {frames} frames ({fps:.3g} a second) of a {info.width}x{info.height} "
        f"{info.codec} video, scaled to {tracker.width}x{tracker.height} for detection",
        f"{tracks + tracker.dropped} glint tracks followed: {tracker.dropped} too brief to "
        f"judge, {tracks - len(shown)} judged unlike a lens, {len(shown)} listed"
        + (f" (the {listed} strongest shown)" if listed < len(shown) else ""),
    ]
    if tracker.set_aside:
        notes.append(
            f"the video holds very many glints: {tracker.set_aside} of the least lens-like "
            "tracks were set aside unjudged"
        )
    if lost:
        notes.append(
            f"the view's movement could not be measured between {lost} pair(s) of frames "
            "(too fast, too dark or blank): glints there were followed less surely"
        )
    if frames and path.times[-1] - path.times[0] < 2.0:
        notes.append("the video is short: pan slowly across each surface for a few seconds")
    if not any(score >= LIKELY for score, *_ in shown):
        notes.append(
            "no glint that stayed put in the room was found; a lens behind tinted glass or a "
            "pinhole may glint too weakly to see: look closely at anything aimed at the room"
        )
    notes.append(
        f"a score of {LIKELY:g} or more means the glint behaved like a lens: go to the place "
        "in the picture and look with the flashlight from several angles"
    )
    return notes

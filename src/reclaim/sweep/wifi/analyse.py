"""``analyse``: one monitor-mode capture in, one sweep report out.

Read the capture into links (:mod:`.traffic`), judge every unit that sent enough to judge
(:mod:`.features`, :mod:`.scoring`), run the stimulus test on each if a timeline was given
(:mod:`.stimulus`), and plot the rate of every possible camera against that timeline.
What could not be done -- a damaged tail, traffic beyond a limit, transmitters too quiet
to judge -- goes into the report's notes rather than failing the sweep.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from reclaim.sweep.plots import Band, line_plot
from reclaim.sweep.report import POSSIBLE, Attachment, Finding, SweepReport, now
from reclaim.sweep.wifi.capture import LINKTYPE_NAMES, CaptureLimits, too_slow
from reclaim.sweep.wifi.errors import CaptureTooLarge
from reclaim.sweep.wifi.features import Features, binned, measure
from reclaim.sweep.wifi.frames import LINKTYPES_80211, Skip
from reclaim.sweep.wifi.scoring import Judgement, judge, stimulus_counts
from reclaim.sweep.wifi.stimulus import (
    BIN,
    SHUFFLES,
    Interval,
    Observation,
    StimulusResult,
    StimulusTest,
    relative,
)
from reclaim.sweep.wifi.traffic import Traffic, Unit, collect, units

MIN_FRAMES = 50
"""Units that sent fewer data frames are counted in the notes, not judged."""
PLOT_BIN = 1.0


def analyse(
    path: Path,
    *,
    stimulus: Sequence[Interval] = (),
    limits: CaptureLimits = CaptureLimits(),  # noqa: B008 -- frozen, so sharing is safe
) -> SweepReport:
    """Find streaming cameras in the 802.11 capture at ``path``.

    ``stimulus``: when the inspector switched the light or waved (see
    :mod:`reclaim.sweep.wifi.stimulus` for relative and epoch times). Raises
    :class:`~reclaim.sweep.wifi.errors.CaptureError` subclasses for captures that cannot be
    read at all, and :class:`~reclaim.sweep.wifi.errors.StimulusError` for a timeline that
    mixes time kinds.
    """
    started = now()
    deadline = time.monotonic() + limits.max_seconds
    traffic = collect(path, limits)
    timeline = relative(stimulus, traffic.start)
    seconds = max(traffic.duration, BIN)
    bins = math.ceil(seconds / BIN)
    test = StimulusTest(timeline, bins, seed=_seed(timeline)) if timeline else None
    name = ", ".join(sorted({i.label for i in timeline if i.label}))[:60]
    measured: list[tuple[Unit, Features, Observation | None]] = []
    quiet = 0
    for unit in units(traffic):
        if len(unit.fwd_times) < MIN_FRAMES:
            quiet += 1
            continue
        if time.monotonic() > deadline:
            raise CaptureTooLarge(path, too_slow(limits))
        features = measure(unit, seconds)
        rate = binned(unit.fwd_times, unit.fwd_sizes, BIN, bins)
        measured.append((unit, features, test.observe(rate) if test is not None else None))
    # The stimulus p-values allow for every unit whose result is scored (the family).
    family = {
        i: seen
        for i, (_, f, seen) in enumerate(measured)
        if seen is not None and stimulus_counts(f)
    }
    adjusted = dict(zip(family, StimulusTest.adjust(list(family.values())), strict=True))
    findings = []
    for i, (unit, features, seen) in enumerate(measured):
        result = seen.result(adjusted.get(i, seen.p_stream)) if seen is not None else None
        judgement = judge(unit, features, result, name)
        findings.append(_finding(unit, features, judgement, result, timeline, seconds))
    return SweepReport(
        method="wifi",
        target=str(path),
        started=started,
        finished=now(),
        findings=findings,
        notes=_notes(traffic, quiet, timeline, test, seconds, len(family)),
        parameters={
            "format": traffic.read.format,
            "records": traffic.read.records,
            "capture_seconds": round(traffic.duration, 3),
            "capture_start_epoch": traffic.start,
            "complete": not traffic.read.damage,
            "stimulus": [[i.start, i.end, i.label] for i in timeline],
            "limits": asdict(limits),
        },
    )


def _seed(timeline: Sequence[Interval]) -> int:
    """The stimulus test's shuffles depend only on the timeline: same input, same report."""
    # Rounded to milliseconds: the same log given in epoch or relative times is the same.
    return zlib.crc32(repr([(round(i.start, 3), round(i.end, 3)) for i in timeline]).encode())


def _finding(
    unit: Unit,
    f: Features,
    judgement: Judgement,
    result: StimulusResult | None,
    timeline: Sequence[Interval],
    seconds: float,
) -> Finding:
    details: dict[str, Any] = {
        "role": unit.role,
        "transmitter": unit.transmitter,
        "peer": unit.peer,
        "frames": f.frames,
        "bytes": f.bytes,
        "rate_bps": round(f.rate),
        "active_share": round(f.active, 3),
        "sent_over_received": None if math.isinf(f.ratio) else round(f.ratio, 2),
        "reverse_media_bps": round(f.rev_media_rate),
        "near_mtu_share": round(f.near_mtu, 3),
        "bursts_per_second": round(f.bursts_per_second, 2),
    }
    if f.periodicity:
        details["fps"] = round(f.periodicity.fps, 2)
        details["periodicity"] = round(f.periodicity.strength, 1)
    if f.key_frames:
        details["key_frame_period_s"] = round(f.key_frames.period, 2)
        details["key_frame_regularity"] = round(f.key_frames.regularity, 2)
    if result is not None:
        details["stimulus"] = {
            "r": round(result.r, 3),
            "p": round(result.p, 4),
            "p_stream": round(result.p_stream, 4),
            "lag_s": result.lag,
            "ratio": None if math.isinf(result.ratio) else round(result.ratio, 2),
        }
    attachments: tuple[Attachment, ...] = ()
    if judgement.score >= POSSIBLE:
        attachments = (_plot(unit, timeline, seconds),)
    return Finding(
        ident=unit.ident,
        label=f"{judgement.kind}: {unit.role} {unit.transmitter}",
        score=judgement.score,
        reasons=judgement.reasons,
        details=details,
        attachments=attachments,
    )


def _plot(unit: Unit, timeline: Sequence[Interval], seconds: float) -> Attachment:
    bins = max(1, math.ceil(seconds / PLOT_BIN))
    rate = binned(unit.fwd_times, unit.fwd_sizes, PLOT_BIN, bins) * 8 / PLOT_BIN / 1000
    xs = (np.arange(bins) + 0.5) * PLOT_BIN
    svg = line_plot(
        xs.tolist(),
        rate.tolist(),
        bands=[Band(i.start, i.end, i.label or "stimulus") for i in timeline],
        title=f"{unit.ident}: rate sent",
        x_label="seconds from the start of the capture",
        y_label="kbit/s",
        x_range=(0.0, bins * PLOT_BIN),
    )
    caption = f"What {unit.ident} sent, per second"
    if timeline:
        caption += "; shaded: stimulus intervals"
    return Attachment(f"rate-{unit.ident}.svg", "image/svg+xml", svg, caption)


def _notes(
    traffic: Traffic,
    quiet: int,
    timeline: Sequence[Interval],
    test: StimulusTest | None,
    seconds: float,
    tested: int,
) -> list[str]:
    read = traffic.read
    notes = [f"Read {read.records:,} records ({read.format}) spanning {traffic.duration:.1f} s."]
    if not read.records:
        notes.append("The capture holds no packets.")
    if read.damage:
        notes.append(
            f"The capture is damaged ({read.damage}); the analysis covers the "
            f"{read.records:,} records before that point."
        )
    other = {t: n for t, n in read.linktypes.items() if t not in LINKTYPES_80211}
    if other:
        kinds = ", ".join(
            f"{n:,} {LINKTYPE_NAMES.get(t, f'link type {t}')}" for t, n in sorted(other.items())
        )
        notes.append(f"Records that are not 802.11 were skipped: {kinds}.")
    if read.untimed:
        notes.append(f"{read.untimed:,} records without a timestamp were skipped.")
    if traffic.skipped[Skip.BAD_FCS]:
        notes.append(f"{traffic.skipped[Skip.BAD_FCS]:,} frames with a bad checksum were skipped.")
    if traffic.dropped_links:
        notes.append(
            f"{traffic.dropped_links:,} frames of links beyond the limit of links "
            "followed were skipped."
        )
    if traffic.out_of_range:
        notes.append(
            f"{traffic.out_of_range:,} records stamped outside the analysed time span were skipped."
        )
    if read.records and not traffic.links:
        notes.append(
            "No 802.11 data frames: was the capture made in monitor mode on the right channel?"
        )
    if quiet:
        notes.append(
            f"{quiet:,} streams sent fewer than {MIN_FRAMES} data frames and were not judged."
        )
    if timeline:
        notes.append(_stimulus_note(timeline, test, seconds, tested))
    return notes


def _stimulus_note(
    timeline: Sequence[Interval], test: StimulusTest | None, seconds: float, tested: int
) -> str:
    if test is None or not test.usable:
        return (
            "The stimulus timeline could not be used: it needs intervals inside the "
            f"capture's {seconds:.0f} s with time outside them as well."
        )
    return (
        f"Stimulus: {len(timeline)} intervals covering {test.coverage:.0%} of the capture; "
        f"rates compared with encoder lags of 0-2 s against {SHUFFLES} random placements. "
        f"p-values allow for the {tested} streams tested: the chance that any stream which "
        "ignores the stimulus is said to follow it is at most 1%, or 5% weakly."
    )

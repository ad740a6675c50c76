"""From features to a score, a kind and reasons a person can check.

The score is a sum of evidence, each piece a :class:`~reclaim.sweep.report.Reason` with its
weight, clipped to [0, 1]. The weights were set on captures of the traffic model drawn
from ``model.TUNING`` (``bench/sweep_wifi.py`` measures them on captures held out from
that), so that:

- a stream that is sustained, one-way and frame-periodic but shows no key-frame rhythm
  (a constant-bitrate camera -- or a throttled backup upload) is *possible* (0.65);
- with key frames every 0.4-5 s it is *likely* (0.85);
- a stimulus it follows adds 0.35, one it ignores takes 0.1 (it may watch elsewhere);
- receiving a media stream of its own (a call), or much more than it sends (watching,
  downloading), takes 0.4 / 0.3: a camera sends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reclaim.sweep.report import POSSIBLE, Reason
from reclaim.sweep.wifi.features import KEY_PERIOD, LINE, Features
from reclaim.sweep.wifi.stimulus import StimulusResult
from reclaim.sweep.wifi.traffic import Unit

MIN_RATE = 64_000
"""bit/s below which nothing is a video stream (audio alone, keep-alives, sensors)."""
STRONG_LINE = 8.0
ONE_WAY = 4.0
RECEIVER = 0.5
MEDIA_RATE = 100_000
MEDIA_ACTIVE = 0.5
KEY_REGULARITY = 0.7

W_SUSTAINED = 0.2
W_PARTLY = 0.1
W_FRAMES = 0.3
W_FRAMES_WEAK = 0.15
W_KEY_FRAMES = 0.2
W_FULL_SIZE = 0.05
W_ONE_WAY = 0.1
W_TWO_WAY = -0.4
W_RECEIVER = -0.3
W_STIMULUS = 0.35
W_STIMULUS_WEAK = 0.15
W_STIMULUS_NONE = -0.1


@dataclass(frozen=True)
class Judgement:
    score: float
    kind: str
    """What the traffic looks like, for people: ``camera-like stream``, ``two-way video``..."""
    reasons: tuple[Reason, ...]


def judge(
    unit: Unit, f: Features, stimulus: StimulusResult | None, stimulus_name: str = ""
) -> Judgement:
    """Score ``unit`` from its features and (if one was run) its stimulus test."""
    where = "upward" if unit.role == "station" else f"to {unit.peer}"
    reasons: list[Reason] = []
    if f.rate >= MIN_RATE:
        reasons += _volume(f, where)
        reasons += _rhythm(f) if stimulus_counts(f) else []
        reasons += _direction(f)
    score = sum(r.weight for r in reasons)
    if stimulus is not None and stimulus_counts(f):
        reasons += _stimulus(stimulus, stimulus_name, score)
        score = sum(r.weight for r in reasons)
    return Judgement(min(max(score, 0.0), 1.0), _kind(f), tuple(reasons))


def stimulus_counts(f: Features) -> bool:
    """Whether a stimulus test result is scored for a unit with features ``f`` (and its
    rhythm): it sends enough, and is not a receiver. What a receiver sends is an echo of
    what it receives (ACKs per video frame): its rhythm and its response to the stimulus
    belong to the sender, judged on its own."""
    return f.rate >= MIN_RATE and f.ratio > RECEIVER


def _volume(f: Features, where: str) -> list[Reason]:
    share = f"{f.active:.0%} of the capture"
    if f.active >= 0.8:
        return [
            Reason("sustained_stream", f"sends {_rate(f.rate)} {where} for {share}", W_SUSTAINED)
        ]
    if f.active >= 0.4:
        return [Reason("partly_sustained", f"sends {_rate(f.rate)} {where} for {share}", W_PARTLY)]
    return []


def _rhythm(f: Features) -> list[Reason]:
    p = f.periodicity
    if p is None or p.strength < LINE:
        return []
    strong = p.strength >= STRONG_LINE
    out = [
        Reason(
            "frame_periodicity" if strong else "weak_frame_periodicity",
            f"bursts every {1000 / p.fps:.0f} ms ({p.fps:.0f} fps)"
            + ("" if strong else ", faintly"),
            W_FRAMES if strong else W_FRAMES_WEAK,
        )
    ]
    k = f.key_frames
    expected = f.seconds * f.active / k.period if k else 0.0
    if (
        k is not None
        and KEY_PERIOD[0] <= k.period <= KEY_PERIOD[1]
        and k.regularity >= KEY_REGULARITY
        and k.count >= max(4.0, 0.4 * expected)
    ):
        out.append(
            Reason(
                "key_frames",
                f"a large burst every {k.period:.1f} s like video key frames "
                f"({k.ratio:.0f}x a usual frame)",
                W_KEY_FRAMES,
            )
        )
    if f.near_mtu >= 0.4:
        out.append(
            Reason(
                "full_size_packets",
                f"{f.near_mtu:.0%} of its frames are full-size, as video packets are",
                W_FULL_SIZE,
            )
        )
    return out


def _direction(f: Features) -> list[Reason]:
    if f.ratio <= RECEIVER:
        return [
            Reason(
                "mostly_receives",
                f"receives {1 / max(f.ratio, 1e-9):.0f}x more than it sends: "
                "it watches or downloads",
                W_RECEIVER,
            )
        ]
    if f.rev_media_rate >= MEDIA_RATE and f.rev_media_active >= MEDIA_ACTIVE:
        return [
            Reason(
                "two_way_media",
                f"also receives a steady {_rate(f.rev_media_rate)} stream: two-way video, "
                "like a call",
                W_TWO_WAY,
            )
        ]
    if f.ratio >= ONE_WAY:
        text = (
            "sends and receives almost nothing back"
            if math.isinf(f.ratio)
            else f"sends {f.ratio:.0f}x more than it receives"
        )
        return [Reason("one_way", text, W_ONE_WAY)]
    return []


def _stimulus(s: StimulusResult, name: str, score_so_far: float) -> list[Reason]:
    what = f"during the stimulus ({name})" if name else "during the stimulus"
    change = (
        f"rises {s.ratio:.1f}x"
        if s.r > 0
        else f"drops to {s.ratio:.1f}x"
        if math.isfinite(s.ratio)
        else "changes"
    )
    lag = f", {s.lag:.1f} s later" if s.lag else ""
    if s.p <= 0.01 and abs(s.r) >= 0.4:
        return [
            Reason("follows_stimulus", f"its rate {change} {what}, r = {s.r:.2f}{lag}", W_STIMULUS)
        ]
    if s.p <= 0.05 and abs(s.r) >= 0.25:
        return [
            Reason(
                "weakly_follows_stimulus",
                f"its rate {change} {what}, r = {s.r:.2f}{lag} (weak)",
                W_STIMULUS_WEAK,
            )
        ]
    # "Did not follow" is said of this stream alone: its own p, not the family-wise one
    # (which grows with the number of streams tested and would say it of real followers).
    if s.p_stream > 0.2 and score_so_far >= POSSIBLE:
        return [
            Reason(
                "ignores_stimulus",
                f"its rate did not follow the stimulus (r = {s.r:.2f}): it may watch another spot",
                W_STIMULUS_NONE,
            )
        ]
    return []


def _kind(f: Features) -> str:
    if f.rate < MIN_RATE or f.active < 0.1:
        return "little traffic"
    if f.ratio <= RECEIVER:
        return "receiver (viewing or downloading)"
    if f.rev_media_rate >= MEDIA_RATE and f.rev_media_active >= MEDIA_ACTIVE:
        return "two-way video (a call)"
    if f.periodicity is not None and f.periodicity.strength >= LINE:
        return "camera-like stream" if f.active >= 0.4 else "periodic sender"
    return "bulk sender (uploads)" if f.near_mtu >= 0.5 else "sender"


def _rate(bps: float) -> str:
    if bps >= 1e6:
        return f"{bps / 1e6:.1f} Mbit/s"
    return f"{bps / 1e3:.0f} kbit/s"

"""Packet processes of the traffic model: when each device sends how many bytes.

Every process returns :class:`Packets` (times in seconds from the capture start, MPDU sizes
in bytes as the analysis counts them, and whether each packet goes the *reverse* way, i.e.
to the device). Sizes include the 802.11 QoS header (26), CCMP header and MIC (16) and
LLC/SNAP (8) around an IP packet. Parameters come from :mod:`reclaim.sweep.wifi.model`;
what each number rests on (and which are assumptions) is in ``docs/sweep-wifi.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

WIFI = 26 + 16 + 8
"""802.11 QoS data header, CCMP header + MIC, LLC/SNAP."""
UDP_RTP = 20 + 8 + 12
TCP = 20 + 32
MSS = 1448
TCP_ACK = WIFI + TCP


@dataclass(frozen=True)
class Packets:
    times: Floats
    sizes: Ints
    reverse: Bools

    @staticmethod
    def join(parts: Sequence[Packets]) -> Packets:
        parts = [p for p in parts if len(p.times)]
        if not parts:
            return Packets(np.empty(0), np.empty(0, np.int64), np.empty(0, bool))
        return Packets(
            np.concatenate([p.times for p in parts]),
            np.concatenate([p.sizes for p in parts]).astype(np.int64),
            np.concatenate([p.reverse for p in parts]),
        )


def _packets(times: Any, sizes: Any, reverse: bool) -> Packets:
    t = np.asarray(times, np.float64)
    return Packets(t, np.asarray(sizes, np.int64), np.full(len(t), reverse))


def motion(
    rng: np.random.Generator,
    times: Floats,
    stimulus: Sequence[tuple[float, float]],
    p: dict[str, Any],
) -> Floats:
    """Scene activity in [0, 1] at ``times``: a quiet room, people moving now and then
    (independent of the stimulus), and the stimulus if this device sees it."""
    m = np.full(len(times), float(p["motion_base"]))
    duration = float(times[-1]) if len(times) else 0.0
    t = rng.exponential(p["motion_every"])
    while t < duration:
        length, level = rng.uniform(2, 12), rng.uniform(0.2, 0.7)
        m[(times >= t) & (times < t + length)] = np.maximum(
            m[(times >= t) & (times < t + length)], level
        )
        t += length + rng.exponential(p["motion_every"])
    if p.get("sees_stimulus"):
        lag, level = p["reaction"], p["stimulus_level"]
        for start, end in stimulus:
            inside = (times >= start + lag) & (times < end + lag)
            m[inside] = np.maximum(m[inside], level)
    return m


def video_frames(
    rng: np.random.Generator,
    duration: float,
    stimulus: Sequence[tuple[float, float]],
    p: dict[str, Any],
) -> tuple[Floats, Floats]:
    """Encoded frame times and sizes (bytes) of an H.264/H.265 stream."""
    fps = p["fps"] * (1 + rng.normal(0, 5e-5))  # the camera's clock drifts a little
    times = np.arange(rng.uniform(0, 1 / fps), duration, 1 / fps)
    m = motion(rng, times, stimulus, p)
    gop = max(1, round(p["gop_s"] * p["fps"]))
    key = (np.arange(len(times)) + rng.integers(gop)) % gop == 0
    per_frame = p["bitrate"] / 8 / p["fps"]
    p_base = per_frame * gop / (p["i_ratio"] + gop - 1)
    sizes = p_base * (1 + p["motion_gain"] * (m - p["motion_base"]))
    sizes *= rng.lognormal(0, p["p_spread"], len(times))
    sizes[key] = (
        p_base
        * p["i_ratio"]
        * (1 + 0.3 * p["motion_gain"] * m[key])
        * rng.lognormal(0, 0.08, int(key.sum()))
    )
    if p.get("key_every"):  # calls: a key frame only at start and when a receiver asks
        key[:] = False
        asked = rng.uniform(0, duration, rng.poisson(duration / p["key_every"]))
        key[np.searchsorted(times, np.append(asked, 0.0)).clip(0, len(times) - 1)] = True
        sizes[key] *= 4
    if p["rate_control"] == "cbr":
        sizes = _cbr(sizes, per_frame, int(p["fps"]))
    return times, np.maximum(sizes, 60.0)


def _cbr(sizes: Floats, per_frame: float, window: int) -> Floats:
    """A constant-bitrate controller: each frame scaled by how far the last second ran
    from the target, clamped; motion shows only until the controller catches up."""
    window = max(window, 2)
    out = sizes.copy()
    recent = np.convolve(sizes, np.ones(window) / window)[: len(sizes)]
    previous = np.concatenate([[per_frame], recent[:-1]])
    out *= np.clip(per_frame / np.maximum(previous, 1.0), 0.35, 2.5)
    return out


def burst(
    rng: np.random.Generator,
    starts: Floats,
    nbytes: Floats,
    payload: int,
    overhead: int,
    phy: float,
    aggregate: int,
) -> tuple[Floats, Ints]:
    """Each message of ``nbytes`` cut into packets of at most ``payload`` bytes, sent back
    to back from ``starts`` (airtime at ``phy`` bit/s, a contention gap every
    ``aggregate`` packets)."""
    counts = np.maximum(np.ceil(nbytes / payload).astype(np.int64), 1)
    total = int(counts.sum())
    last = np.cumsum(counts) - 1
    first = np.repeat(last - counts + 1, counts)
    index = np.arange(total) - first
    sizes = np.full(total, payload + overhead, np.int64)
    sizes[last] = (nbytes - (counts - 1) * payload).astype(np.int64) + overhead
    step = sizes * 8 / phy + 40e-6
    step += np.where((index % aggregate == 0) & (index > 0), rng.exponential(250e-6, total), 0)
    before = np.cumsum(step) - step  # time from the first packet of the run to this one's
    offsets = before - before[first]
    delay = np.repeat(starts + rng.exponential(1.2e-3, len(starts)), counts)
    return delay + offsets, sizes


def acks(rng: np.random.Generator, times: Floats, delay: float, reverse: bool) -> Packets:
    """TCP's delayed ACKs for segments at ``times`` (one per two, within ``delay``), going
    the other way from the segments: ``reverse`` is the ACKs' direction."""
    picked = times[1::2]
    return _packets(
        picked + rng.uniform(0.2e-3, delay, len(picked)), np.full(len(picked), TCP_ACK), reverse
    )


def periodic(
    rng: np.random.Generator,
    duration: float,
    every: float,
    jitter: float,
    start: float = 0.0,
) -> Floats:
    """Times of a timer firing every ``every`` seconds (with jitter) from ``start``."""
    if every <= 0 or start >= duration:
        return np.empty(0)
    times = np.arange(start + rng.uniform(0, every), duration, every)
    return np.clip(times + rng.normal(0, jitter, len(times)), 0, duration)


def camera(
    rng: np.random.Generator,
    duration: float,
    stimulus: Sequence[tuple[float, float]],
    p: dict[str, Any],
) -> Packets:
    """An IP or P2P camera's stream: video (and maybe audio) out, little back."""
    times, sizes = video_frames(rng, duration, stimulus, p)
    tcp = p["transport"] == "tcp"
    payload = MSS if tcp else p["chunk"]
    overhead = WIFI + (TCP if tcp else UDP_RTP)
    t, s = burst(rng, times, sizes, payload, overhead, p["phy"], p["aggregate"])
    parts = [_packets(t, s, False)]
    if p["audio_every"]:
        at = periodic(rng, duration, p["audio_every"], 1e-3)
        parts.append(_packets(at, np.full(len(at), p["audio_bytes"] + WIFI + UDP_RTP), False))
    if tcp:
        parts.append(acks(rng, t, 0.04, True))
    elif p["chunk_ack"]:  # P2P protocols acknowledge each chunk on their reliable channel
        parts.append(_packets(t + rng.uniform(2e-3, 30e-3, len(t)), np.full(len(t), 70), True))
    control = periodic(rng, duration, p["control_every"], 0.05)
    parts.append(_packets(control, rng.integers(90, 200, len(control)), True))
    keepalive = periodic(rng, duration, p["control_every"], 0.05)
    parts.append(_packets(keepalive, rng.integers(90, 160, len(keepalive)), False))
    return Packets.join(parts)


def dash_viewer(
    rng: np.random.Generator,
    duration: float,
    _s: Sequence[tuple[float, float]],
    p: dict[str, Any],
) -> Packets:
    """A phone playing on-demand video: segments fetched over TCP in bursts."""
    segment = p["bitrate"] / 8 * p["segment_s"]
    starts = [rng.uniform(0, 3)]
    buffered = 0.0
    while True:  # start-up: fetch back to back until a few segments are buffered
        fetch = segment * 8 / p["throughput"] + rng.uniform(0.05, 0.2)
        buffered += p["segment_s"]
        starts.append(starts[-1] + fetch)
        if buffered >= p["buffer_s"]:
            break
    while starts[-1] < duration:
        starts.append(starts[-1] + p["segment_s"] * rng.uniform(0.95, 1.05))
    begins = np.array(starts[:-1])
    amount = segment * rng.lognormal(0, 0.25, len(begins))
    t, s = burst(rng, begins, amount, MSS, WIFI + TCP, p["throughput"], 16)
    keep = t < duration
    down = _packets(t[keep], s[keep], True)
    up_ack = acks(rng, t[keep], 0.02, False)
    requests = begins - rng.uniform(0.02, 0.08, len(begins))
    up = _packets(requests, rng.integers(400, 900, len(requests)), False)
    return Packets.join([down, up_ack, up, _background(rng, duration, 5.0)])


def video_call(
    rng: np.random.Generator,
    duration: float,
    stimulus: Sequence[tuple[float, float]],
    p: dict[str, Any],
) -> Packets:
    """A two-way video call (WebRTC): paced video and 20 ms audio, both ways."""
    parts = []
    for reverse, rate in ((False, p["bitrate"]), (True, p["bitrate_down"])):
        q = dict(p, bitrate=rate, sees_stimulus=p["sees_stimulus"] and not reverse)
        times, sizes = video_frames(rng, duration, stimulus, q)
        t, s = _paced(rng, times, sizes, rate * p["pacing"])
        parts.append(_packets(t, s, reverse))
        audio = periodic(rng, duration, 0.02, 0.5e-3)
        parts.append(_packets(audio, rng.integers(110, 190, len(audio)) + WIFI, reverse))
    return Packets.join(parts)


def _paced(
    rng: np.random.Generator, starts: Floats, nbytes: Floats, pace: float
) -> tuple[Floats, Ints]:
    """libwebrtc's pacer: packets leave in 5 ms slots at ``pace`` bit/s."""
    payload = 1200
    counts = np.maximum(np.ceil(nbytes / payload).astype(np.int64), 1)
    per_slot = max(1, int(pace / 8 * 0.005 / payload))
    first = np.repeat(np.cumsum(counts) - counts, counts)
    index = np.arange(int(counts.sum())) - first
    times = np.repeat(starts, counts) + (index // per_slot) * 0.005
    times += rng.uniform(0, 1e-3, len(times))
    return times, np.full(len(times), payload + WIFI + UDP_RTP, np.int64)


def uploader(
    rng: np.random.Generator,
    duration: float,
    _s: Sequence[tuple[float, float]],
    p: dict[str, Any],
) -> Packets:
    """A laptop uploading a file over TCP, at link speed or throttled by a token bucket
    (cloud backup clients), with the server's ACKs coming back."""
    begin = rng.uniform(0, duration * (1 - p["share"]))
    end = min(duration, begin + duration * p["share"])
    if p["tick"]:  # a throttled client writes one bucket's worth every tick
        ticks = np.arange(begin, end, p["tick"]) + rng.normal(0, 2e-3, 1)
        amount = np.full(len(ticks), p["throughput"] / 8 * p["tick"])
        t, s = burst(rng, ticks, amount, p["msdu"], WIFI + TCP, p["phy"], 32)
    else:
        count = int((end - begin) * p["throughput"] / 8 / p["msdu"])
        t = np.sort(rng.uniform(begin, end, count))
        s = np.full(count, p["msdu"] + WIFI + TCP, np.int64)
    up = _packets(t, s, False)
    down = acks(rng, t, 0.01, True)
    return Packets.join([up, down, _background(rng, duration, 3.0)])


def browser(
    rng: np.random.Generator,
    duration: float,
    _s: Sequence[tuple[float, float]],
    p: dict[str, Any],
) -> Packets:
    """A laptop or phone browsing: requests up, pages down, now and then."""
    parts = [_background(rng, duration, 2.0)]
    t = rng.exponential(p["think_s"])
    while t < duration:
        page = rng.lognormal(np.log(p["page_bytes"]), 0.8)
        dt, ds = burst(
            rng, np.array([t + 0.05]), np.array([page]), MSS, WIFI + TCP, p["throughput"], 16
        )
        parts.append(_packets(dt, ds, True))
        requests = t + np.sort(rng.uniform(0, 0.3, rng.integers(3, 30)))
        parts.append(_packets(requests, rng.integers(300, 1200, len(requests)), False))
        parts.append(acks(rng, dt, 0.01, False))
        t += rng.exponential(p["think_s"])
    return Packets.join(parts)


def speaker(
    rng: np.random.Generator,
    duration: float,
    _s: Sequence[tuple[float, float]],
    p: dict[str, Any],
) -> Packets:
    """A smart speaker: keep-alives, music fetched in chunks, now and then a voice query
    (20 ms audio frames up for a few seconds)."""
    parts = [_background(rng, duration, p["keepalive_s"])]
    if p["music"]:
        chunks = np.arange(rng.uniform(0, 2), duration, p["chunk_s"])
        amount = np.full(len(chunks), p["music_rate"] / 8 * p["chunk_s"])
        dt, ds = burst(rng, chunks, amount, MSS, WIFI + TCP, 20e6, 16)
        parts.append(_packets(dt, ds, True))
        parts.append(acks(rng, dt, 0.02, False))
    t = rng.exponential(p["query_every"])
    while t < duration:
        voice = np.arange(t, min(duration, t + rng.uniform(2, 6)), 0.02)
        parts.append(_packets(voice, rng.integers(120, 200, len(voice)) + WIFI, False))
        t += rng.exponential(p["query_every"])
    return Packets.join(parts)


def idle_iot(
    rng: np.random.Generator,
    duration: float,
    _s: Sequence[tuple[float, float]],
    p: dict[str, Any],
) -> Packets:
    """A plug, sensor or bulb: a report every few seconds and a keep-alive."""
    reports = periodic(rng, duration, p["report_s"], 0.02)
    up = _packets(reports, rng.integers(120, 420, len(reports)), False)
    down = _packets(
        reports + rng.uniform(5e-3, 80e-3, len(reports)), np.full(len(reports), TCP_ACK), True
    )
    return Packets.join([up, down, _background(rng, duration, 30.0)])


def _background(rng: np.random.Generator, duration: float, every: float) -> Packets:
    """Keep-alives, DNS, telemetry: a few small packets each way now and then."""
    up = np.sort(rng.uniform(0, duration, rng.poisson(duration / every)))
    down = up + rng.uniform(5e-3, 0.1, len(up))
    return Packets.join(
        [
            _packets(up, rng.integers(100, 400, len(up)), False),
            _packets(down, rng.integers(100, 600, len(down)), True),
        ]
    )


PROCESSES = {
    "camera": camera,
    "dash_viewer": dash_viewer,
    "video_call": video_call,
    "uploader": uploader,
    "browser": browser,
    "speaker": speaker,
    "idle_iot": idle_iot,
}

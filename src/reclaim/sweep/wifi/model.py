"""A traffic model of a room's Wi-Fi, written as monitor-mode captures with scapy.

A :class:`Scene` is a few access points and devices of known kinds (cameras and the devices
that get mistaken for them), each with parameters drawn from :class:`Ranges` by a seed, and
an optional stimulus timeline that the cameras which *see* it react to. :func:`write_scene`
turns it into a pcap or pcapng file of radiotap + 802.11 frames: QoS data frames with
to-DS/from-DS set as a real network would, CCMP headers and random (encrypted-looking)
payloads of the modelled sizes, sequence numbers, retransmissions, block ACKs after each
aggregate, beacons, frames the monitor missed and a few with a bad FCS.

The numbers, and which of them are assumptions, are documented in ``docs/sweep-wifi.md``.
Tests and tuning use :data:`TUNING`; ``bench/sweep_wifi.py`` holds out its own ranges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from reclaim.sweep.wifi.model_traffic import PROCESSES, Packets
from reclaim.sweep.wifi.model_write import Link, write_frames
from reclaim.sweep.wifi.stimulus import Interval

CAMERA_KINDS = ("ip_camera", "p2p_camera", "p2p_camera_ap")
OTHER_KINDS = (
    "phone_video",
    "video_call",
    "laptop_upload",
    "laptop_browse",
    "smart_speaker",
    "idle_iot",
)
KINDS = CAMERA_KINDS + OTHER_KINDS


@dataclass(frozen=True)
class Ranges:
    """Where device parameters are drawn from (pairs are uniform or log-uniform ranges)."""

    camera_bitrate: tuple[float, float] = (0.5e6, 4e6)
    p2p_bitrate: tuple[float, float] = (0.15e6, 0.8e6)
    camera_fps: tuple[int, ...] = (10, 12, 15, 20, 25, 30)
    p2p_fps: tuple[int, ...] = (10, 12, 15)
    gop_s: tuple[float, float] = (1.0, 4.0)
    i_ratio: tuple[float, float] = (3.0, 15.0)
    cbr_share: float = 0.3
    motion_gain: tuple[float, float] = (1.0, 3.0)
    tcp_share: float = 0.4
    audio_share: float = 0.5
    phy: tuple[float, float] = (15e6, 80e6)
    loss: tuple[float, float] = (0.0, 0.03)
    retry: tuple[float, float] = (0.0, 0.08)
    call_bitrate: tuple[float, float] = (0.4e6, 2.5e6)
    video_bitrate: tuple[float, float] = (1e6, 6e6)
    upload_throughput: tuple[float, float] = (2e6, 30e6)
    throttled_share: float = 0.3
    throttle_tick: tuple[float, float] = (0.03, 0.2)


TUNING = Ranges()
"""The ranges tests use and the analysis thresholds were tuned on."""


@dataclass(frozen=True)
class DeviceSpec:
    kind: str
    sees_stimulus: bool = True
    """Whether the stimulus (light, waving) is in this device's view."""
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Device:
    kind: str
    mac: str
    bssid: str
    """The access point it belongs to (an AP-mode camera's own address)."""
    peer: str
    """Who its stream goes to: its access point, or an AP-mode camera's viewer phone."""
    params: Mapping[str, Any]

    @property
    def is_camera(self) -> bool:
        return self.kind in CAMERA_KINDS

    @property
    def stream_ident(self) -> str:
        """The :class:`~reclaim.sweep.report.Finding` ident the analysis gives its stream."""
        return f"{self.mac}->{self.peer}" if self.kind == "p2p_camera_ap" else self.mac


@dataclass(frozen=True)
class Scene:
    seed: int
    duration: float
    start: float
    """Epoch seconds of the first frame."""
    access_points: tuple[str, ...]
    devices: tuple[Device, ...]
    stimulus: tuple[Interval, ...] = ()

    def manifest(self) -> dict[str, Any]:
        """What is in the capture (the ground truth), JSON-serialisable."""
        return {
            "seed": self.seed,
            "duration": self.duration,
            "start": self.start,
            "access_points": list(self.access_points),
            "stimulus": [[i.start, i.end, i.label] for i in self.stimulus],
            "devices": [
                {
                    "kind": d.kind,
                    "mac": d.mac,
                    "stream": d.stream_ident,
                    "camera": d.is_camera,
                    "params": dict(d.params),
                }
                for d in self.devices
            ],
        }


def make_scene(
    seed: int,
    devices: Sequence[str | DeviceSpec],
    *,
    duration: float = 60.0,
    stimulus: Sequence[Interval] = (),
    ranges: Ranges = TUNING,
) -> Scene:
    """A scene of ``devices`` (kinds or specs) around one access point, drawn by ``seed``."""
    rng = np.random.default_rng(seed)
    ap = _mac(rng)
    built = []
    for item in devices:
        spec = DeviceSpec(item) if isinstance(item, str) else item
        if spec.kind not in KINDS:
            raise ValueError(f"unknown device kind {spec.kind!r}; known: {', '.join(KINDS)}")
        params = dict(_params(spec.kind, rng, ranges), sees_stimulus=spec.sees_stimulus)
        params.update(spec.overrides)
        mac = _mac(rng)
        if spec.kind == "p2p_camera_ap":
            built.append(Device(spec.kind, mac, mac, _mac(rng), params))
        else:
            built.append(Device(spec.kind, mac, ap, ap, params))
    aps = (ap, *(d.mac for d in built if d.kind == "p2p_camera_ap"), _mac(rng))
    start = 1_700_000_000.0 + (seed % 100_000) * 3600 + float(rng.uniform(0, 1))
    return Scene(seed, duration, start, aps, tuple(built), tuple(stimulus))


def stimulus_schedule(
    seed: int,
    duration: float,
    *,
    count: int = 5,
    length: tuple[float, float] = (5.0, 9.0),
    label: str = "light",
) -> tuple[Interval, ...]:
    """``count`` stimulus intervals at irregular times, as an inspector would log them."""
    rng = np.random.default_rng(seed)
    slot = duration / count
    out = []
    for k in range(count):
        size = float(rng.uniform(*length))
        begin = k * slot + float(rng.uniform(0.15, 0.85)) * max(slot - size, 0.0)
        out.append(Interval(round(begin, 2), round(min(begin + size, duration), 2), label))
    return tuple(out)


def write_scene(
    scene: Scene,
    path: Path,
    *,
    fmt: Literal["pcap", "pcapng"] = "pcap",
    linktype: Literal[105, 127] = 127,
) -> Path:
    """Write ``scene`` as a capture at ``path`` and return it."""
    rng = np.random.default_rng([scene.seed, 1])
    pairs = [(i.start, i.end) for i in scene.stimulus]
    links: list[Link] = []
    parts: list[tuple[int, Packets, float, float]] = []
    for device in scene.devices:
        process = PROCESSES[_PROCESS[device.kind]]
        packets = process(rng, scene.duration, pairs, dict(device.params))
        fwd, rev = _links(device, rng)
        links += [fwd, rev]
        parts.append((len(links) - 2, packets, device.params["loss"], device.params["retry"]))
    write_frames(
        path,
        rng,
        scene.start,
        scene.duration,
        scene.access_points,
        links,
        parts,
        fmt=fmt,
        linktype=linktype,
    )
    return path


def _links(device: Device, rng: np.random.Generator) -> tuple[Link, Link]:
    rssi = int(rng.integers(-80, -35))
    if device.kind == "p2p_camera_ap":  # the camera is the access point, the phone its client
        return (
            Link(2, device.peer, device.mac, device.mac, rssi),
            Link(1, device.mac, device.peer, device.mac, rssi - 6),
        )
    server = _mac(rng)  # the router's side: addr3 is the final destination
    return (
        Link(1, device.bssid, device.mac, server, rssi),
        Link(2, device.mac, device.bssid, server, -45),
    )


_PROCESS = {
    "ip_camera": "camera",
    "p2p_camera": "camera",
    "p2p_camera_ap": "camera",
    "phone_video": "dash_viewer",
    "video_call": "video_call",
    "laptop_upload": "uploader",
    "laptop_browse": "browser",
    "smart_speaker": "speaker",
    "idle_iot": "idle_iot",
}


def _mac(rng: np.random.Generator) -> str:
    octets = rng.integers(0, 256, 6)
    octets[0] = (octets[0] & 0xFC) | 0x02  # unicast, locally administered: never a real OUI
    return ":".join(f"{int(o):02x}" for o in octets)


def _log_uniform(rng: np.random.Generator, pair: tuple[float, float]) -> float:
    return float(math.exp(rng.uniform(math.log(pair[0]), math.log(pair[1]))))


def _params(kind: str, rng: np.random.Generator, r: Ranges) -> dict[str, Any]:
    common = {"loss": float(rng.uniform(*r.loss)), "retry": float(rng.uniform(*r.retry))}
    if kind in CAMERA_KINDS:
        return common | _camera(kind, rng, r)
    u = rng.uniform
    table: dict[str, dict[str, Any]] = {
        "phone_video": {
            "bitrate": _log_uniform(rng, r.video_bitrate),
            "segment_s": float(rng.choice([2.0, 4.0, 6.0])),
            "buffer_s": float(u(10, 30)),
            "throughput": float(u(15e6, 80e6)),
        },
        "video_call": {
            "bitrate": _log_uniform(rng, r.call_bitrate),
            "bitrate_down": _log_uniform(rng, r.call_bitrate),
            "fps": int(rng.choice([15, 24, 30])),
            "gop_s": 1.0,
            "i_ratio": 1.0,
            "key_every": float(u(10, 60)),
            "rate_control": "cbr",
            "motion_gain": float(u(0.3, 1.0)),
            "motion_base": 0.3,
            "motion_every": float(u(10, 30)),
            "p_spread": 0.2,
            "pacing": 2.5,
            "reaction": 0.3,
            "stimulus_level": 0.8,
        },
        "laptop_upload": {
            "throughput": _log_uniform(rng, r.upload_throughput),
            "share": float(u(0.3, 1.0)),
            "tick": float(u(*r.throttle_tick)) if rng.uniform() < r.throttled_share else 0.0,
            "msdu": int(rng.choice([1448, 2896])),
            "phy": float(u(*r.phy)),
        },
        "laptop_browse": {
            "think_s": float(u(3, 15)),
            "page_bytes": float(u(3e5, 3e6)),
            "throughput": float(u(10e6, 60e6)),
        },
        "smart_speaker": {
            "keepalive_s": float(u(10, 40)),
            "music": bool(rng.uniform() < 0.5),
            "chunk_s": float(u(2, 10)),
            "music_rate": float(u(128e3, 320e3)),
            "query_every": float(u(20, 90)),
        },
        "idle_iot": {"report_s": float(u(1, 30))},
    }
    if kind == "laptop_upload" and table[kind]["tick"]:
        table[kind]["throughput"] = _log_uniform(rng, (0.5e6, 4e6))
    return common | table[kind]


def _camera(kind: str, rng: np.random.Generator, r: Ranges) -> dict[str, Any]:
    p2p = kind != "ip_camera"
    cbr = (not p2p) and rng.uniform() < r.cbr_share
    i_ratio = float(rng.uniform(*r.i_ratio))
    audio = rng.uniform() < r.audio_share
    tcp = (not p2p) and rng.uniform() < r.tcp_share
    return {
        "codec": str(rng.choice(["h264", "h265"])),
        "fps": int(rng.choice(r.p2p_fps if p2p else r.camera_fps)),
        "gop_s": float(rng.uniform(*r.gop_s)),
        "bitrate": _log_uniform(rng, r.p2p_bitrate if p2p else r.camera_bitrate),
        "rate_control": "cbr" if cbr else "vbr",
        "i_ratio": max(2.0, i_ratio / 2) if cbr else i_ratio,
        "motion_gain": float(rng.uniform(*r.motion_gain)),
        "motion_base": float(rng.uniform(0, 0.1)),
        "motion_every": float(rng.uniform(20, 60)),
        "p_spread": float(rng.uniform(0.1, 0.35)),
        "transport": "tcp" if tcp else "udp",
        "chunk": int(rng.integers(1000, 1025)) if p2p else int(rng.integers(1380, 1461)),
        "chunk_ack": p2p,
        "phy": float(rng.uniform(*r.phy)),
        "aggregate": int(rng.choice([1, 4, 16, 32])),
        "audio_every": float(rng.choice([0.02, 0.04, 0.064])) if audio else 0.0,
        "audio_bytes": int(rng.choice([160, 320, 200])),
        "control_every": float(rng.uniform(1, 5)),
        "reaction": float(rng.uniform(0, 0.8)),
        "stimulus_level": float(rng.uniform(0.6, 1.0)),
    }


__all__ = [
    "CAMERA_KINDS",
    "KINDS",
    "OTHER_KINDS",
    "TUNING",
    "Device",
    "DeviceSpec",
    "Ranges",
    "Scene",
    "make_scene",
    "stimulus_schedule",
    "write_scene",
]

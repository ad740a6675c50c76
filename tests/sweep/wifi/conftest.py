"""Captures of the traffic model with fixed seeds, written once per test session.

``room``: one of every kind of device the sweep must tell apart -- an IP camera (30 fps,
key frame every 2 s), a cheap P2P camera, a P2P camera in access-point mode, and the
devices mistaken for cameras: a phone playing video, a two-way video call, a laptop
uploading at full speed and one throttled to 100 ms bursts, a laptop browsing, a smart
speaker, an idle plug. ``pair``: two cameras whose key frames are too small to see, only
the first in view of the stimulus (waving at one spot).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from reclaim.sweep.wifi import Interval
from reclaim.sweep.wifi.model import DeviceSpec, Scene, make_scene, stimulus_schedule, write_scene

CAMERA_30FPS = {
    "fps": 30,
    "gop_s": 2.0,
    "bitrate": 1.2e6,
    "rate_control": "vbr",
    "i_ratio": 8.0,
    "transport": "udp",
    "audio_every": 0.0,
}
HIDDEN_KEY_FRAMES = {"i_ratio": 2.0, "rate_control": "vbr", "fps": 15, "bitrate": 0.6e6}


@dataclass(frozen=True)
class Written:
    scene: Scene
    stimulus: tuple[Interval, ...]
    pcap: Path
    pcapng: Path

    def device(self, kind: str) -> str:
        """The stream ident of the first device of ``kind``."""
        return next(d.stream_ident for d in self.scene.devices if d.kind == kind)

    @property
    def cameras(self) -> set[str]:
        return {d.stream_ident for d in self.scene.devices if d.is_camera}


@pytest.fixture(scope="session")
def room(tmp_path_factory: pytest.TempPathFactory) -> Written:
    stimulus = stimulus_schedule(7, 60.0)
    devices: list[str | DeviceSpec] = [
        DeviceSpec("ip_camera", overrides=CAMERA_30FPS),
        "p2p_camera",
        "p2p_camera_ap",
        "phone_video",
        "video_call",
        "laptop_upload",
        DeviceSpec("laptop_upload", overrides={"tick": 0.1, "throughput": 1.5e6}),
        "laptop_browse",
        "smart_speaker",
        "idle_iot",
    ]
    scene = make_scene(11, devices, duration=60.0, stimulus=stimulus)
    return _write(scene, stimulus, tmp_path_factory.mktemp("room"), pcapng=True)


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Written:
    stimulus = stimulus_schedule(8, 60.0, label="wave")
    devices: list[str | DeviceSpec] = [
        DeviceSpec("ip_camera", True, HIDDEN_KEY_FRAMES),
        DeviceSpec("ip_camera", False, HIDDEN_KEY_FRAMES),
        "video_call",
        "phone_video",
    ]
    scene = make_scene(12, devices, duration=60.0, stimulus=stimulus)
    return _write(scene, stimulus, tmp_path_factory.mktemp("pair"), pcapng=False)


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """Six seconds of one camera: the seed of the fuzzing corpus."""
    scene = make_scene(13, [DeviceSpec("ip_camera", overrides=CAMERA_30FPS)], duration=6.0)
    return _write(scene, (), tmp_path_factory.mktemp("small"), pcapng=True)


def _write(scene: Scene, stimulus: tuple[Interval, ...], folder: Path, *, pcapng: bool) -> Written:
    pcap = write_scene(scene, folder / "capture.pcap")
    ng = write_scene(scene, folder / "capture.pcapng", fmt="pcapng") if pcapng else pcap
    return Written(scene, stimulus, pcap, ng)

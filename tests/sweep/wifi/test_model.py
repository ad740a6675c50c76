"""The traffic model writes what it claims: frames scapy dissects as 802.11 with the right
DS bits, CCMP headers and valid checksums; the same seed gives the same file; a camera
sends about the bit rate it was given."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from scapy.layers.dot11 import Dot11CCMP, Dot11FCS, RadioTap
from scapy.utils import PcapReader

from reclaim.sweep.wifi.capture import CaptureLimits
from reclaim.sweep.wifi.model import KINDS, DeviceSpec, make_scene, write_scene
from reclaim.sweep.wifi.traffic import collect, units
from tests.sweep.wifi.conftest import Written


def test_frames_dissect_as_80211_with_valid_checksums(small: Written) -> None:
    camera = small.scene.devices[0]
    kinds: Counter[str] = Counter()
    with PcapReader(str(small.pcap)) as reader:
        for packet in reader:
            assert packet.haslayer(RadioTap)
            assert packet.haslayer(Dot11FCS)
            dot11 = packet[Dot11FCS]
            bad = "badFCS" in str(packet[RadioTap].Flags)
            good = dot11.fcs == int.from_bytes(dot11.compute_fcs(bytes(dot11)[:-4]), "little")
            assert good != bad
            if dot11.type == 2:
                assert dot11.haslayer(Dot11CCMP)
                assert "protected" in str(dot11.FCfield)
                up = dot11.addr2 == camera.mac
                assert ("to_DS" if up else "from_DS") in str(dot11.FCfield)
                kinds["up" if up else "down"] += 1
            else:
                kinds[f"type {dot11.type}"] += 1
    assert kinds["up"] > 10 * kinds["down"] > 0
    assert kinds["type 0"] > 0
    assert kinds["type 1"] > 0


def test_the_same_seed_writes_the_same_file(tmp_path: Path) -> None:
    scene = make_scene(21, ["p2p_camera", "smart_speaker"], duration=5.0)
    a = write_scene(scene, tmp_path / "a.pcap").read_bytes()
    b = write_scene(
        make_scene(21, ["p2p_camera", "smart_speaker"], duration=5.0), tmp_path / "b.pcap"
    ).read_bytes()
    assert a == b
    json.dumps(scene.manifest())


def test_unknown_kinds_and_formats_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown device kind"):
        make_scene(1, ["toaster"])
    with pytest.raises(ValueError, match="unknown capture format"):
        write_scene(make_scene(1, ["idle_iot"], duration=2.0), tmp_path / "x", fmt="erf")  # type: ignore[arg-type]


def test_a_still_camera_sends_its_bit_rate(tmp_path: Path) -> None:
    still = {"motion_gain": 0.0, "audio_every": 0.0, "bitrate": 2e6, "loss": 0.0, "retry": 0.0}
    scene = make_scene(22, [DeviceSpec("ip_camera", overrides=still)], duration=20.0)
    traffic = collect(write_scene(scene, tmp_path / "still.pcap"), CaptureLimits())
    (camera,) = (u for u in units(traffic) if u.ident == scene.devices[0].mac)
    sent = camera.fwd_sizes.sum() * 8 / traffic.duration
    assert sent == pytest.approx(2e6 * 1.05, rel=0.15)  # headers add ~5% at full-size packets


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_writes_traffic(kind: str, tmp_path: Path) -> None:
    scene = make_scene(23, [kind], duration=10.0)
    traffic = collect(write_scene(scene, tmp_path / f"{kind}.pcap"), CaptureLimits())
    assert traffic.links, kind

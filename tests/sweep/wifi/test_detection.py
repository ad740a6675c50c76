"""Cameras in a generated room are found, for the right reasons; nothing else is called a
camera (phones, calls, laptops, speakers, plugs); pcap, pcapng and bare 802.11 read alike."""

from __future__ import annotations

import json
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from reclaim.sweep.report import Finding, SweepReport, Verdict
from reclaim.sweep.wifi import analyse
from reclaim.sweep.wifi.model import write_scene
from tests.sweep.wifi.conftest import Written


@pytest.fixture(scope="module")
def report(room: Written) -> SweepReport:
    return analyse(room.pcap)


def _by_ident(report: SweepReport) -> dict[str, Finding]:
    return {f.ident: f for f in report.findings}


def _codes(finding: Finding) -> set[str]:
    return {r.code for r in finding.reasons}


def _text(finding: Finding) -> str:
    return " | ".join(r.text for r in finding.reasons)


def test_the_ip_camera_is_likely_for_all_its_reasons(room: Written, report: SweepReport) -> None:
    camera = _by_ident(report)[room.device("ip_camera")]
    assert camera.verdict is Verdict.CAMERA_LIKELY
    assert {"sustained_stream", "frame_periodicity", "key_frames", "one_way"} <= _codes(camera)
    text = _text(camera)
    assert "bursts every 33 ms (30 fps)" in text
    assert "a large burst every 2.0 s like video key frames" in text
    assert "Mbit/s upward for 100% of the capture" in text
    assert camera.details["fps"] == pytest.approx(30.0, abs=0.05)
    assert camera.details["key_frame_period_s"] == pytest.approx(2.0, abs=0.05)
    assert camera.label.startswith("camera-like stream: station")


def test_the_cheap_p2p_camera_is_likely(room: Written, report: SweepReport) -> None:
    camera = _by_ident(report)[room.device("p2p_camera")]
    assert camera.verdict is Verdict.CAMERA_LIKELY
    assert {"frame_periodicity", "key_frames"} <= _codes(camera)


def test_a_camera_that_is_its_own_access_point_is_worth_a_look(
    room: Written, report: SweepReport
) -> None:
    ident = room.device("p2p_camera_ap")
    assert "->" in ident  # its stream goes from-DS, from the camera to the owner's phone
    camera = _by_ident(report)[ident]
    assert camera.verdict in (Verdict.CAMERA_LIKELY, Verdict.POSSIBLE)
    assert camera.details["role"] == "access point"
    assert "frame_periodicity" in _codes(camera)


def test_no_other_device_is_called_a_camera(room: Written, report: SweepReport) -> None:
    for finding in report.findings:
        if finding.ident not in room.cameras:
            assert finding.verdict is not Verdict.CAMERA_LIKELY, (finding.ident, finding.label)


def test_the_negatives_are_told_apart_for_their_reasons(room: Written, report: SweepReport) -> None:
    found = _by_ident(report)
    call = found[room.device("video_call")]
    assert "two_way_media" in _codes(call)
    assert call.verdict is Verdict.UNLIKELY
    phone = found[room.device("phone_video")]
    assert "mostly_receives" in _codes(phone)
    assert phone.score == 0.0
    upload = found[room.device("laptop_upload")]
    assert "frame_periodicity" not in _codes(upload)
    assert upload.verdict is Verdict.UNLIKELY
    # The iot plug sends too little to judge: it is counted in the notes, not listed.
    assert room.device("idle_iot") not in found
    assert any("fewer than 50 data frames" in note for note in report.notes)


def test_the_throttled_upload_is_at_most_possible(room: Written, report: SweepReport) -> None:
    throttled = [d for d in room.scene.devices if d.kind == "laptop_upload"][1]
    finding = _by_ident(report)[throttled.stream_ident]
    # Bursts every 100 ms look like 10 fps video; no key frames, so no more than possible.
    assert "key_frames" not in _codes(finding)
    assert finding.verdict is not Verdict.CAMERA_LIKELY


def test_pcapng_reads_as_pcap(room: Written, report: SweepReport) -> None:
    ng = analyse(room.pcapng)
    assert ng.parameters["format"] == "pcapng"
    assert ng.parameters["records"] == report.parameters["records"]
    a, b = _by_ident(report), _by_ident(ng)
    assert a.keys() == b.keys()
    for ident, finding in a.items():
        assert b[ident].verdict is finding.verdict, ident
        assert _codes(b[ident]) == _codes(finding), ident


def test_bare_80211_without_radiotap(room: Written, tmp_path: Path) -> None:
    bare = write_scene(room.scene, tmp_path / "bare.pcap", linktype=105)
    found = _by_ident(analyse(bare))
    assert found[room.device("ip_camera")].verdict is Verdict.CAMERA_LIKELY
    assert found[room.device("video_call")].verdict is Verdict.UNLIKELY


def test_the_report_renders_with_a_plot_per_possible_camera(
    room: Written, report: SweepReport
) -> None:
    json.dumps(report.to_json())
    assert "likely camera(s)" in report.to_text()
    html = report.to_html()
    assert "<script" not in html
    for finding in report.findings:
        assert bool(finding.attachments) == (finding.verdict is not Verdict.UNLIKELY)
        for attachment in finding.attachments:
            assert attachment.media_type == "image/svg+xml"
            root = SafeET.fromstring(attachment.data)
            assert root.tag.endswith("svg")
            assert b"<script" not in attachment.data
    assert report.parameters["complete"] is True

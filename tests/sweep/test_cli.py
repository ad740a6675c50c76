"""``reclaim sweep``: what an inspector runs -- refusals, reports in each format, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reclaim.sweep.wifi.model import DeviceSpec, make_scene, stimulus_schedule, write_scene
from tests.test_cli import reclaim


def test_the_lan_sweep_needs_a_target() -> None:
    answer = reclaim("sweep", "lan")
    assert answer.returncode == 2
    assert "--interface" in answer.stderr or "network" in answer.stderr
    public = reclaim("sweep", "lan", "--network", "8.8.8.0/24")
    assert public.returncode == 2
    wide = reclaim("sweep", "lan", "--network", "10.0.0.0/16")
    assert wide.returncode == 2
    assert "/24" in wide.stderr


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("pcap")
    stimulus = stimulus_schedule(21, 40.0)
    scene = make_scene(
        21,
        [DeviceSpec("ip_camera", True, {"fps": 25}), "phone_video", "laptop_browse"],
        duration=40.0,
        stimulus=stimulus,
    )
    pcap = write_scene(scene, folder / "room.pcap")
    schedule = folder / "light.csv"
    schedule.write_text("".join(f"{i.start},{i.end},light\n" for i in stimulus))
    camera = next(d.stream_ident for d in scene.devices if d.is_camera)
    return pcap, schedule, camera


def test_a_capture_becomes_a_report_in_every_format(
    capture: tuple[Path, Path, str], tmp_path: Path
) -> None:
    pcap, schedule, camera = capture
    out = tmp_path / "report.json"
    answer = reclaim("sweep", "pcap", str(pcap), "--stimulus", str(schedule),
                     "--format", "json", "--out", str(out))  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    assert "likely camera" in answer.stderr
    report = json.loads(out.read_text())
    likely = [f["ident"] for f in report["findings"] if f["verdict"] == "camera_likely"]
    assert likely == [camera]
    page = tmp_path / "report.html"
    assert (
        reclaim("sweep", "pcap", str(pcap), "--format", "html", "--out", str(page)).returncode == 0
    )
    html = page.read_text()
    assert "<script" not in html
    assert html.startswith("<!doctype html>")
    text = reclaim("sweep", "pcap", str(pcap))
    assert text.returncode == 0
    assert "likely camera(s)" in text.stdout


def test_bad_captures_and_schedules_are_clear_errors(
    capture: tuple[Path, Path, str], tmp_path: Path
) -> None:
    pcap, _, _ = capture
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"\x00" * 100)
    answer = reclaim("sweep", "pcap", str(junk))
    assert answer.returncode == 1
    assert answer.stderr.startswith("reclaim: ")
    assert "Traceback" not in answer.stderr
    schedule = tmp_path / "bad.csv"
    schedule.write_text("then,later\n")
    bad = reclaim("sweep", "pcap", str(pcap), "--stimulus", str(schedule))
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    missing = reclaim("sweep", "pcap", str(tmp_path / "nothing.pcap"))
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr


def test_a_flashlight_video_becomes_a_report_with_pictures(tmp_path: Path) -> None:
    from reclaim.sweep.optical.scenes import LensSpec, SceneSpec
    from reclaim.sweep.optical.scenes import write_scene as write_video

    video = tmp_path / "sweep.mp4"
    write_video(
        SceneSpec(seed=31, width=320, height=180, seconds=4.0, lenses=(LensSpec(3.0),)), video
    )
    page = tmp_path / "report.html"
    answer = reclaim("sweep", "video", str(video), "--format", "html", "--out", str(page))
    assert answer.returncode == 0, answer.stderr
    html = page.read_text()
    assert "data:image/" in html  # the frame with the glint circled, embedded
    assert "<script" not in html
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(video.read_bytes()[:2000])
    failed = reclaim("sweep", "video", str(broken))
    assert failed.returncode == 1
    assert failed.stderr.startswith("reclaim: ")
    assert "Traceback" not in failed.stderr

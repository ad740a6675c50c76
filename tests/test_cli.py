"""``reclaim hash``: the JSON contract, exit codes, options and usage errors."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from reclaim.demo.media import render_scene
from tests.cli import Ran, run
from tests.media.generate import write_video

HEX64 = re.compile(r"[0-9a-f]{64}")


def reclaim(*args: str, cwd: Path | None = None) -> Ran:
    return run({}, *args, cwd=cwd)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    (root / "album" / "nested").mkdir(parents=True)
    Image.fromarray(render_scene(320, 240, seed=1)).save(root / "album" / "a.jpg", quality=90)
    Image.fromarray(render_scene(320, 240, seed=2)).save(root / "album" / "nested" / "b.png")
    frames = [Image.fromarray(render_scene(64, 48, seed=s)) for s in range(3)]
    frames[0].save(
        root / "album" / "anim.gif", save_all=True, append_images=frames[1:], duration=1000
    )
    (root / "album" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    write_video(root / "album" / "clip.mp4", seconds=3.0)
    return root


def _lines(done: Ran) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_installed_command_runs(folder: Path) -> None:
    """The other tests call the application in this process; this one goes through the
    console script a user runs, in a process of its own."""
    command = Path(sys.executable).parent / "reclaim"
    done = subprocess.run(
        [str(command), "hash", "--json", "album/a.jpg"],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert _lines(Ran(done.returncode, done.stdout, done.stderr))[0]["path"] == "album/a.jpg"
    usage = subprocess.run(
        [sys.executable, "-m", "reclaim.cli", "hash", "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert usage.returncode == 2
    assert "No such option" in usage.stderr


def test_json_contract_for_images_and_videos(folder: Path) -> None:
    done = reclaim("hash", "--json", "album", cwd=folder)
    assert done.returncode == 0, done.stderr
    lines = {line["path"]: line for line in _lines(done)}
    # Paths are as given, joined with the walk; hidden files are skipped; order is sorted.
    assert list(lines) == ["album/a.jpg", "album/anim.gif", "album/clip.mp4", "album/nested/b.png"]
    photo = lines["album/a.jpg"]
    assert photo["type"] == "image"
    assert [s["type"] for s in photo["signals"]] == ["pdq", "sha256", "md5"]
    pdq = photo["signals"][0]
    assert HEX64.fullmatch(pdq["value"])
    assert 0 <= pdq["quality"] <= 100
    assert len(pdq["dihedral"]) == 8
    assert pdq["dihedral"][0] == pdq["value"]
    data = (folder / "album" / "a.jpg").read_bytes()
    assert photo["signals"][1]["value"] == hashlib.sha256(data).hexdigest()
    assert photo["signals"][2]["value"] == hashlib.md5(data).hexdigest()
    video = lines["album/clip.mp4"]
    assert video["type"] == "video"
    assert [s["type"] for s in video["signals"]] == ["vpdq", "sha256", "md5"]
    frames = video["signals"][0]["frames"]
    assert [f["ts"] for f in frames] == [0.0, 1.0, 2.0]
    assert all(HEX64.fullmatch(f["value"]) and f["quality"] == 100 for f in frames)
    animation = lines["album/anim.gif"]
    assert [s["type"] for s in animation["signals"]] == ["pdq", "vpdq", "sha256", "md5"]
    assert [f["ts"] for f in animation["signals"][1]["frames"]] == [0.0, 1.0, 2.0]


def test_signals_and_sampling_options(folder: Path) -> None:
    done = reclaim(
        "hash",
        "--json",
        "--signals",
        "md5,vpdq",
        "--fps",
        "2",
        "album/clip.mp4",
        "album/a.jpg",
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    video, photo = _lines(done)
    assert [s["type"] for s in video["signals"]] == ["md5", "vpdq"]
    assert len(video["signals"][1]["frames"]) == 6
    assert [s["type"] for s in photo["signals"]] == ["md5"]  # vpdq does not apply to a still
    done = reclaim("hash", "--json", "--every-frame", "album/clip.mp4", cwd=folder)
    assert len(_lines(done)[0]["signals"][0]["frames"]) == 75


def test_failures_are_reported_and_exit_one(folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    done = reclaim("hash", "--json", str(bad), "album/a.jpg", "missing.png", cwd=folder)
    assert done.returncode == 1
    lines = _lines(done)
    assert [line["path"] for line in lines] == [str(bad), "album/a.jpg", "missing.png"]
    assert lines[0]["error"]["kind"] == "unsupported_type"
    assert "signals" in lines[1]
    assert lines[2]["error"]["kind"] == "not_a_file"


@pytest.mark.parametrize(
    "args",
    [
        ["hash"],
        ["hash", "--signals", "pdq,nonsense", "x.jpg"],
        ["hash", "--fps", "1", "--every-frame", "x.mp4"],
        ["hash", "--fps", "0", "x.mp4"],
        ["hash", "--workers", "0", "x.mp4"],
        ["hash", "--no-such-option", "x.mp4"],
    ],
)
def test_usage_errors_exit_two(args: list[str]) -> None:
    done = reclaim(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""


def test_human_output(folder: Path) -> None:
    done = reclaim("hash", "album/a.jpg", "album/clip.mp4", cwd=folder)
    assert done.returncode == 0
    photo, video = done.stdout.splitlines()
    assert photo.startswith("album/a.jpg\timage\tpdq=")
    assert "vpdq=3 frames (3 of quality >= 50)" in video


def test_reference_photos_from_the_readme(reference: Path) -> None:
    done = reclaim("hash", "--json", *map(str, sorted((reference / "pdq").glob("*.jpg"))))
    assert done.returncode == 0
    assert len(_lines(done)) == 8


def test_settings_command_lists_every_variable() -> None:
    done = reclaim("settings")
    assert done.returncode == 0
    assert "RECLAIM_MEDIA_DECODE_TIMEOUT_SECONDS=600.0" in done.stdout

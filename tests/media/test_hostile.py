"""Hostile and broken files: each gets its typed error, nothing crashes, hangs or bloats,
no URL is ever fetched, and the rest of the batch still hashes."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.media.generate import write_video
from tests.media.hostile import build_corpus, png_declaring

MEMORY_LIMIT_MB = 1024


class _Canary(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Canary.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"#EXTM3U\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def canary() -> Iterator[str]:
    """An HTTP server on loopback that must never receive a request."""
    _Canary.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/segment.ts"
    server.shutdown()
    assert _Canary.hits == [], f"a hostile file made Reclaim fetch {_Canary.hits}"


# Runs a command and reports the peak memory of it and its workers. Measuring from the
# test process itself would count the test process too: Linux carries a parent's
# resident-set high-water mark into a child through fork and exec.
_PEAK_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(f'PEAK_MB={peak:.1f}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def peak_mb(stderr: str) -> float:
    """The peak memory the wrapped command reported on its last line of stderr."""
    return float(stderr.strip().splitlines()[-1].removeprefix("PEAK_MB="))


def run_hash(*args: str, env: dict[str, str] | None = None, timeout: float = 240):
    command = [sys.executable, "-c", _PEAK_WRAPPER, sys.executable, "-m", "reclaim.cli"]
    command += ["hash", "--json", *args]
    full_env = {**os.environ, "RECLAIM_MEDIA_WORKER_MEMORY_MB": str(MEMORY_LIMIT_MB), **(env or {})}
    done = subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=timeout)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return done, {Path(line["path"]).as_posix(): line for line in lines}


def _kind(line: dict) -> str:
    return line["error"]["kind"] if "error" in line else "ok"


def test_hostile_corpus(tmp_path: Path, canary: str) -> None:
    root = tmp_path / "corpus"
    expected = build_corpus(root, canary)
    done, lines = run_hash(str(root))
    assert done.returncode == 1, done.stderr  # some files failed, and that is reported
    got = {Path(path).relative_to(root).as_posix(): _kind(line) for path, line in lines.items()}
    assert got == expected
    for line in lines.values():
        if "error" in line:
            assert line["error"]["message"].startswith(line["path"])  # names the file
    # The whole run, workers included, stayed under the configured address-space limit.
    assert peak_mb(done.stderr) < MEMORY_LIMIT_MB


def test_playlist_is_refused_even_when_forced_on_ffmpeg(tmp_path: Path, canary: str) -> None:
    """Defence in depth: had sniffing been fooled, FFmpeg may still only open local files."""
    from reclaim.media import Corrupt, MediaFormat, MediaLimits, Sampling, iter_video_frames
    from tests.media.hostile import hls_playlist

    path = tmp_path / "playlist.ts"
    path.write_bytes(hls_playlist(canary))
    with pytest.raises(Corrupt):
        list(iter_video_frames(path, MediaFormat.MPEGTS, MediaLimits(), Sampling()))


def test_a_decoder_past_its_time_is_stopped_and_the_batch_goes_on(tmp_path: Path) -> None:
    slow = write_video(tmp_path / "slow.mp4", seconds=20.0, fps=25, size=(1280, 720))
    quick = tmp_path / "quick.png"
    quick.write_bytes(png_declaring(10, 10))
    env = {"RECLAIM_MEDIA_DECODE_TIMEOUT_SECONDS": "0.3"}
    done, lines = run_hash("--every-frame", str(slow), str(quick), env=env)
    assert done.returncode == 1
    assert _kind(lines[slow.as_posix()]) == "timeout"
    assert "0.3 s" in lines[slow.as_posix()]["error"]["message"]
    assert quick.as_posix() in lines  # answered after the timeout, in input order
    assert list(lines) == [slow.as_posix(), quick.as_posix()]


def test_limits_from_settings_are_enforced(tmp_path: Path) -> None:
    video = write_video(tmp_path / "long.mp4", seconds=3.0)
    picture = tmp_path / "big.png"
    picture.write_bytes(png_declaring(5000, 5000))
    env = {
        "RECLAIM_MEDIA_MAX_VIDEO_SECONDS": "2",
        "RECLAIM_MEDIA_MAX_PIXELS": "1000000",
        "RECLAIM_MEDIA_MAX_IMAGE_BYTES": "100000000",
    }
    done, lines = run_hash(str(video), str(picture), env=env)
    assert _kind(lines[video.as_posix()]) == "too_large"
    assert "over the limit of 2 s" in lines[video.as_posix()]["error"]["message"]
    assert _kind(lines[picture.as_posix()]) == "too_large"
    assert "over the limit of 1,000,000" in lines[picture.as_posix()]["error"]["message"]
    env = {"RECLAIM_MEDIA_MAX_FRAMES": "2"}
    done, lines = run_hash(str(video), env=env)
    assert done.returncode == 1
    assert _kind(lines[video.as_posix()]) == "too_large"
    env = {"RECLAIM_MEDIA_MAX_VIDEO_BYTES": "1000"}
    done, lines = run_hash(str(video), env=env)
    assert done.returncode == 1
    assert "over the video limit of 1,000" in lines[video.as_posix()]["error"]["message"]


def test_a_cut_off_download_keeps_the_frames_that_decoded(tmp_path: Path) -> None:
    from tests.media.hostile import faststart_copy

    whole = faststart_copy(write_video(tmp_path / "v.mp4", seconds=4.0), tmp_path / "whole.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.55)])
    done, lines = run_hash(str(whole), str(cut))
    assert done.returncode == 0
    complete, partial = lines[whole.as_posix()], lines[cut.as_posix()]
    assert "warnings" not in complete
    assert len(complete["signals"][0]["frames"]) == 4
    vpdq = partial["signals"][0]
    assert vpdq["partial"] is True
    assert 1 <= len(vpdq["frames"]) < 4
    assert vpdq["frames"] == complete["signals"][0]["frames"][: len(vpdq["frames"])]
    assert "truncated" in partial["warnings"][0]


def test_truncated_pictures_stay_errors_after_weasyprint_is_imported(tmp_path: Path) -> None:
    """WeasyPrint switches Pillow's LOAD_TRUNCATED_IMAGES on for the whole process when
    imported (the evidence report imports it): decoding must not follow."""
    import weasyprint  # noqa: F401
    from PIL import ImageFile

    from reclaim.media.errors import Corrupt
    from reclaim.media.image import decode_image
    from reclaim.media.limits import MediaLimits
    from reclaim.media.sniff import sniff_file

    from .hostile import jpeg_bytes

    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as weasyprint.images leaves it
    path = tmp_path / "truncated.jpg"
    path.write_bytes(jpeg_bytes(3)[:4000])
    with pytest.raises(Corrupt):
        decode_image(path, sniff_file(path), MediaLimits())


def test_a_stream_ffmpeg_cannot_describe_is_corrupt() -> None:
    """A mutated MP4 (found by the optical sweep's fuzzing) whose video stream PyAV opens
    without a codec context: a typed error, not an AttributeError."""
    from reclaim.media.errors import Corrupt
    from reclaim.media.limits import MediaLimits
    from reclaim.media.sniff import sniff_file
    from reclaim.media.video import probe_video

    path = Path(__file__).parent / "files" / "no-codec-context.mp4"
    with pytest.raises(Corrupt, match="no decoder description"):
        probe_video(path, sniff_file(path), MediaLimits())

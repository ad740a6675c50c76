"""A corpus of hostile and broken files, generated on the fly (no binaries checked in)."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

from PIL import Image

from reclaim.demo.media import render_scene
from tests.media.generate import write_video


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A well-formed PNG header that declares a huge canvas, with a tiny IDAT."""
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    idat = _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + header + idat + _png_chunk(b"IEND", b"")


def jpeg_bytes(seed: int = 1, size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    Image.fromarray(render_scene(*size, seed=seed)).save(out, "JPEG", quality=90)
    return out.getvalue()


def png_bytes(seed: int = 2) -> bytes:
    out = io.BytesIO()
    Image.fromarray(render_scene(320, 240, seed=seed)).save(out, "PNG")
    return out.getvalue()


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.bin", b"\x00" * (64 * 1024 * 1024))
    return out.getvalue()


def gif_js_polyglot() -> bytes:
    """The classic GIF/JavaScript polyglot: a GIF header whose size field opens a comment."""
    return b"GIF89a/*\x00\x00\x00\x00\x00\x00\x00\x00\x00*/=1;alert(document.domain);//\x3b"


def remove_box(data: bytes, box: bytes) -> bytes:
    """An ISO-BMFF file with the top-level ``box`` cut out."""
    offset = 0
    out = bytearray()
    while offset + 8 <= len(data):
        size = struct.unpack(">I", data[offset : offset + 4])[0]
        kind = data[offset + 4 : offset + 8]
        if size < 8:
            break
        if kind != box:
            out += data[offset : offset + size]
        offset += size
    return bytes(out)


def empty_mp4(path: Path) -> Path:
    """An MP4 with a video track that holds no frames."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()
    return path


def hls_playlist(target: str) -> bytes:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
        f"#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n"
    ).encode()


def build_corpus(root: Path, canary_url: str) -> dict[str, str]:
    """Write the corpus under ``root``; return {relative path: expected error kind or "ok"}."""
    root.mkdir(parents=True, exist_ok=True)
    good_video = write_video(root / "good-video.mp4", seconds=2.0)
    video = good_video.read_bytes()
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, kind: str) -> None:
        (root / name).write_bytes(data)
        expected[name] = kind

    put("good-photo.jpg", jpeg_bytes(), "ok")
    expected["good-video.mp4"] = "ok"
    put("empty.jpg", b"", "empty_file")
    put("truncated.jpg", jpeg_bytes(3)[:4000], "corrupt")
    put("truncated.png", png_bytes()[:5000], "corrupt")
    put("truncated.mp4", video[: len(video) // 2], "corrupt")  # moov sits at the end
    put("no-moov.mp4", remove_box(video, b"moov"), "corrupt")
    put("huge-declared.png", png_declaring(100_000, 100_000), "too_large")
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1), (10, 20, 30)).save(tiny, "PNG")
    put("one-pixel.png", tiny.getvalue(), "ok")
    bogus = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 77
    Image.fromarray(render_scene(200, 100, seed=5)).save(bogus, "JPEG", exif=exif)
    put("bogus-orientation.jpg", bogus.getvalue(), "ok")
    put("zip-bomb.jpg", zip_bomb(), "unsupported_type")
    put(
        "page.jpg",
        b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
        "unsupported_type",
    )
    put("polyglot.gif", gif_js_polyglot(), "corrupt")
    empty_mp4(root / "zero-frames.mp4")
    expected["zero-frames.mp4"] = "no_frames"
    put(
        "metadata.m3u8",
        hls_playlist("http://169.254.169.254/latest/meta-data/"),
        "unsupported_type",
    )
    put("canary.m3u8", hls_playlist(canary_url), "unsupported_type")
    put("playlist-named-video.mp4", hls_playlist(canary_url), "unsupported_type")
    put("random.bin", os.urandom(100_000), "unsupported_type")
    loop_dir = root / "loop"
    loop_dir.mkdir()
    (loop_dir / "inner.jpg").write_bytes(jpeg_bytes(6))
    expected["loop/inner.jpg"] = "ok"
    os.symlink("..", loop_dir / "again")  # loop/again -> root, which contains loop/
    expected["loop/again"] = "not_a_file"
    return expected


def faststart_copy(source: Path, target: Path) -> Path:
    """The same video with its index (moov) moved to the front, as streaming sites serve."""
    import av

    with (
        av.open(str(source)) as src,
        av.open(str(target), "w", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    return target

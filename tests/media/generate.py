"""Write small media files of every supported format, for tests (nothing is checked in)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from reclaim.demo.media import render_scene

# suffix -> (container format, codec, pixel format)
VIDEO_FORMATS = {
    ".mp4": ("mp4", "libx264", "yuv420p"),
    ".mov": ("mov", "libx264", "yuv420p"),
    ".mkv": ("matroska", "libx264", "yuv420p"),
    ".webm": ("webm", "libvpx", "yuv420p"),
    ".avi": ("avi", "mpeg4", "yuv420p"),
    ".ts": ("mpegts", "libx264", "yuv420p"),
    ".flv": ("flv", "flv", "yuv420p"),
    ".3gp": ("3gp", "libx264", "yuv420p"),
}

IMAGE_FORMATS = [".jpg", ".png", ".gif", ".webp", ".bmp", ".tiff", ".heic"]


def write_image(path: Path, rgb: np.ndarray) -> Path:
    image = Image.fromarray(rgb)
    if path.suffix == ".heic":
        from pillow_heif import register_heif_opener

        register_heif_opener()
        image.save(path, quality=90)
    elif path.suffix in (".jpg", ".webp"):
        image.save(path, quality=92)
    else:
        image.save(path)
    return path


def write_video(
    path: Path,
    *,
    seconds: float = 3.0,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    seed: int = 1,
    gop: int = 25,
) -> Path:
    container_format, codec, pix_fmt = VIDEO_FORMATS[path.suffix]
    width, height = size
    base = render_scene(width, height, seed)
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.gop_size = gop
        stream.codec_context.time_base = Fraction(1, fps)
        if codec == "libx264":
            stream.codec_context.options = {"preset": "ultrafast", "bf": "2"}
        for index in range(round(seconds * fps)):
            pixels = np.roll(base, index * 3, axis=1)
            if (index // fps) % 2:
                pixels = pixels[::-1]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def frame_at(seconds: float, fps: int = 25, size: tuple[int, int] = (320, 240), seed: int = 1):
    """The pixels ``write_video`` put at ``seconds`` (before compression)."""
    width, height = size
    index = round(seconds * fps)
    pixels = np.roll(render_scene(width, height, seed), index * 3, axis=1)
    return pixels[::-1] if (index // fps) % 2 else pixels

"""Write small media files of every supported format, for tests (nothing is checked in)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from reclaim.demo.media import make_video, render_scene, scene_frame

# suffix -> (container format, codec)
VIDEO_FORMATS = {
    ".mp4": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".webm": ("webm", "libvpx"),
    ".avi": ("avi", "mpeg4"),
    ".ts": ("mpegts", "libx264"),
    ".flv": ("flv", "flv"),
    ".3gp": ("3gp", "libx264"),
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
    container_format, codec = VIDEO_FORMATS[path.suffix]
    options = {"preset": "ultrafast", "bf": "2"} if codec == "libx264" else {}
    return make_video(
        path,
        width=size[0],
        height=size[1],
        seconds=seconds,
        fps=fps,
        gop_seconds=gop / fps,
        seed=seed,
        shift=3,
        codec=codec,
        container_format=container_format,
        codec_options=options,
    )


def frame_at(seconds: float, fps: int = 25, size: tuple[int, int] = (320, 240), seed: int = 1):
    """The pixels ``write_video`` put at ``seconds`` (before compression)."""
    return scene_frame(render_scene(*size, seed=seed), round(seconds * fps), fps, shift=3)

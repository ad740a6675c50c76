"""Procedurally generated photos and videos: freely licensed stand-ins for real media.

They have the structure PDQ needs (edges, gradients, texture at several scales) so their
hashes have full quality, and each seed gives a different, reproducible picture. Tests,
benchmarks and the demo use them; nothing here depicts anyone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

RGB = npt.NDArray[np.uint8]


@contextlib.contextmanager
def scheduling_kept() -> Iterator[None]:
    """Give the calling thread its scheduling policy back afterwards.

    SVT-AV1 (``libsvtav1``), run as root, switches the thread that drives it to real-time
    ``SCHED_FIFO`` priority 99 and leaves it so. Every process started from that thread
    afterwards inherits it, and one busy real-time process (a browser, a server) starves
    everything else on the machine -- which is how a test suite once stalled for good."""
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        yield
    finally:
        if os.sched_getscheduler(0) != policy or os.sched_getparam(0) != param:
            os.sched_setscheduler(0, policy, param)


def render_scene(width: int, height: int, seed: int, t: float = 0.0) -> RGB:
    """An RGB picture of blobs, bars and gradients; ``t`` moves the scene smoothly."""
    rng = np.random.default_rng(seed)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    canvas = np.zeros((height, width, 3), dtype=np.float32)
    for _ in range(6):  # low-frequency waves give the picture its large-scale layout
        fx, fy = rng.uniform(0.5, 4.0, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        colour = rng.uniform(-60, 60, size=3).astype(np.float32)
        wave = np.sin(2 * np.pi * (fx * xs + fy * ys) + phase + t * rng.uniform(0.2, 1.0))
        canvas += wave[:, :, None] * colour
    for _ in range(12):  # discs with hard edges
        cx, cy = rng.uniform(0, 1, size=2) + t * rng.uniform(-0.03, 0.03, size=2)
        radius = rng.uniform(0.03, 0.2)
        mask = ((xs - cx) * width / height) ** 2 + (ys - cy) ** 2 < radius**2
        canvas[mask] = rng.uniform(0, 255, size=3)
    canvas += 128.0
    noise = rng.normal(0.0, 4.0, size=(height, width, 1)).astype(np.float32)
    pixels: RGB = np.clip(canvas + noise, 0, 255).astype(np.uint8)
    return pixels


def make_photo(path: Path, width: int, height: int, seed: int, quality: int = 90) -> Path:
    """Write a generated picture to ``path`` in the format its suffix names."""
    image = Image.fromarray(render_scene(width, height, seed))
    if path.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        image.save(path, quality=quality)
    else:
        image.save(path)
    return path


def scene_frame(base: RGB, index: int, fps: int, shift: int = 4) -> RGB:
    """Frame ``index`` of a generated video: ``base`` panning sideways ``shift`` pixels a
    frame, upside down every other second (a cut that keeps neighbouring seconds distinct)."""
    pixels = np.roll(base, index * shift, axis=1)
    return pixels[::-1] if (index // fps) % 2 else pixels


def make_video(
    path: Path,
    *,
    width: int = 640,
    height: int = 360,
    seconds: float = 4.0,
    fps: int = 30,
    gop_seconds: float = 2.0,
    seed: int = 0,
    shift: int = 4,
    codec: str = "libx264",
    container_format: str | None = None,
    codec_options: dict[str, str] | None = None,
) -> Path:
    """Write a generated moving scene as a video; the container follows the suffix unless
    ``container_format`` names one."""
    options = {"preset": "veryfast", "sc_threshold": "0"} if codec == "libx264" else {}
    options.update(codec_options or {})
    base = render_scene(width, height, seed)
    with scheduling_kept(), av.open(str(path), mode="w", format=container_format) as container:
        stream: Any = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = max(1, round(gop_seconds * fps))
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.options = options
        for index in range(round(seconds * fps)):
            pixels = np.ascontiguousarray(scene_frame(base, index, fps, shift))
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


DEMO_CLIP: dict[str, Any] = {"width": 640, "height": 360, "seconds": 5.0, "seed": 7}
"""How ``clip.mp4`` of the demo folder is made (the demo site serves a copy of it)."""


def make_demo_folder(folder: Path) -> Path:
    """A small folder of demo media: three photos, a re-saved mirrored copy, a video."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(3):
        make_photo(folder / f"photo-{seed + 1}.jpg", 1600, 1200, seed=seed)
    mirrored = Image.open(folder / "photo-1.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    mirrored.resize((800, 600)).save(folder / "photo-1-mirrored-copy.jpg", quality=70)
    make_video(folder / "clip.mp4", **DEMO_CLIP)
    return folder

"""Distinct pictures to bank, and distractors that must match nothing.

Every picture here is content-disjoint from every other: a photo is used whole *or* cut
into non-overlapping tiles, never both, so any match between two of them is a false
match. Sources: scikit-image's bundled photos (public domain / CC0 / BSD, see its
``data/README``), the ThreatExchange reference photo and video frames when present, and
generated pictures (smooth random fields, text-only pages, shapes on a shared background)
chosen to look alike the way real near-duplicates do.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Rgb = npt.NDArray[np.uint8]

# scikit-image photos (file name, how many tiles per side). The motorcycle's right view
# is left out: it is the same scene as the left one, a true near-duplicate.
_PHOTOS = (
    ("astronaut.png", 2),
    ("brick.png", 1),
    ("camera.png", 1),
    ("cell.png", 1),
    ("chelsea.png", 1),
    ("clock_motion.png", 1),
    ("coffee.png", 1),
    ("coins.png", 1),
    ("color.png", 1),
    ("grass.png", 2),
    ("gravel.png", 2),
    ("hubble_deep_field.jpg", 2),
    ("ihc.png", 2),
    ("logo.png", 1),
    ("moon.png", 1),
    ("motorcycle_left.png", 2),
    ("page.png", 1),
    ("retina.jpg", 2),
    ("rocket.jpg", 1),
    ("text.png", 1),
)
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/noto")


@dataclass(frozen=True, slots=True)
class Picture:
    name: str
    rgb: Rgb
    family: str  # photo, tile, video, field, text, scene


def as_rgb(image: Image.Image) -> Rgb:
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def skimage_photos() -> Iterator[Picture]:
    """The bundled scikit-image photos, large ones cut into non-overlapping tiles."""
    data = Path(importlib.import_module("skimage").__file__ or "").parent / "data"
    for name, tiles in _PHOTOS:
        with Image.open(data / name) as image:
            rgb = as_rgb(image)
        stem = name.rsplit(".", 1)[0]
        if tiles == 1:
            yield Picture(stem, rgb, "photo")
            continue
        height, width = rgb.shape[0] // tiles, rgb.shape[1] // tiles
        for row in range(tiles):
            for col in range(tiles):
                tile = rgb[row * height : (row + 1) * height, col * width : (col + 1) * width]
                yield Picture(f"{stem}-{row}{col}", np.ascontiguousarray(tile), "tile")


def reference_pictures(reference: Path | None) -> Iterator[Picture]:
    """The ThreatExchange bridge photo and one frame from each reference scene."""
    if reference is None:
        return
    bridge = reference / "pdq" / "bridge-1-original.jpg"
    if bridge.exists():
        with Image.open(bridge) as image:
            yield Picture("bridge", as_rgb(image), "photo")
    videos = reference / "vpdq" / "videos"
    for stem, seconds in (
        ("chair-orig-22-sd-bar", 3.0),
        ("doorknob-hd-no-bar", 2.0),
        ("pattern-hd-no-bar", 4.0),
    ):
        path = videos / f"{stem}.mp4"
        if path.exists():
            frame = _video_frame(path, seconds)
            if frame is not None:
                yield Picture(stem.split("-")[0], frame, "video")


def _video_frame(path: Path, seconds: float) -> Rgb | None:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    return None


def smooth_field(seed: int, size: tuple[int, int] = (480, 640)) -> Rgb:
    """Random structure at several scales, coloured: cloud- and texture-like pictures
    whose PDQ hashes are as independent as their seeds."""
    rng = np.random.default_rng(seed)
    height, width = size
    out = np.zeros((height, width, 3), dtype=np.float32)
    for octave, cells in enumerate((3, 6, 12, 24)):
        noise = rng.random((cells, int(cells * width / height) + 1, 3)).astype(np.float32)
        layer = Image.fromarray((noise * 255).astype(np.uint8)).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        out += np.asarray(layer, dtype=np.float32) / (1.6**octave)
    out -= out.min()
    out *= 255.0 / max(float(out.max()), 1.0)
    return out.astype(np.uint8)


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    names = ("DejaVuSans-Bold.ttf",) if bold else ("DejaVuSans.ttf", "DejaVuSerif.ttf")
    for directory in _FONT_DIRS:
        for name in names:
            path = Path(directory) / name
            if path.exists():
                return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


_WORDS = (
    "river",
    "morning",
    "station",
    "window",
    "quiet",
    "orange",
    "market",
    "winter",
    "letter",
    "garden",
    "paper",
    "silver",
    "harbour",
    "engine",
    "mountain",
    "yellow",
    "coffee",
    "evening",
    "number",
    "bridge",
    "travel",
    "ticket",
    "animal",
    "forest",
    "office",
    "camera",
    "planet",
    "simple",
    "theatre",
    "kitchen",
    "purple",
    "season",
    "island",
)


def text_page(seed: int, size: tuple[int, int] = (480, 640)) -> Rgb:
    """Black words on white in one font and layout: text-only pictures that differ only
    in their words, the kind plain PDQ finds closest to each other."""
    rng = np.random.default_rng(seed)
    height, width = size
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    face = font(int(rng.integers(22, 40)), bool(rng.integers(0, 2)))
    y = int(rng.integers(10, 60))
    while y < height - 40:
        words = " ".join(rng.choice(_WORDS, size=int(rng.integers(2, 6))))
        draw.text((int(rng.integers(10, 80)), y), words, fill="black", font=face)
        y += int(rng.integers(36, 70))
    return as_rgb(image)


def scene(background: Rgb, subject: Rgb, seed: int) -> Rgb:
    """``subject`` on a shared ``background``, covering about half of it: the same room
    with a different person in it must not match."""
    rng = np.random.default_rng(seed)
    height, width = background.shape[:2]
    sub_w = int(width * rng.uniform(0.55, 0.7))
    sub_h = int(height * rng.uniform(0.6, 0.75))
    pasted = Image.fromarray(subject).resize((sub_w, sub_h), Image.Resampling.LANCZOS)
    image = Image.fromarray(background)
    x = int(rng.integers(0, width - sub_w + 1))
    y = int(rng.integers(0, height - sub_h + 1))
    image.paste(pasted, (x, y))
    return as_rgb(image)


def shapes(seed: int, size: tuple[int, int] = (480, 640)) -> Rgb:
    """A few flat-coloured shapes on a flat ground: graphics, logos, memes."""
    rng = np.random.default_rng(seed)
    height, width = size
    image = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 8))):
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.integers(0, 2):
            draw.ellipse((x0, y0, x1 + 20, y1 + 20), fill=colour)
        else:
            draw.rectangle((x0, y0, x1 + 20, y1 + 20), fill=colour)
    return as_rgb(image.filter(ImageFilter.SMOOTH))


def distinct_pictures(reference: Path | None, *, generated: int = 480) -> list[Picture]:
    """Real photos and tiles, reference frames, and ``generated`` synthetic pictures, all
    content-disjoint."""
    pictures = list(skimage_photos()) + list(reference_pictures(reference))
    backgrounds = [p.rgb for p in pictures if p.name.startswith(("brick", "grass-00"))]
    kinds = ("field", "text", "scene", "shapes")
    for i in range(generated):
        kind = kinds[i % len(kinds)]
        seed = 1_000 + i
        if kind == "field":
            rgb = smooth_field(seed)
        elif kind == "text":
            rgb = text_page(seed)
        elif kind == "scene":
            subject = smooth_field(20_000 + i, (300, 240))  # every scene its own subject
            rgb = scene(backgrounds[i % len(backgrounds)], subject, seed)
        else:
            rgb = shapes(seed)
        pictures.append(Picture(f"{kind}-{seed}", rgb, kind))
    return pictures

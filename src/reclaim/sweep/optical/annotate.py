"""The picture that goes with a finding: the frame with the glint circled, a zoomed inset
of it, and the time, so that the inspector can walk to the spot and look."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

RGB = npt.NDArray[np.uint8]
MIN_WIDTH = 640
"""Smaller frames are enlarged to this width, so the picture reads on a phone."""
QUALITY = 85
_RING = (255, 214, 0)
_OUTLINE = (0, 0, 0)


def annotate(rgb: RGB, x: float, y: float, diameter: float, label: str) -> bytes:
    """A JPEG of ``rgb`` with the glint at (x, y) circled, an inset magnifying it, and
    ``label`` (e.g. "0:12.4  x 812, y 433") written in a corner."""
    height, width = rgb.shape[:2]
    zoom = max(1, -(-MIN_WIDTH // width))
    picture = Image.fromarray(rgb)
    if zoom > 1:
        picture = picture.resize((width * zoom, height * zoom), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(picture)
    cx, cy = (x + 0.5) * zoom, (y + 0.5) * zoom
    radius = max(12.0, 2.5 * diameter * zoom)
    _ring(draw, cx, cy, radius)
    inset_box = _inset(picture, rgb, x, y, diameter)
    ix0, iy0, ix1, iy1 = inset_box
    corner = (ix0 if cx < ix0 else ix1, iy0 if cy < iy0 else iy1)
    draw.line([corner, _toward(cx, cy, corner, radius)], fill=_RING, width=2)
    _caption(draw, label, picture.size, inset_box)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def _ring(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float) -> None:
    for grow, colour, width in ((2, _OUTLINE, 5), (0, _RING, 2)):
        r = radius + grow
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=width)


def _inset(
    picture: Image.Image, rgb: RGB, x: float, y: float, diameter: float
) -> tuple[int, int, int, int]:
    """Paste a magnified crop around the glint into the corner farthest from it; return
    where it went."""
    height, width = rgb.shape[:2]
    half = max(8, round(3 * diameter))
    x0, y0 = max(0, round(x) - half), max(0, round(y) - half)
    x1, y1 = min(width, round(x) + half + 1), min(height, round(y) + half + 1)
    crop = Image.fromarray(rgb[y0:y1, x0:x1])
    side = round(min(picture.size) * 0.42)
    scale = side / max(crop.size)
    crop = crop.resize(
        (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
        Image.Resampling.NEAREST,  # pixels stay pixels: nothing is made up by smoothing
    )
    zoom = picture.width / width
    margin = 8
    left = (x * zoom) > picture.width / 2
    top = (y * zoom) > picture.height / 2
    px = margin if left else picture.width - crop.width - margin
    py = margin if top else picture.height - crop.height - margin
    picture.paste(crop, (px, py))
    draw = ImageDraw.Draw(picture)
    draw.rectangle(
        [px - 2, py - 2, px + crop.width + 1, py + crop.height + 1], outline=_RING, width=2
    )
    # Circle the glint inside the inset too.
    gx, gy = px + (x - x0 + 0.5) * scale, py + (y - y0 + 0.5) * scale
    _ring(draw, gx, gy, max(6.0, 1.5 * diameter * scale))
    return px, py, px + crop.width, py + crop.height


def _toward(
    cx: float, cy: float, corner: tuple[float, float], radius: float
) -> tuple[float, float]:
    """The point on the ring around (cx, cy) that faces ``corner``."""
    dx, dy = corner[0] - cx, corner[1] - cy
    length = max(1e-6, (dx * dx + dy * dy) ** 0.5)
    return cx + dx / length * radius, cy + dy / length * radius


def _caption(
    draw: ImageDraw.ImageDraw, label: str, size: tuple[int, int], inset: tuple[int, int, int, int]
) -> None:
    font = ImageFont.load_default(size=max(12, size[1] // 28))
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    # Under the inset, or above it when the inset sits at the bottom.
    x = inset[0]
    y = inset[3] + 6 if inset[3] + 6 + (bottom - top) < size[1] else inset[1] - (bottom - top) - 10
    draw.rectangle([x - 3, y - 3, x + right - left + 3, y + bottom - top + 5], fill=(0, 0, 0))
    draw.text((x - left, y - top), label, fill=(255, 255, 255), font=font)

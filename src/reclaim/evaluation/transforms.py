"""The edits re-uploaders make, as seeded functions of a picture.

Each family draws its parameters from the ranges the robustness target names (JPEG
quality 10-30, scale 0.2-0.5, crop 5-30%, rotation 1-10 degrees, ...), so a run is
reproducible from its seed and every copy records what was done to it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from reclaim.evaluation.corpus import Rgb, as_rgb, font

Rng = np.random.Generator


@dataclass(frozen=True, slots=True)
class Copy:
    family: str
    detail: str
    rgb: Rgb


def _image(rgb: Rgb) -> Image.Image:
    return Image.fromarray(rgb)


def jpeg(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    quality = int(rng.integers(10, 31))
    buffer = io.BytesIO()
    _image(rgb).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return f"quality {quality}", as_rgb(image)


def scale(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    factor = float(rng.uniform(0.2, 0.5))
    height, width = rgb.shape[:2]
    size = (max(8, round(width * factor)), max(8, round(height * factor)))
    return f"x{factor:.2f}", as_rgb(_image(rgb).resize(size, Image.Resampling.BILINEAR))


def crop(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    """Remove 5-30% of the width and of the height, split at random between the sides
    (often all from one side, like a re-framed photo)."""
    height, width = rgb.shape[:2]
    share = float(rng.uniform(0.05, 0.30))
    out = []
    for side in (width, height):
        cut = round(side * share)
        first = round(cut * float(rng.choice([0.0, 0.5, 1.0, rng.uniform(0, 1)])))
        out.append((first, side - (cut - first)))
    (x0, x1), (y0, y1) = out
    return f"{share:.0%} at x{x0} y{y0}", np.ascontiguousarray(rgb[y0:y1, x0:x1])


def mirror(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    if rng.random() < 0.75:
        return "left-right", np.ascontiguousarray(rgb[:, ::-1])
    return "top-bottom", np.ascontiguousarray(rgb[::-1])


def rotate(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    """Rotate 1-10 degrees either way; half keep the whole frame with black corners, half
    are cropped to the largest upright rectangle inside (what phone editors do)."""
    angle = float(rng.uniform(1, 10)) * float(rng.choice([-1, 1]))
    image = _image(rgb)
    if rng.random() < 0.5:
        turned = image.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        return f"{angle:+.1f} deg, corners", as_rgb(turned)
    turned = image.rotate(angle, Image.Resampling.BICUBIC, expand=False)
    width, height = image.size
    w, h = _inscribed(width, height, np.radians(abs(angle)))
    left, top = (width - w) // 2, (height - h) // 2
    return f"{angle:+.1f} deg, cropped", as_rgb(turned.crop((left, top, left + w, top + h)))


def _inscribed(width: int, height: int, angle: float) -> tuple[int, int]:
    """The largest upright rectangle of the frame's aspect inside the frame turned by
    ``angle`` about its centre."""
    cos, sin = np.cos(angle), np.sin(angle)
    factor = min(width / (width * cos + height * sin), height / (width * sin + height * cos))
    return int(width * factor), int(height * factor)


def text(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    """A caption bar or words written over the picture."""
    image = _image(rgb)
    width, height = image.size
    draw = ImageDraw.Draw(image)
    face = font(max(12, height // 14), bold=True)
    words = str(rng.choice(["LEAKED", "full video in bio", "NEW 2026", "click here", "hidden"]))
    if rng.random() < 0.5:
        bar = int(height * rng.uniform(0.08, 0.15))
        y = 0 if rng.random() < 0.5 else height - bar
        draw.rectangle((0, y, width, y + bar), fill=(0, 0, 0))
        draw.text((width // 20, y + bar // 6), words, fill=(255, 255, 255), font=face)
        return f"bar '{words}'", as_rgb(image)
    x, y = int(width * rng.uniform(0.05, 0.4)), int(height * rng.uniform(0.1, 0.8))
    draw.text((x, y), words, fill=(255, 255, 0), font=face, stroke_width=2, stroke_fill="black")
    return f"words '{words}'", as_rgb(image)


def logo(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    """A watermark logo of 5-15% of the area in a corner or the centre."""
    image = _image(rgb).convert("RGBA")
    width, height = image.size
    side = int(np.sqrt(width * height * rng.uniform(0.05, 0.15)))
    mark = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(mark)
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    draw.ellipse((0, 0, side - 1, side - 1), fill=(*colour, 200))
    draw.text((side // 5, side // 3), "XV", fill=(255, 255, 255, 230), font=font(side // 3, True))
    spots = [
        (8, 8),
        (width - side - 8, 8),
        (8, height - side - 8),
        (width - side - 8, height - side - 8),
        ((width - side) // 2, (height - side) // 2),
    ]
    x, y = spots[int(rng.integers(0, len(spots)))]
    image.alpha_composite(mark, (max(0, x), max(0, y)))
    return f"{side}px at {x},{y}", as_rgb(image)


def bars(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    """Letterbox or pillarbox to another aspect: black, white or a blurred copy."""
    image = _image(rgb)
    width, height = image.size
    if width >= height:  # landscape into a portrait or square frame: letterbox
        frame = (width, int(width * rng.uniform(1.0, 16 / 9)))
    else:
        frame = (int(height * rng.uniform(1.0, 16 / 9)), height)
    if frame[0] == width and frame[1] == height:
        frame = (width, int(height * 1.4))
    kind = str(rng.choice(["black", "white", "blurred"]))
    if kind == "blurred":
        ground = ImageOps.fit(image, frame).filter(ImageFilter.GaussianBlur(max(frame) / 30))
    else:
        ground = Image.new("RGB", frame, kind)
    ground.paste(image, ((frame[0] - width) // 2, (frame[1] - height) // 2))
    return f"{kind} to {frame[0]}x{frame[1]}", as_rgb(ground)


def screenshot(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    """The picture shown in a phone app: status bar, app header, caption, bottom bar."""
    image = _image(rgb)
    phone_w = 720
    shown = image.resize(
        (phone_w, max(1, round(image.height * phone_w / image.width))), Image.Resampling.BILINEAR
    )
    dark = rng.random() < 0.5
    ground, ink = ((18, 18, 18), (235, 235, 235)) if dark else ((255, 255, 255), (20, 20, 20))
    status, header = 48, int(rng.integers(90, 140))
    caption = int(rng.integers(120, 260))
    phone_h = status + header + shown.height + caption + 110
    phone = Image.new("RGB", (phone_w, phone_h), ground)
    draw = ImageDraw.Draw(phone)
    small = font(24)
    draw.text((24, 10), "9:41", fill=ink, font=small)
    draw.text((phone_w - 150, 10), "5G  87%", fill=ink, font=small)
    draw.ellipse((20, status + 20, 80, status + 80), fill=(120, 120, 200))
    draw.text((100, status + 30), "someone_uploads", fill=ink, font=font(28, True))
    phone.paste(shown, (0, status + header))
    y = status + header + shown.height + 20
    draw.text((24, y), "♡  💬  ➤", fill=ink, font=small)
    draw.text((24, y + 44), "liked by others and 1,024 more", fill=ink, font=small)
    draw.rectangle((0, phone_h - 100, phone_w, phone_h), fill=ground)
    for k in range(5):
        x = 60 + k * 140
        draw.rectangle((x, phone_h - 70, x + 40, phone_h - 30), outline=ink, width=3)
    return f"{'dark' if dark else 'light'} app, header {header}", as_rgb(phone)


def colour(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    image = _image(rgb)
    c, b, s = (float(v) for v in rng.uniform([0.6, 0.7, 0.3], [1.5, 1.3, 1.8]))
    image = ImageEnhance.Contrast(image).enhance(c)
    image = ImageEnhance.Brightness(image).enhance(b)
    image = ImageEnhance.Color(image).enhance(s)
    return f"contrast {c:.2f} brightness {b:.2f} saturation {s:.2f}", as_rgb(image)


def grayscale(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    return "grey", as_rgb(_image(rgb).convert("L"))


def blur(rgb: Rgb, rng: Rng) -> tuple[str, Rgb]:
    radius = float(rng.uniform(1, 4)) * max(rgb.shape[:2]) / 500
    return f"gaussian {radius:.1f}px", as_rgb(_image(rgb).filter(ImageFilter.GaussianBlur(radius)))


Transform = Callable[[Rgb, Rng], tuple[str, Rgb]]

FAMILIES: dict[str, tuple[Transform, ...]] = {
    "jpeg": (jpeg,),
    "scale": (scale,),
    "crop": (crop,),
    "mirror": (mirror,),
    "rotate": (rotate,),
    "text": (text,),
    "logo": (logo,),
    "bars": (bars,),
    "screenshot": (screenshot,),
    "colour": (colour,),
    "grayscale": (grayscale,),
    "blur": (blur,),
    "combined": (),  # two to three of the others, drawn at random
}
_COMBINABLE = (jpeg, scale, crop, mirror, rotate, text, logo, bars, colour, blur)


def copies(rgb: Rgb, seed: int, per_family: int = 2) -> list[Copy]:
    """``per_family`` transformed copies of ``rgb`` in every family, reproducible by seed."""
    rng = np.random.default_rng(seed)
    out = []
    for family, steps in FAMILIES.items():
        for _ in range(per_family):
            chain: tuple[Transform, ...] = steps
            if not chain:
                picks = rng.choice(len(_COMBINABLE), size=int(rng.integers(2, 4)), replace=False)
                chain = tuple(_COMBINABLE[int(k)] for k in sorted(picks))
            result, details = rgb, []
            for step in chain:
                detail, result = step(result, rng)
                details.append(f"{step.__name__}: {detail}")
            out.append(Copy(family, "; ".join(details), result))
    return out

"""Safe decoding of untrusted still and animated images into RGB pixels.

Every image leaves here as 8-bit RGB with its EXIF orientation applied and any alpha
composited on white, whatever it was stored as (palette, 16-bit, CMYK, float, ...).
The size is checked from the header before a single pixel is decoded.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from reclaim.media.errors import Corrupt, MediaError, TooLarge
from reclaim.media.frames import Frame, Sampler, Sampling
from reclaim.media.limits import MediaLimits
from reclaim.media.sniff import MediaFormat

RGB = npt.NDArray[np.uint8]

# Browsers show GIF frames with a delay of 10 ms or less for 100 ms; so do we.
_MIN_FRAME_MS = 11
_DEFAULT_FRAME_MS = 100
# Very large stills are reduced by an integer box filter before hashing: PDQ's own
# first step is a box filter to 64x64, so this changes the hash by a bit or two at most
# while bounding memory and time. The shorter side stays at least this long.
HASH_MIN_SIDE = 1024

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An image ready for hashing."""

    rgb: RGB
    stored_size: tuple[int, int]
    animated: bool
    frame_count: int


@contextlib.contextmanager
def open_image(path: Path, fmt: MediaFormat, limits: MediaLimits) -> Iterator[Image.Image]:
    """Open ``path`` with exactly the Pillow plugin for ``fmt``, after checking its size."""
    # A truncated file is an error, never a picture padded with grey: some libraries turn
    # this process-wide switch on when imported (WeasyPrint does, for the evidence report).
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if fmt is MediaFormat.HEIF:
        _register_heif()
    with warnings.catch_warnings():
        # Pillow warns above ~89 MP; our own limit (checked below) decides instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path, formats=[fmt.value])
            width, height = image.size
        except Image.DecompressionBombError as exc:
            raise TooLarge(path, f"image too large to decode safely ({exc})") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise Corrupt(path, f"cannot read the {fmt.value} header: {exc}") from exc
        try:
            if width <= 0 or height <= 0:
                raise Corrupt(path, f"image declares an empty size {width}x{height}")
            if width * height > limits.max_pixels:
                raise TooLarge(
                    path,
                    f"image is {width}x{height} = {width * height:,} pixels, "
                    f"over the limit of {limits.max_pixels:,}",
                )
            yield image
        finally:
            image.close()


def decode_image(
    path: Path, fmt: MediaFormat, limits: MediaLimits, *, draft_min_side: int = 0
) -> DecodedImage:
    """Decode the (first frame of the) image at ``path`` to RGB.

    ``draft_min_side`` > 0 lets JPEGs decode at a reduced DCT scale whose shorter side
    is still at least that many pixels: several times faster, a few bits of PDQ away.
    """
    with open_image(path, fmt, limits) as image:
        stored_size = image.size
        animated = bool(getattr(image, "is_animated", False))
        frames = _frame_count(image, path, limits) if animated else 1
        if draft_min_side and fmt is MediaFormat.JPEG:
            _apply_draft(image, draft_min_side)
        rgb = _load_rgb(image, path, orient=True)
    return DecodedImage(rgb=rgb, stored_size=stored_size, animated=animated, frame_count=frames)


def iter_animation_frames(
    path: Path, fmt: MediaFormat, limits: MediaLimits, sampling: Sampling
) -> Iterator[Frame]:
    """The sampled frames of an animated GIF, WebP or APNG, as RGB with timestamps."""
    with open_image(path, fmt, limits) as image:
        sampler = Sampler(sampling, limits, path)
        elapsed_ms = 0
        for index in range(_frame_count(image, path, limits)):
            try:
                image.seek(index)
            except (EOFError, OSError, ValueError) as exc:
                raise Corrupt(path, f"animation frame {index} cannot be decoded: {exc}") from exc
            ts = elapsed_ms / 1000.0
            if sampler.wants(ts):
                sampler.take(ts)
                yield Frame(index=index, ts=ts, rgb=_load_rgb(image, path, orient=False))
            duration = image.info.get("duration") or 0
            elapsed_ms += int(duration) if int(duration) >= _MIN_FRAME_MS else _DEFAULT_FRAME_MS


def _frame_count(image: Image.Image, path: Path, limits: MediaLimits) -> int:
    try:
        count = int(getattr(image, "n_frames", 1))
    except (OSError, ValueError, EOFError, SyntaxError) as exc:
        raise Corrupt(path, f"cannot count animation frames: {exc}") from exc
    if count > limits.max_frames:
        raise TooLarge(
            path, f"animation has {count:,} frames, over the limit of {limits.max_frames:,}"
        )
    return count


def _apply_draft(image: Image.Image, min_side: int) -> None:
    width, height = image.size
    scale = min(width, height) / max(min_side, 1)
    if scale >= 2:
        # Pillow picks the largest DCT reduction that keeps both sides >= the request.
        image.draft("RGB", (int(width / scale) + 1, int(height / scale) + 1))


def _load_rgb(image: Image.Image, path: Path, *, orient: bool) -> RGB:
    try:
        image.load()
        if orient:
            image = _orient(image)
        rgb = _to_rgb(image)
    except MediaError:
        raise
    except MemoryError as exc:
        raise TooLarge(path, "not enough memory to decode the image") from exc
    except (OSError, ValueError, EOFError, SyntaxError, TypeError, IndexError) as exc:
        raise Corrupt(path, f"cannot decode the image: {exc}") from exc
    return _reduce_for_hashing(rgb)


def _orient(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation; a missing, bogus or unreadable tag leaves the image as stored."""
    try:
        oriented = ImageOps.exif_transpose(image)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError, AttributeError):
        return image
    return oriented if oriented is not None else image


def _to_rgb(image: Image.Image) -> RGB:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return _gray_to_rgb(_scale_to_8bit(np.asarray(image), 65535.0))
    if mode == "F":
        values = np.asarray(image, dtype=np.float32)
        peak = 1.0 if float(np.nanmax(values, initial=0.0)) <= 1.0 else 255.0
        return _gray_to_rgb(_scale_to_8bit(values, peak))
    if (
        "A" in mode
        or "a" in mode
        or (mode == "P" and "transparency" in image.info)
        or (mode in ("L", "RGB") and "transparency" in image.info)
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return np.asarray(background, dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _scale_to_8bit(values: npt.NDArray[np.generic], peak: float) -> npt.NDArray[np.uint8]:
    scaled = np.nan_to_num(values.astype(np.float32) * (255.0 / peak))
    out: npt.NDArray[np.uint8] = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return out


def _gray_to_rgb(gray: npt.NDArray[np.uint8]) -> RGB:
    return np.repeat(gray[:, :, None], 3, axis=2)


def _reduce_for_hashing(rgb: RGB) -> RGB:
    factor = min(rgb.shape[0], rgb.shape[1]) // HASH_MIN_SIDE
    if factor < 2:
        return np.ascontiguousarray(rgb)
    reduced: RGB = np.asarray(Image.fromarray(rgb).reduce(factor), dtype=np.uint8)
    return reduced

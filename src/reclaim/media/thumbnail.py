"""Small JPEG thumbnails of untrusted images and videos, and the blurred preview shown first.

A support worker reviewing a sighting sees :func:`blurred_preview` -- greyscale and blurred
until nothing in it can be recognised -- and the thumbnail only when she asks for it. The
thumbnail is decoded with the same checks as hashing (sniffed format, byte and pixel
limits, EXIF orientation) and re-encoded from pixels alone, so no metadata of the found
file (camera, place, time) is kept. :class:`Thumbnailer` runs the decoding in a worker
process that can be killed, as the hashing does.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter, UnidentifiedImageError

from reclaim.media.errors import Corrupt, MediaError, NoFrames, TooLarge, UnsupportedType
from reclaim.media.files import checked_file
from reclaim.media.frames import Sampler, Sampling
from reclaim.media.image import decode_image
from reclaim.media.limits import MediaLimits
from reclaim.media.sandbox import IsolatedPool
from reclaim.media.sniff import MediaFormat, MediaKind, sniff_bytes
from reclaim.media.video import iter_video_frames, probe_video

THUMBNAIL_SIDE = 320
THUMBNAIL_QUALITY = 80
PREVIEW_SIDE = 160
PREVIEW_DETAIL = 12
"""The preview keeps no more than this many pixels along its longer side before blurring."""
PREVIEW_MAX_PIXELS = 4096 * 4096
THUMBNAIL_TIMEOUT = 120.0
"""Seconds a thumbnail may take (a file that got this far was already hashed)."""
_STORED = "<stored thumbnail>"


def make_thumbnail(
    path: Path, *, max_side: int = THUMBNAIL_SIDE, limits: MediaLimits | None = None
) -> bytes:
    """A JPEG of the image (the first frame of an animation) or of a video frame about a
    third of the way in, no longer than ``max_side`` on its longer side.

    Raises a :class:`MediaError` for anything that is not a picture or video that decodes.
    """
    if max_side < 1:
        raise ValueError(f"a thumbnail needs a side of at least 1 pixel, not {max_side}")
    limits = limits or MediaLimits()
    fmt = checked_file(path, limits)
    if fmt.kind is MediaKind.VIDEO:
        rgb = _video_still(path, fmt, limits, max_side)
    else:
        rgb = decode_image(path, fmt, limits, draft_min_side=max_side).rgb
    image = Image.fromarray(rgb)  # pixels only: nothing of the file's metadata comes along
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return out.getvalue()


def blurred_preview(jpeg: bytes, *, side: int = PREVIEW_SIDE) -> bytes:
    """A greyscale JPEG of ``jpeg`` (a stored JPEG or PNG thumbnail), ``side`` pixels on its
    longer side, from at most :data:`PREVIEW_DETAIL` pixels of detail, blurred on top.

    Raises :class:`UnsupportedType`, :class:`TooLarge` or :class:`Corrupt` for bytes that
    are not a small JPEG or PNG.
    """
    if side < 1:
        raise ValueError(f"a preview needs a side of at least 1 pixel, not {side}")
    grey = _open_stored(jpeg)
    width, height = grey.size
    longer = max(width, height)
    tiny = grey.resize(_scaled(width, height, PREVIEW_DETAIL / longer), Image.Resampling.BOX)
    preview = tiny.resize(_scaled(width, height, side / longer), Image.Resampling.BILINEAR)
    preview = preview.filter(ImageFilter.GaussianBlur(radius=side / PREVIEW_DETAIL))
    out = io.BytesIO()
    preview.save(out, "JPEG", quality=75)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class ThumbnailRequest:
    """A thumbnail to make in a worker process (picklable)."""

    path: str
    max_side: int = THUMBNAIL_SIDE
    limits: MediaLimits = field(default_factory=MediaLimits)


def thumbnail_task(request: ThumbnailRequest) -> bytes:
    """:func:`make_thumbnail` for a :class:`ThumbnailRequest` (what the worker runs)."""
    return make_thumbnail(Path(request.path), max_side=request.max_side, limits=request.limits)


class Thumbnailer:
    """Makes thumbnails one at a time in an isolated worker process (started on first use):
    a file that crashes, exhausts or hangs the decoder costs that worker, never the caller."""

    def __init__(self, limits: MediaLimits, *, max_side: int = THUMBNAIL_SIDE) -> None:
        self._limits = limits
        self._max_side = max_side
        self._pool: IsolatedPool[ThumbnailRequest, bytes] = IsolatedPool(
            thumbnail_task,
            workers=1,
            memory_bytes=limits.memory_bytes,
            timeout_seconds=min(limits.timeout_seconds, THUMBNAIL_TIMEOUT),
        )
        self._lock = threading.Lock()

    def make(self, path: Path) -> bytes:
        """The thumbnail of ``path``; raises the :class:`MediaError` that stopped it."""
        request = ThumbnailRequest(str(path), self._max_side, self._limits)
        with self._lock:
            result = next(self._pool.map([request]))
        if isinstance(result, MediaError):
            raise result
        return result

    def close(self) -> None:
        with self._lock:
            self._pool.close()


def _video_still(
    path: Path, fmt: MediaFormat, limits: MediaLimits, max_side: int
) -> npt.NDArray[np.uint8]:
    """The frame a third of the way in; the first frame when the duration is unknown or
    the video breaks off before then."""
    duration = probe_video(path, fmt, limits).duration
    third = duration / 3 if duration and duration > 0 else 0.0
    # Sampling at 1/third takes the first frame, then the first at or after the third;
    # the GOPs in between are read but not decoded.
    sampling = Sampling(fps=min(240.0, 1.0 / third) if third else 1.0)
    first: npt.NDArray[np.uint8] | None = None
    frames = iter_video_frames(path, fmt, limits, sampling, max_side=max_side)
    try:
        for frame in frames:
            if not third or frame.ts + Sampler.EPSILON >= third:
                return frame.rgb
            if first is None:
                first = frame.rgb
    except MediaError:
        if first is None:
            raise
    finally:
        close = getattr(frames, "close", None)  # a generator: end the decoder now, not at GC
        if close is not None:
            close()
    if first is None:
        raise NoFrames(path, "no video frame could be decoded")
    return first


def _open_stored(data: bytes) -> Image.Image:
    """``data`` decoded to greyscale, its size checked before any pixel is."""
    fmt = sniff_bytes(data, _STORED)
    if fmt not in (MediaFormat.JPEG, MediaFormat.PNG):
        raise UnsupportedType(_STORED, f"a thumbnail is a JPEG or PNG, not {fmt.name}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[fmt.value]) as image:
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise Corrupt(_STORED, f"image declares an empty size {width}x{height}")
                if width * height > PREVIEW_MAX_PIXELS:
                    raise TooLarge(
                        _STORED, f"{width}x{height} is far larger than a thumbnail should be"
                    )
                image.draft("L", (PREVIEW_DETAIL * 2, PREVIEW_DETAIL * 2))
                return image.convert("L")
        except MediaError:
            raise
        except Image.DecompressionBombError as exc:
            raise TooLarge(_STORED, f"image too large to decode safely ({exc})") from exc
        except MemoryError as exc:
            raise TooLarge(_STORED, "not enough memory to decode the thumbnail") from exc
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            EOFError,
            TypeError,
            IndexError,
        ) as exc:
            raise Corrupt(_STORED, f"cannot decode the thumbnail: {exc}") from exc


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    return max(1, round(width * scale)), max(1, round(height * scale))

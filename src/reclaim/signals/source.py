"""A media file on its way to being hashed: sniffed once, checked, decoded at most once."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reclaim.media.errors import NotAFile, TooLarge
from reclaim.media.frames import Frame, Sampling
from reclaim.media.image import DecodedImage, decode_image, iter_animation_frames
from reclaim.media.limits import MediaLimits
from reclaim.media.sniff import MediaFormat, MediaKind, sniff_file
from reclaim.media.video import iter_video_frames


@dataclass(frozen=True, slots=True)
class HashOptions:
    """How to hash: video sampling, the JPEG fast path, and the limits on untrusted input."""

    sampling: Sampling = field(default_factory=Sampling)
    draft_min_side: int = 0
    limits: MediaLimits = field(default_factory=MediaLimits)
    query_regions: bool = False
    """Also hash the picture inside bars or padding (query side: matching a found copy)."""


class MediaSource:
    """One file, identified by its bytes; raises :class:`MediaError` subclasses when unusable."""

    def __init__(self, path: Path, options: HashOptions) -> None:
        self.path = path
        self.options = options
        size = _regular_file_size(path)
        self.format: MediaFormat = sniff_file(path)
        self.kind: MediaKind = self.format.kind
        limit = (
            options.limits.max_image_bytes
            if self.kind is MediaKind.IMAGE
            else options.limits.max_video_bytes
        )
        if size > limit:
            raise TooLarge(path, f"file is {size:,} bytes, over the {self.kind} limit of {limit:,}")
        self._image: DecodedImage | None = None

    def image(self) -> DecodedImage:
        """The still image (the first frame of an animation), decoded once."""
        if self._image is None:
            self._image = decode_image(
                self.path,
                self.format,
                self.options.limits,
                draft_min_side=self.options.draft_min_side,
            )
        return self._image

    @property
    def is_moving(self) -> bool:
        """A video, or an animated image with more than one frame."""
        if self.kind is MediaKind.VIDEO:
            return True
        image = self.image()
        return image.animated and image.frame_count > 1

    def frames(self) -> Iterator[Frame]:
        """The sampled frames of a video or animation, in presentation order."""
        if self.kind is MediaKind.VIDEO:
            return iter_video_frames(
                self.path, self.format, self.options.limits, self.options.sampling
            )
        return iter_animation_frames(
            self.path, self.format, self.options.limits, self.options.sampling
        )


def _regular_file_size(path: Path) -> int:
    try:
        info = path.stat()
    except OSError as exc:
        reason = "a symbolic link loop" if exc.errno == 40 else exc.strerror or str(exc)
        raise NotAFile(path, f"cannot read the file: {reason}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise NotAFile(path, "not a regular file (a directory, device or pipe)")
    return info.st_size

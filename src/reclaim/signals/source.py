"""A media file on its way to being hashed: sniffed once, checked, decoded at most once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reclaim.media.files import checked_file
from reclaim.media.frames import Frame, Sampling
from reclaim.media.image import DecodedImage, decode_image, iter_animation_frames
from reclaim.media.limits import MediaLimits
from reclaim.media.sniff import MediaFormat, MediaKind
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
        self.format: MediaFormat = checked_file(path, options.limits)
        self.kind: MediaKind = self.format.kind
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

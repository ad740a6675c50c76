"""Limits applied to every untrusted file; derived from :class:`reclaim.config.Settings`."""

from __future__ import annotations

from dataclasses import dataclass

from reclaim.config import Settings


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """Bounds on what one file may make the decoder do."""

    max_image_bytes: int = 200 * 1024 * 1024
    max_video_bytes: int = 4096 * 1024 * 1024
    max_pixels: int = 178_000_000
    max_video_pixels: int = 8192 * 4352
    max_frames: int = 20_000
    max_video_seconds: float = 6 * 3600.0
    timeout_seconds: float = 600.0
    memory_bytes: int = 4096 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        """The limits a :class:`Settings` declares."""
        return cls(
            max_image_bytes=settings.media_max_image_bytes,
            max_video_bytes=settings.media_max_video_bytes,
            max_pixels=settings.media_max_pixels,
            max_video_pixels=settings.media_max_video_pixels,
            max_frames=settings.media_max_frames,
            max_video_seconds=settings.media_max_video_seconds,
            timeout_seconds=settings.media_decode_timeout_seconds,
            memory_bytes=settings.media_worker_memory_mb * 1024 * 1024,
        )

"""The one error hierarchy for untrusted media: every failure names the file and the reason."""

from __future__ import annotations

from pathlib import Path


class MediaError(Exception):
    """A file could not be read as media. ``kind`` is a stable, machine-readable name."""

    kind = "media_error"

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[MediaError], tuple[str, str]]:
        # Errors cross process boundaries from the decoding workers; keep them picklable.
        return (type(self), (self.path, self.reason))


class UnsupportedType(MediaError):
    """The bytes are not an image or video format Reclaim decodes (whatever the name says)."""

    kind = "unsupported_type"


class EmptyFile(UnsupportedType):
    """The file has no bytes at all."""

    kind = "empty_file"


class TooLarge(MediaError):
    """A configured limit (bytes, pixels, frames, duration, memory) would be exceeded."""

    kind = "too_large"


class Corrupt(MediaError):
    """The file claims a supported format but cannot be decoded."""

    kind = "corrupt"


class NoFrames(Corrupt):
    """A video container that holds no decodable video frame."""

    kind = "no_frames"


class Timeout(MediaError):
    """Decoding took longer than the configured wall-clock limit and was stopped."""

    kind = "timeout"


class WorkerCrashed(MediaError):
    """The isolated decoding process died (a decoder bug reached by a hostile file)."""

    kind = "worker_crashed"


class NotAFile(MediaError):
    """The path is missing, unreadable, a device, or part of a symbolic-link loop."""

    kind = "not_a_file"

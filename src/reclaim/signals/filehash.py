"""Hash one file: sniff it, decode it safely, compute the signals that apply to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reclaim.media.errors import MediaError
from reclaim.media.sniff import MediaFormat, MediaKind
from reclaim.signals.base import Signal, SignalType
from reclaim.signals.registry import SIGNAL_TYPES
from reclaim.signals.source import HashOptions, MediaSource


@dataclass(frozen=True, slots=True)
class FileHashes:
    """The signals of one file. ``path`` is the path as the caller gave it."""

    path: str
    kind: MediaKind
    format: MediaFormat
    signals: tuple[Signal, ...]
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "type": self.kind.value,
            "format": self.format.name.lower(),
            "signals": [signal.to_json() for signal in self.signals],
        }
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True, slots=True)
class FileFailure:
    """A file that could not be hashed, and why."""

    path: str
    error: MediaError

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "error": {"kind": self.error.kind, "message": str(self.error)},
        }


FileResult = FileHashes | FileFailure


@dataclass(frozen=True, slots=True)
class HashRequest:
    """What to hash and how; picklable, so it can travel to a worker process."""

    path: str
    options: HashOptions = field(default_factory=HashOptions)
    signal_types: tuple[type[SignalType], ...] | None = None


def hash_file(request: HashRequest) -> FileHashes:
    """Hash ``request.path`` in this process. Raises :class:`MediaError` on bad media.

    With no explicit signal types, a file gets the defaults for its kind (images:
    pdq, sha256, md5; videos: vpdq, sha256, md5) and an animated image also gets vpdq.
    Explicit types that do not apply to the file (pdq for a video) are skipped.
    """
    source = MediaSource(Path(request.path), request.options)
    chosen = request.signal_types or _defaults(source)
    signals = tuple(t.compute(source) for t in chosen if t.applies_to(source))
    warnings = tuple(
        "video ended early (truncated or damaged); hashed the frames that decoded"
        for s in signals
        if getattr(s, "partial", False)
    )
    return FileHashes(request.path, source.kind, source.format, signals, warnings)


def _defaults(source: MediaSource) -> tuple[type[SignalType], ...]:
    chosen = [t for t in SIGNAL_TYPES if source.kind in t.default_for]
    if source.kind is MediaKind.IMAGE and source.is_moving:
        chosen = [t for t in SIGNAL_TYPES if t in chosen or t.name == "vpdq"]
    return tuple(chosen)

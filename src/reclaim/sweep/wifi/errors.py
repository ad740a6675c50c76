"""Why a capture or a stimulus file could not be analysed: one typed error per cause, each
naming the file and saying what to do, so the CLI can print it and a batch can go on."""

from __future__ import annotations

from pathlib import Path


class CaptureError(Exception):
    """A capture file could not be analysed. ``kind`` is a stable, machine-readable name."""

    kind = "capture_error"

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[CaptureError], tuple[str, str]]:
        # The CLI may analyse captures in worker processes; keep errors picklable.
        return (type(self), (self.path, self.reason))


class NotACapture(CaptureError):
    """Unreadable, empty, compressed, or not pcap/pcapng at all (whatever the name says)."""

    kind = "not_a_capture"


class UnsupportedLinkType(CaptureError):
    """A capture, but not of 802.11 frames: Ethernet or IP captures hide the radio layer."""

    kind = "unsupported_link_type"


class DamagedCapture(CaptureError):
    """The record framing breaks before any frame could be read (a record claims an
    impossible length, or a block does not end where it says)."""

    kind = "damaged_capture"


class TruncatedCapture(DamagedCapture):
    """The file ends inside its header or inside its first record."""

    kind = "truncated_capture"


class CaptureTooLarge(CaptureError):
    """A :class:`~reclaim.sweep.wifi.capture.CaptureLimits` bound (bytes, packets, seconds of
    processing) would be exceeded; the message names the bound and how to proceed."""

    kind = "capture_too_large"


class StimulusError(ValueError):
    """A stimulus timeline (file or intervals) that cannot be used: the message says why."""

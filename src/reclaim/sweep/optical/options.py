"""What the optical sweep looks for, and how hard; the defaults suit a phone video of a
room (720p to 4K, the flashlight on, panned slowly)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GlintOptions:
    fps: float = 12.0
    """Frames read per second of video: enough to follow a glint while the phone moves,
    few enough to run faster than the video plays."""
    max_side: int = 960
    """Frames are scaled down to this longer side for detection. At 960 a 1080p frame
    halves, and a lens glint of 3 px or more still shows as a bright pixel."""
    min_brightness: float = 235.0
    """Level (0-255, brightest channel) a glint's peak must reach: the flash comes back
    from a lens near saturation."""
    min_contrast: float = 40.0
    """How much brighter than its surround (the median of a ring around it) a glint is."""
    max_diameter: float = 0.02
    """The largest glint, as a fraction of the frame width; bigger bright things are
    lamps, screens and the flash's own reflection on gloss."""
    max_candidates: int = 48
    """Glints kept per frame, the most contrasted first (a bound on the work per frame)."""
    max_gap: float = 0.6
    """Seconds a glint may vanish (motion blur, something in front) and still be the same."""
    min_track: float = 0.5
    """Seconds a glint must be seen for before it can be a finding."""
    min_report_score: float = 0.25
    """Tracks scoring below this are counted in the notes, not listed."""
    max_findings: int = 12

    def __post_init__(self) -> None:
        _number("fps", self.fps, 1.0, 60.0, "frames read a second")
        _whole("max_side", self.max_side, 160, 4096, "pixels (the longer side detection scales to)")
        _number(
            "min_brightness", self.min_brightness, 1.0, 255.0, "a level of the brightest channel"
        )
        _number("min_contrast", self.min_contrast, 1.0, 255.0, "a difference of levels")
        if not (_real(self.max_diameter) and 0.0 < self.max_diameter <= 0.1):
            raise ValueError(
                "GlintOptions.max_diameter is a fraction of the width, over 0 and at most "
                f"0.1, not {self.max_diameter!r}"
            )
        _whole("max_candidates", self.max_candidates, 1, 1000, "glints a frame")
        _number("max_gap", self.max_gap, 0.0, 60.0, "seconds")
        _number("min_track", self.min_track, 0.0, 60.0, "seconds")
        _number("min_report_score", self.min_report_score, 0.0, 1.0, "a score")
        _whole("max_findings", self.max_findings, 0, 1000, "findings")

    def largest(self, width: int) -> float:
        """The largest glint diameter, in pixels of a frame ``width`` wide."""
        return max(4.0, self.max_diameter * width)

    def reach(self, width: int) -> int:
        """Half the side of the window a glint is measured in: room for the largest glint
        and a ring of its surround."""
        return math.ceil(self.largest(width) / 2) + 3


def _real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(name: str, value: float, low: float, high: float, what: str) -> None:
    if not (_real(value) and low <= value <= high):
        raise ValueError(f"GlintOptions.{name} is {what}, {low:g} to {high:g}, not {value!r}")


def _whole(name: str, value: int, low: int, high: int, what: str) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
        raise ValueError(
            f"GlintOptions.{name} is a whole number of {what}, {low} to {high}, not {value!r}"
        )

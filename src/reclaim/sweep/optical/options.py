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
        if not 1.0 <= self.fps <= 60.0:
            raise ValueError(f"read 1 to 60 frames per second, not {self.fps}")
        if not 160 <= self.max_side <= 4096:
            raise ValueError(f"detection size must be 160 to 4096 pixels, not {self.max_side}")
        if not 0.0 < self.max_diameter <= 0.1:
            raise ValueError(
                f"max_diameter is a fraction of the width: (0, 0.1], not {self.max_diameter}"
            )
        if self.max_candidates < 1 or self.max_findings < 0:
            raise ValueError("max_candidates must be at least 1 and max_findings not negative")
        if self.max_gap < 0 or self.min_track < 0:
            raise ValueError("max_gap and min_track are durations: not negative")

    def largest(self, width: int) -> float:
        """The largest glint diameter, in pixels of a frame ``width`` wide."""
        return max(4.0, self.max_diameter * width)

    def reach(self, width: int) -> int:
        """Half the side of the window a glint is measured in: room for the largest glint
        and a ring of its surround."""
        return math.ceil(self.largest(width) / 2) + 3

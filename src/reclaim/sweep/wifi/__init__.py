"""Find streaming cameras in a monitor-mode 802.11 capture (pcap or pcapng).

Payloads are encrypted; what a hidden camera cannot hide is the shape of its traffic: it
sends video up, steadily, one burst per frame at 10-30 frames a second with a larger key
frame every few seconds, and its bit rate rises when what it sees changes. ``analyse``
measures this per transmitter and, given the times the inspector switched the light or
waved (the stimulus), tests whether a transmitter's rate follows them.

    from reclaim.sweep.wifi import analyse, load_stimulus
    report = analyse(Path("room.pcapng"), stimulus=load_stimulus(Path("light.csv")))

See ``docs/sweep-wifi.md`` for the method, the traffic model it was tuned on, and its limits.
"""

from reclaim.sweep.wifi.analyse import analyse
from reclaim.sweep.wifi.capture import CaptureLimits
from reclaim.sweep.wifi.errors import (
    CaptureError,
    CaptureTooLarge,
    DamagedCapture,
    NotACapture,
    StimulusError,
    TruncatedCapture,
    UnsupportedLinkType,
)
from reclaim.sweep.wifi.stimulus import Interval, load_stimulus

__all__ = [
    "CaptureError",
    "CaptureLimits",
    "CaptureTooLarge",
    "DamagedCapture",
    "Interval",
    "NotACapture",
    "StimulusError",
    "TruncatedCapture",
    "UnsupportedLinkType",
    "analyse",
    "load_stimulus",
]

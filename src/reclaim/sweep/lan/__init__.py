"""Find camera-like devices on a room's network (the motel room's Wi-Fi you are connected
to): ARP and passive listening for who is there; mDNS, SSDP/UPnP, ONVIF WS-Discovery and
vendor discovery for what they say they are; RTSP and web pages for what they serve; the
network card's maker; a score with reasons for each device.

It never picks a network by itself and never leaves the one it is given (see
:mod:`.target` and :mod:`.gate`). ``docs/sweep-lan.md`` says how to use it safely.
"""

from __future__ import annotations

from reclaim.sweep.lan.errors import OutOfScope, SweepRefused
from reclaim.sweep.lan.options import LanOptions
from reclaim.sweep.lan.run import sweep

__all__ = ["LanOptions", "OutOfScope", "SweepRefused", "sweep"]

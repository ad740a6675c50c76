"""The knobs of a LAN sweep, with the defaults an inspector in a motel room should use.

Every limit here protects someone: the rate and the time budget protect the network (a
hotel's Wi-Fi is shared with other guests), the widest prefix protects the inspector from
sweeping a whole hotel or office by mistake, and ``allow_interface`` makes sweeping the
interface that carries this machine's default route (most likely home or office) a
deliberate act rather than an accident.
"""

from __future__ import annotations

from dataclasses import dataclass

HARD_WIDEST_PREFIX = 22
"""No option widens a sweep beyond a /22 (1,024 addresses): that is no longer a room."""


@dataclass(frozen=True, slots=True)
class LanOptions:
    rate: float = 100.0
    """Packets per second, all probes together (ARP requests, connection attempts, UDP
    datagrams, multicast queries). A /24 ARP sweep at 100/s takes 2.5 s."""
    time_budget: float = 60.0
    """Seconds for the whole sweep; probes still running when it is spent stop, and the
    report says what was not done."""
    probe_timeout: float = 2.0
    """Seconds for one exchange with one device (connect, ask, read the answer)."""
    listen: float = 3.0
    """Seconds to collect answers to multicast queries (mDNS, SSDP, WS-Discovery, SADP)."""
    arp_wait: float = 1.0
    """Seconds to wait for late ARP replies after the last request."""
    widest_prefix: int = 24
    """The widest network swept (a /24 is 256 addresses); at most /22."""
    allow_interface: str | None = None
    """Name the interface that carries this machine's default route to sweep it anyway
    (``--interface wlan0`` with ``allow_interface="wlan0"``): you are connected to the
    room's own network on it."""
    link_multicast: bool = False
    """Send multicast queries even when ``network`` is narrower than the link: devices
    outside the network hear them too (their answers are ignored). Off by default: with a
    narrower network, only addresses inside it are ever sent anything."""
    workers: int = 16
    """Probes run at the same time (the rate limit still holds)."""

    def __post_init__(self) -> None:
        _within("rate", self.rate, 1.0, 1000.0)
        _within("time_budget", self.time_budget, 1.0, 600.0)
        _within("probe_timeout", self.probe_timeout, 0.1, 10.0)
        _within("listen", self.listen, 0.0, 30.0)
        _within("arp_wait", self.arp_wait, 0.0, 10.0)
        _within("workers", self.workers, 1, 64)
        if not HARD_WIDEST_PREFIX <= self.widest_prefix <= 32:
            raise ValueError(
                f"widest_prefix must be between /{HARD_WIDEST_PREFIX} and /32, "
                f"not /{self.widest_prefix}"
            )


def _within(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value!r}")

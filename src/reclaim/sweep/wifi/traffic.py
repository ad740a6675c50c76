"""Data frames gathered into links, and links into the units the sweep judges.

A *link* is every data frame one address sends to another in one direction (to-DS, from-DS
or direct). A *unit* is what could be one device's outgoing stream, paired with what comes
back to it:

- a station: all it sends up (to-DS, to any access point), against all its access points
  send down to it;
- an access point toward one station (from-DS): a camera that is itself the access point
  (cheap P2P cameras open their own hotspot for the owner's phone) streams this way;
- a direct link between two stations, against the link back.

A camera's stream is the forward side of its unit; what the camera receives (TCP ACKs,
RTCP reports, control) is the reverse side.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from reclaim.sweep.wifi.capture import CaptureLimits, ReadStats, not_80211, read_records
from reclaim.sweep.wifi.errors import UnsupportedLinkType
from reclaim.sweep.wifi.frames import (
    DIRECT,
    DOWN,
    LINKTYPES_80211,
    UP,
    Frame,
    Skip,
    is_group,
    mac,
    parse,
)

_EARLY = 1.0
"""Records this many seconds before the first one are still kept (captures from several
interfaces are not always in order); earlier ones are counted as out of range."""

LinkKey = tuple[int, bytes, bytes]
"""(direction, transmitter, receiver)."""

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class _Link:
    __slots__ = ("last_seq", "sizes", "times")

    def __init__(self) -> None:
        self.times = array("d")
        self.sizes = array("I")
        self.last_seq = -1


@dataclass
class Traffic:
    """Everything the capture said about data frames, by link."""

    start: float
    """Epoch seconds of the first record: time 0 of the analysis and of stimulus intervals."""
    end: float
    links: dict[LinkKey, tuple[Floats, Ints]]
    """Times (seconds from ``start``, sorted) and sizes of each link's frames."""
    read: ReadStats
    skipped: Counter[Skip] = field(default_factory=Counter)
    retries: int = 0
    """Retransmissions dropped (same sequence number again, retry bit set)."""
    dropped_links: int = 0
    """Frames left out because ``max_links`` links were already followed."""
    out_of_range: int = 0
    """Frames left out because their time is outside ``max_duration``."""

    @property
    def duration(self) -> float:
        return max(self.end - self.start, 0.0)


@dataclass(frozen=True)
class Unit:
    """One candidate stream: what ``transmitter`` sends, and what comes back."""

    ident: str
    role: str
    """``station``, ``access point`` or ``direct``."""
    transmitter: str
    peer: str
    """The access point(s) a station sends to, or the station an access point sends to."""
    fwd_times: Floats
    fwd_sizes: Ints
    rev_times: Floats
    rev_sizes: Ints


def collect(path: Path, limits: CaptureLimits) -> Traffic:
    """Read the capture at ``path`` into links (raises ``CaptureError`` subclasses)."""
    stats = ReadStats()
    links: dict[LinkKey, _Link] = {}
    skipped: Counter[Skip] = Counter()
    start: float | None = None
    end = 0.0
    retries = dropped = out_of_range = 0
    for stamp, linktype, data, wirelen in read_records(path, limits, stats):
        if start is None:
            start = stamp
        if not start - _EARLY <= stamp <= start + limits.max_duration:
            out_of_range += 1
            continue
        if stamp > end:
            end = stamp
        frame = parse(linktype, data, wirelen)
        if not isinstance(frame, Frame):
            skipped[frame] += 1
            continue
        key = (frame.direction, frame.transmitter, frame.receiver)
        link = links.get(key)
        if link is None:
            if len(links) >= limits.max_links:
                dropped += 1
                continue
            link = links[key] = _Link()
        if frame.retry and frame.seq == link.last_seq:
            retries += 1
            continue
        link.last_seq = frame.seq
        link.times.append(stamp)
        link.sizes.append(frame.size)
    if stats.records and not any(t in LINKTYPES_80211 for t in stats.linktypes):
        raise UnsupportedLinkType(path, not_80211(stats.linktypes))
    origin = start if start is not None else 0.0
    return Traffic(
        start=origin,
        end=end if start is not None else 0.0,
        links={key: _arrays(link, origin) for key, link in links.items()},
        read=stats,
        skipped=skipped,
        retries=retries,
        dropped_links=dropped,
        out_of_range=out_of_range,
    )


def _arrays(link: _Link, origin: float) -> tuple[Floats, Ints]:
    times = np.frombuffer(link.times, dtype=np.float64) - origin
    sizes = np.frombuffer(link.sizes, dtype=np.uint32).astype(np.int64)
    order = np.argsort(times, kind="stable")
    return times[order], sizes[order]


def units(traffic: Traffic) -> list[Unit]:
    """Every station, access-point-to-station and direct stream in ``traffic``."""
    empty_t, empty_s = np.empty(0, np.float64), np.empty(0, np.int64)
    ups: dict[bytes, list[LinkKey]] = {}
    downs: dict[bytes, list[LinkKey]] = {}
    for key in traffic.links:
        direction, tx, rx = key
        if direction == UP:
            ups.setdefault(tx, []).append(key)
        elif direction == DOWN and not is_group(rx):
            downs.setdefault(rx, []).append(key)
    out: list[Unit] = []
    for station, keys in ups.items():
        fwd = _merge(traffic, keys)
        rev = _merge(traffic, downs.get(station, []))
        aps = ", ".join(sorted(mac(k[2]) for k in keys))
        out.append(Unit(mac(station), "station", mac(station), aps, *fwd, *rev))
    for key, (times, sizes) in traffic.links.items():
        direction, tx, rx = key
        if direction == UP or is_group(rx):
            continue
        back_dir = UP if direction == DOWN else DIRECT
        back = traffic.links.get((back_dir, rx, tx), (empty_t, empty_s))
        role = "access point" if direction == DOWN else "direct"
        ident = f"{mac(tx)}->{mac(rx)}"
        out.append(Unit(ident, role, mac(tx), mac(rx), times, sizes, *back))
    return out


def _merge(traffic: Traffic, keys: list[LinkKey]) -> tuple[Floats, Ints]:
    if not keys:
        return np.empty(0, np.float64), np.empty(0, np.int64)
    if len(keys) == 1:
        return traffic.links[keys[0]]
    times = np.concatenate([traffic.links[k][0] for k in keys])
    sizes = np.concatenate([traffic.links[k][1] for k in keys])
    order = np.argsort(times, kind="stable")
    return times[order], sizes[order]


__all__ = ["DIRECT", "DOWN", "UP", "Traffic", "Unit", "collect", "units"]

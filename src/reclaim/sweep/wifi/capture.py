"""Streaming the records of an untrusted pcap or pcapng file, with bounds.

scapy's ``RawPcapReader`` (which also opens pcapng) does the format work. It bounds each
read of a pcap record itself; pcapng blocks it reads whole, so a pcapng file is read
through :class:`_GuardedStream`, which refuses a read larger than a block can honestly be
(one declaring 4 GiB would otherwise be read, and allocated, in one call), and which keeps
the limits while scapy reads blocks that are not packets: scapy loops over those without
handing anything back (a file of millions of unknown blocks would run past ``max_seconds``),
and keeps every interface and process description block in a list (a file of them would
cost some 12 bytes of memory per byte of file). scapy quietly
ends the iteration on a torn record, so whether the file was *complete* is decided here: a
record shorter than it declared, a pcap file whose records do not add up to its size, a
short read, or a pcapng file that does not end on a block boundary means it was cut off.

A capture cut off after some records still says something true about the traffic before
the cut: the records are analysed and :attr:`ReadStats.damage` says where it ended. One cut
off before its first record raises :class:`TruncatedCapture` or :class:`DamagedCapture`.
"""

from __future__ import annotations

import struct
import time
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from scapy.utils import RawPcapReader

from reclaim.sweep.wifi.errors import (
    CaptureError,
    CaptureTooLarge,
    DamagedCapture,
    NotACapture,
    TruncatedCapture,
    UnsupportedLinkType,
)
from reclaim.sweep.wifi.frames import LINKTYPES_80211

PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
MAX_RECORD = 65_535
"""Longest record kept: an 802.11 MPDU is at most 11,454 bytes plus a radio header."""
_MAX_READ = 16 << 20
"""Longest single read allowed to scapy: a pcapng block (a record with options, or a large
name-resolution block); a block claiming more is damage, refused before it is allocated."""
_CHECK_EVERY = 1024
"""Records (and pcapng reads) between two looks at the clock."""
MAX_DESCRIPTIONS = 4096
"""pcapng interface (or process) description blocks kept: a capture has a few; more is
damage, refused before scapy's lists of them grow with the file."""

LINKTYPE_NAMES = {
    0: "BSD loopback",
    1: "Ethernet",
    101: "raw IP",
    105: "IEEE 802.11",
    113: "Linux cooked",
    127: "802.11 with radiotap",
    192: "802.11 with PPI",
    276: "Linux cooked v2",
}


@dataclass(frozen=True, slots=True)
class CaptureLimits:
    """Bounds on what one capture may make the analysis do.

    ``max_bytes`` is checked before reading; ``max_packets`` and ``max_seconds`` raise
    :class:`CaptureTooLarge` when passed (split a long capture with ``editcap -c``).
    ``max_links`` and ``max_duration`` do not fail the capture: traffic beyond them is left
    out and the report's notes say how much.
    """

    max_bytes: int = 4 * 1024**3
    max_packets: int = 20_000_000
    max_seconds: float = 600.0
    max_links: int = 20_000
    """Distinct (transmitter, receiver, direction) links followed."""
    max_duration: float = 6 * 3600.0
    """Seconds of capture time analysed after the first record."""

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_packets", "max_seconds", "max_links", "max_duration"):
            if not getattr(self, name) > 0:
                raise ValueError(f"CaptureLimits.{name} must be positive")


Record = tuple[float, int, bytes, int]
"""(time in Unix epoch seconds, link type, the captured bytes, the length on the air --
more than the bytes when the capture kept only headers). A plain tuple: millions are made."""


@dataclass
class ReadStats:
    format: str = ""
    """``pcap`` or ``pcapng``."""
    records: int = 0
    linktypes: Counter[int] = field(default_factory=Counter)
    untimed: int = 0
    """pcapng simple packet blocks: they carry no timestamp, so they cannot be placed."""
    damage: str = ""
    """Empty for a whole file; otherwise where and why reading stopped early."""


class _GuardedStream:
    """A pcapng file as scapy sees it: bounded reads, short reads noticed, position known.

    pcap files are read straight (scapy bounds each pcap read itself, and a pcap file's
    layout is fixed enough to check its end by arithmetic); pcapng blocks are read whole,
    so their declared length has to be refused before the read, here.
    """

    def __init__(self, raw: IO[bytes], path: Path, limits: CaptureLimits) -> None:
        self.raw = raw
        self.path = path
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.reader: Any = None
        """scapy's reader, once it has read the file header: its description lists."""
        self.position = 0
        self.torn = False
        self.reads = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > _MAX_READ:
            raise DamagedCapture(self.path, f"a block at byte {self.position} claims {size} bytes")
        self.reads += 1
        if self.reads % _CHECK_EVERY == 0:
            self._check()
        data = self.raw.read(size)
        if 0 < len(data) < size:
            self.torn = True
        self.position += len(data)
        return data

    def _check(self) -> None:
        if time.monotonic() > self.deadline:
            raise CaptureTooLarge(self.path, too_slow(self.limits))
        reader = self.reader
        if reader is not None and (
            len(reader.interfaces) > MAX_DESCRIPTIONS
            or len(reader.process_information) > MAX_DESCRIPTIONS
        ):
            raise DamagedCapture(
                self.path,
                f"more than {MAX_DESCRIPTIONS:,} interface or process description blocks "
                f"before byte {self.position:,}",
            )

    def close(self) -> None:
        self.raw.close()


def read_records(path: Path, limits: CaptureLimits, stats: ReadStats) -> Iterator[Record]:
    """Every record of the capture at ``path``, streamed; ``stats`` is filled as it goes.

    Raises :class:`CaptureError` subclasses (never scapy's or the OS's exceptions).
    """
    size = _check_file(path, limits)
    raw, pcapng = _open(path)
    source: Any = _GuardedStream(raw, path, limits) if pcapng else raw
    try:
        reader = _reader(source, path, stats, pcapng)
        if pcapng:
            source.reader = reader
        records = _records(reader, path, limits, stats)
        if pcapng:
            yield from records
            _check_pcapng_end(source, path, size, stats)
        else:
            end = yield from records
            if not stats.damage and end != size:
                _stop(stats, path, f"the file ends inside record {stats.records + 1}")
    finally:
        source.close()


def _check_file(path: Path, limits: CaptureLimits) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotACapture(path, f"cannot be read ({exc.strerror or exc})") from None
    if not path.is_file():
        raise NotACapture(path, "is not a regular file")
    if size == 0:
        raise NotACapture(path, "is empty")
    if size > limits.max_bytes:
        raise CaptureTooLarge(
            path,
            f"has {size:,} bytes, more than the limit of {limits.max_bytes:,}; "
            "split it (editcap -c) or raise the limit",
        )
    return size


def _open(path: Path) -> tuple[IO[bytes], bool]:
    """The open file (at its start) and whether it is pcapng."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise NotACapture(path, f"cannot be read ({exc.strerror or exc})") from None
    magic = raw.read(4)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        raw.close()
        raise NotACapture(path, "is compressed (gzip); decompress it first")
    if magic not in PCAP_MAGICS and magic != PCAPNG_MAGIC:
        raw.close()
        raise NotACapture(path, f"is not a pcap or pcapng capture (starts with {magic.hex()})")
    return raw, magic == PCAPNG_MAGIC


def _reader(source: Any, path: Path, stats: ReadStats, pcapng: bool) -> Any:
    try:
        reader = RawPcapReader(cast(str, source))  # scapy types it str; it takes files
    except CaptureError:
        raise
    except Exception:  # scapy parses hostile bytes: any failure means a broken header
        reader = None
    if reader is None:
        if getattr(source, "torn", False) or (not pcapng and path.stat().st_size < 24):
            raise TruncatedCapture(path, "ends inside its file header")
        raise DamagedCapture(path, "has a malformed file header")
    stats.format = "pcapng" if pcapng else "pcap"
    if not pcapng:
        reader.linktype &= 0xFFFF  # the upper bits may carry FCS flags (pcap file format)
        if reader.linktype not in LINKTYPES_80211:
            raise UnsupportedLinkType(path, not_80211([reader.linktype]))
    return reader


def not_80211(linktypes: Iterable[int]) -> str:
    """The reason a capture of ``linktypes`` cannot be swept, and what to do instead."""
    names = ", ".join(LINKTYPE_NAMES.get(t, f"link type {t}") for t in sorted(set(linktypes)))
    return f"holds {names} frames, not 802.11; capture in monitor mode (radiotap) to see the radios"


def _records(
    reader: Any, path: Path, limits: CaptureLimits, stats: ReadStats
) -> Generator[Record, None, int]:
    """The records; returns the byte offset where a pcap file's records should end.

    This loop runs once per packet: it keeps to local names and checks the clock and the
    packet limit only every _CHECK_EVERY records.
    """
    pcapng = stats.format == "pcapng"
    scale = 1e9 if getattr(reader, "nano", False) else 1e6
    linktype = -1 if pcapng else reader.linktype
    deadline = time.monotonic() + limits.max_seconds
    check = min(_CHECK_EVERY, limits.max_packets + 1)
    seen = 0  # records, and pcapng blocks without a timestamp: both count for the limits
    records, end = 0, 24  # a pcap file header, then 16 bytes before each record
    try:
        for data, meta in reader:
            seen += 1
            if seen >= check:
                check = _check(seen, deadline, limits, path)
            if pcapng:
                if meta.tshigh is None:
                    stats.untimed += 1
                    continue
                linktype = meta.linktype
                stats.linktypes[linktype] += 1
                stamp = ((meta.tshigh << 32) | meta.tslow) / meta.tsresol
                declared = len(data)
            else:
                stamp = meta.sec + meta.usec / scale
                declared = meta.caplen
                end += 16 + declared
            if declared > MAX_RECORD or len(data) < declared:
                stats.records = records
                _stop(
                    stats,
                    path,
                    f"record {records + 1} claims {declared:,} bytes"
                    if declared > MAX_RECORD
                    else f"the file ends inside record {records + 1}",
                )
                return end
            records += 1
            wirelen = meta.wirelen
            yield (
                stamp,
                linktype,
                data,
                (wirelen if len(data) <= wirelen <= MAX_RECORD else len(data)),
            )
    except CaptureError as exc:
        stats.records = records
        if isinstance(exc, CaptureTooLarge):
            raise
        _stop(stats, path, exc.reason)
    except Exception as exc:  # scapy on hostile bytes; the records so far stand
        stats.records = records
        _stop(stats, path, f"a broken record after record {records} ({exc})")
    finally:
        stats.records = records
        if not pcapng and records:
            stats.linktypes[linktype] = records
    return end


def _check(records: int, deadline: float, limits: CaptureLimits, path: Path) -> int:
    """Raise past a limit; else the record count at which to check again."""
    if records > limits.max_packets:
        raise CaptureTooLarge(
            path,
            f"has more than {limits.max_packets:,} packets; "
            "split it (editcap -c) or raise the limit",
        )
    if time.monotonic() > deadline:
        raise CaptureTooLarge(path, too_slow(limits))
    return min(records + _CHECK_EVERY, limits.max_packets + 1)


def too_slow(limits: CaptureLimits) -> str:
    """The reason for passing ``max_seconds`` (reading or judging), and what to do."""
    return (
        f"took longer than {limits.max_seconds:g} s to analyse; "
        "split it (editcap -c) or raise the limit"
    )


def _check_pcapng_end(stream: _GuardedStream, path: Path, size: int, stats: ReadStats) -> None:
    if stats.damage:
        return
    if stream.torn:
        _stop(stats, path, f"the file ends inside record {stats.records + 1}")
    elif stream.position < size:
        _stop(stats, path, f"unreadable data from byte {stream.position:,} of {size:,}")
    elif not _ends_on_block(stream.raw, size):
        _stop(stats, path, "the file ends inside its last block")


def _ends_on_block(raw: IO[bytes], size: int) -> bool:
    """Whether the last 4 bytes are a block's trailing length that its head repeats."""
    try:
        raw.seek(size - 4)
        tail = raw.read(4)
        for order in ("<", ">"):
            (length,) = struct.unpack(order + "I", tail)
            if length % 4 == 0 and 12 <= length <= size:
                raw.seek(size - length + 4)
                if raw.read(4) == tail:
                    return True
    except (OSError, struct.error, ValueError):
        return False
    return False


def _stop(stats: ReadStats, path: Path, why: str) -> None:
    if stats.records == 0:
        error = TruncatedCapture if "ends inside" in why else DamagedCapture
        raise error(path, why)
    stats.damage = why

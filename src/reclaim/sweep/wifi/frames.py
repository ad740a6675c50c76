"""The few facts the sweep needs from one 802.11 record: who sent it, to whom, which way,
how long it was on the air. Payloads are usually encrypted, so headers, sizes and times
are all there is; they are read with ``struct`` straight from the bytes (scapy's dissection
costs ~50x more per frame, and a capture holds millions).

Radio headers: radiotap (link type 127; its Flags field says whether the frame ends in an
FCS and whether that FCS was bad), PPI (192) around 802.11, and bare 802.11 (105).
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

RAW_80211 = 105
RADIOTAP = 127
PPI = 192
LINKTYPES_80211 = frozenset({RAW_80211, RADIOTAP, PPI})

UP = 1
"""to-DS: a station sends toward its access point."""
DOWN = 2
"""from-DS: an access point sends to one of its stations."""
DIRECT = 0
"""Neither bit: ad hoc, TDLS or Wi-Fi Direct frames between two stations."""

_RT_FLAG_FCS = 0x10
_RT_FLAG_BAD_FCS = 0x40
_HEADER = 24
"""Bytes of the 802.11 data header the parser needs (frame control .. sequence control)."""


class Skip(enum.IntEnum):
    """Why a record carries no data frame the sweep can use."""

    NOT_DATA = 1
    """Management (beacons, probes) or control (ACKs, block ACKs) frames, or an unknown
    protocol version."""
    NO_PAYLOAD = 2
    """Null and QoS-null data frames: power-save signalling, no bytes carried."""
    BAD_FCS = 3
    """The radio said the checksum failed: the header cannot be trusted."""
    SHORT = 4
    """Too short for an 802.11 data header, or a malformed radio header."""
    FOUR_ADDRESS = 5
    """Mesh/WDS frames between two access points."""
    LINK_TYPE = 6
    """Not an 802.11 link type."""


class Frame(NamedTuple):
    transmitter: bytes
    """addr2, six bytes."""
    receiver: bytes
    """addr1, six bytes."""
    direction: int
    """:data:`UP`, :data:`DOWN` or :data:`DIRECT`."""
    size: int
    """Bytes of the MPDU on the air (802.11 header to payload end, no FCS)."""
    seq: int
    """Sequence number (12 bits)."""
    retry: bool


def parse(linktype: int, data: bytes, wirelen: int) -> Frame | Skip:
    """The data frame in one record, or why there is none."""
    if linktype == RADIOTAP:
        # Most records are beacons and ACKs: look at the frame type before the radio flags.
        if len(data) >= 8 and not _is_data(data, data[2] | data[3] << 8):
            return Skip.NOT_DATA
        radio = _radiotap(data)
        if radio is None:
            return Skip.SHORT
        offset, flags = radio
        if flags & _RT_FLAG_BAD_FCS:
            return Skip.BAD_FCS
        fcs = 4 if flags & _RT_FLAG_FCS else 0
    elif linktype == RAW_80211:
        offset, fcs = 0, 0
    elif linktype == PPI:
        ppi = _ppi(data)
        if ppi is None:
            return Skip.SHORT
        offset, fcs = ppi, 0
    else:
        return Skip.LINK_TYPE
    return _dot11(data, offset, wirelen - offset - fcs)


def _is_data(data: bytes, h: int) -> bool:
    return h >= len(data) or (data[h] & 0x0F) == 0x08


def _dot11(data: bytes, h: int, size: int) -> Frame | Skip:
    if len(data) < h + 2:
        return Skip.SHORT
    fc0, fc1 = data[h], data[h + 1]
    if fc0 & 0x0F != 0x08:  # protocol version 0 (the only one defined), type 2 (data)
        return Skip.NOT_DATA
    if fc0 & 0x40:  # subtypes with bit 2 set carry no payload (null, QoS null, CF-*)
        return Skip.NO_PAYLOAD
    if len(data) < h + _HEADER or size < _HEADER:
        return Skip.SHORT
    ds = fc1 & 0x03
    if ds == 3:
        return Skip.FOUR_ADDRESS
    direction = UP if ds == 1 else DOWN if ds == 2 else DIRECT
    (seq_ctrl,) = struct.unpack_from("<H", data, h + 22)
    return Frame(
        data[h + 10 : h + 16],
        data[h + 4 : h + 10],
        direction,
        size,
        seq_ctrl >> 4,
        bool(fc1 & 0x08),
    )


def _radiotap(data: bytes) -> tuple[int, int] | None:
    """(header length, Flags field or 0) of a radiotap header, or None if malformed."""
    if len(data) < 8:
        return None
    version, _pad, length, present = struct.unpack_from("<BBHI", data)
    if version != 0 or length < 8 or length > len(data):
        return None
    offset = 8
    word = present
    while word & 0x8000_0000:  # more presence words follow; the fields come after them all
        if offset + 4 > length:
            return None
        (word,) = struct.unpack_from("<I", data, offset)
        offset += 4
    flags = 0
    if present & 0x02:  # Flags (bit 1), after TSFT (bit 0: 8 bytes aligned to 8)
        if present & 0x01:
            offset = ((offset + 7) & ~7) + 8
        if offset < length:
            flags = data[offset]
    return length, flags


def _ppi(data: bytes) -> int | None:
    """Header length of a PPI header wrapping 802.11, or None."""
    if len(data) < 8:
        return None
    _version, _flags, length, dlt = struct.unpack_from("<BBHI", data)
    if dlt != RAW_80211 or length < 8 or length > len(data):
        return None
    return int(length)


def mac(address: bytes) -> str:
    """``aa:bb:cc:dd:ee:ff`` for six bytes."""
    return address.hex(":")


def is_group(address: bytes) -> bool:
    """Multicast and broadcast addresses (the I/G bit): never one device's stream."""
    return bool(address[0] & 0x01)

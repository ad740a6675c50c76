"""The 802.11 header reader against frames scapy builds: directions, addresses, sizes, the
radiotap fields that move the Flags byte (TSFT alignment, extra presence words), and every
record that carries no usable data frame."""

from __future__ import annotations

import struct
import zlib

import pytest
from scapy.layers.dot11 import Dot11, Dot11Beacon, Dot11QoS, RadioTap

from reclaim.sweep.wifi.frames import (
    DIRECT,
    DOWN,
    PPI,
    RADIOTAP,
    RAW_80211,
    UP,
    Frame,
    Skip,
    mac,
    parse,
)

STA, AP, SERVER = "02:00:00:00:00:02", "02:00:00:00:00:01", "02:00:00:00:00:03"


def _dot11(fc: str, subtype: int = 8, body: int = 300) -> bytes:
    return bytes(
        Dot11(type=2, subtype=subtype, FCfield=fc, addr1=AP, addr2=STA, addr3=SERVER, SC=7 << 4)
        / Dot11QoS()
        / (b"\xaa" * body)
    )


def _fcs(frame: bytes) -> bytes:
    return frame + struct.pack("<I", zlib.crc32(frame))


def test_directions_and_addresses() -> None:
    for fc, direction in (("to_DS", UP), ("from_DS", DOWN), ("", DIRECT)):
        frame = parse(RAW_80211, _dot11(fc), len(_dot11(fc)))
        assert isinstance(frame, Frame)
        assert frame.direction == direction
        assert mac(frame.transmitter) == STA
        assert mac(frame.receiver) == AP
        assert frame.seq == 7
        assert not frame.retry
        assert frame.size == 26 + 300


def test_radiotap_fcs_is_not_counted() -> None:
    record = bytes(RadioTap(present="TSFT+Flags+Rate", Flags="FCS", Rate=2)) + _fcs(_dot11("to_DS"))
    frame = parse(RADIOTAP, record, len(record))
    assert isinstance(frame, Frame)
    assert frame.size == 26 + 300


def test_a_bad_fcs_is_skipped() -> None:
    record = bytes(RadioTap(present="Flags", Flags="FCS+badFCS")) + _fcs(_dot11("to_DS"))
    assert parse(RADIOTAP, record, len(record)) is Skip.BAD_FCS


@pytest.mark.parametrize("tsft", [False, True])
def test_flags_after_extra_presence_words(tsft: bool) -> None:
    """Two presence words (bit 31 set in the first): fields start after both, and TSFT is
    aligned to 8 bytes from the start of the header."""
    present = 0x8000_0002 | (0x01 if tsft else 0)
    fields = (b"\x00" * 4 + struct.pack("<Q", 123) if tsft else b"") + b"\x50"  # FCS + bad
    header = struct.pack("<BBHII", 0, 0, 12 + len(fields), present, 0) + fields
    record = header + _fcs(_dot11("to_DS"))
    assert parse(RADIOTAP, record, len(record)) is Skip.BAD_FCS
    good = header[:-1] + b"\x10" + _fcs(_dot11("to_DS"))
    frame = parse(RADIOTAP, good, len(good))
    assert isinstance(frame, Frame)
    assert frame.size == 26 + 300


def test_header_only_captures_use_the_length_on_the_air() -> None:
    record = bytes(RadioTap()) + _dot11("to_DS", body=1400)
    frame = parse(RADIOTAP, record[:60], len(record))
    assert isinstance(frame, Frame)
    assert frame.size == 26 + 1400


def test_ppi_around_80211() -> None:
    body = _dot11("to_DS")
    record = struct.pack("<BBHI", 0, 0, 8, 105) + body
    frame = parse(PPI, record, len(record))
    assert isinstance(frame, Frame)
    assert frame.size == len(body)
    not_80211 = struct.pack("<BBHI", 0, 0, 8, 1) + body
    assert parse(PPI, not_80211, len(not_80211)) is Skip.SHORT


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (bytes(RadioTap()) + bytes(Dot11(type=0, subtype=8) / Dot11Beacon()), Skip.NOT_DATA),
        (bytes(RadioTap()) + bytes(Dot11(type=1, subtype=13)), Skip.NOT_DATA),
        (bytes(RadioTap()) + _dot11("to_DS", subtype=12, body=0), Skip.NO_PAYLOAD),
        (bytes(RadioTap()) + _dot11("to_DS+from_DS"), Skip.FOUR_ADDRESS),
        (bytes(RadioTap()) + _dot11("to_DS")[:20], Skip.SHORT),
        (b"\x00\x00\xff\x00" + bytes(20), Skip.SHORT),
        (b"\x00\x00", Skip.SHORT),
        (bytes(RadioTap()) + b"\x8b" + bytes(40), Skip.NOT_DATA),  # protocol version 3
    ],
)
def test_records_without_usable_data(record: bytes, why: Skip) -> None:
    assert parse(RADIOTAP, record, len(record)) is why


def test_other_link_types_are_skipped() -> None:
    assert parse(1, _dot11("to_DS"), 400) is Skip.LINK_TYPE

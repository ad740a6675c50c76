"""Reading captures: the records are scapy's (the reference reader), limits are kept, and
every file that is not a whole 802.11 capture gets a typed error or a note."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
from scapy.layers.dot11 import Dot11, RadioTap
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgWriter, RawPcapReader, RawPcapWriter, wrpcap

from reclaim.sweep.wifi import (
    CaptureLimits,
    CaptureTooLarge,
    DamagedCapture,
    NotACapture,
    TruncatedCapture,
    UnsupportedLinkType,
    analyse,
)
from reclaim.sweep.wifi.capture import ReadStats, read_records
from reclaim.sweep.wifi.traffic import collect
from tests.sweep.wifi.conftest import Written


def _records(path: Path, limits: CaptureLimits | None = None) -> tuple[list, ReadStats]:
    stats = ReadStats()
    return list(read_records(path, limits or CaptureLimits(), stats)), stats


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_records_are_what_scapy_reads(small: Written, fmt: str) -> None:
    path = small.pcap if fmt == "pcap" else small.pcapng
    ours, stats = _records(path)
    reference = list(RawPcapReader(str(path)))
    assert stats.format == fmt
    assert not stats.damage
    assert len(ours) == len(reference) == stats.records
    for (stamp, linktype, data, wirelen), (ref_data, meta) in zip(ours, reference, strict=True):
        assert data == ref_data
        assert linktype == 127
        assert wirelen == len(data)
        if fmt == "pcap":
            assert stamp == meta.sec + meta.usec / 1e6
        else:
            assert stamp == ((meta.tshigh << 32) | meta.tslow) / meta.tsresol


def test_limits_on_size_packets_and_time(small: Written, room: Written) -> None:
    with pytest.raises(CaptureTooLarge, match="bytes, more than the limit"):
        analyse(small.pcap, limits=CaptureLimits(max_bytes=1000))
    with pytest.raises(CaptureTooLarge, match="more than 100 packets"):
        analyse(small.pcap, limits=CaptureLimits(max_packets=100))
    with pytest.raises(CaptureTooLarge, match="took longer than"):
        analyse(room.pcapng, limits=CaptureLimits(max_seconds=1e-9))
    with pytest.raises(ValueError, match="positive"):
        CaptureLimits(max_packets=0)


def test_links_and_time_beyond_the_limits_are_notes(small: Written) -> None:
    few_links = analyse(small.pcap, limits=CaptureLimits(max_links=1))
    assert any("beyond the limit of links" in note for note in few_links.notes)
    short = analyse(small.pcap, limits=CaptureLimits(max_duration=2.0))
    assert any("outside the analysed time span" in note for note in short.notes)
    assert short.parameters["capture_seconds"] <= 2.0


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_a_capture_cut_off_is_analysed_up_to_the_cut(
    small: Written, tmp_path: Path, fmt: str
) -> None:
    whole = (small.pcap if fmt == "pcap" else small.pcapng).read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(whole[: len(whole) * 2 // 3 + 7])
    report = analyse(cut)
    assert report.parameters["complete"] is False
    assert any("damaged" in note and "ends inside" in note for note in report.notes)
    assert 0 < report.parameters["records"] < len(_records(small.pcap)[0])


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_a_capture_cut_in_its_header_is_truncated(small: Written, tmp_path: Path, fmt: str) -> None:
    whole = (small.pcap if fmt == "pcap" else small.pcapng).read_bytes()
    cut = tmp_path / f"head.{fmt}"
    cut.write_bytes(whole[:14])
    with pytest.raises((TruncatedCapture, DamagedCapture)):
        analyse(cut)


def test_a_huge_record_length_is_refused_before_it_is_read(small: Written, tmp_path: Path) -> None:
    pcap = bytearray(small.pcap.read_bytes())
    struct.pack_into("<II", pcap, 24 + 8, 0xFFFF_FFF0, 0xFFFF_FFF0)  # the first record
    first = tmp_path / "first.pcap"
    first.write_bytes(pcap)
    with pytest.raises(DamagedCapture, match="claims"):
        analyse(first)
    ng = bytearray(small.pcapng.read_bytes())
    offset = _nth_block(bytes(ng), 5)  # an enhanced packet block after a few packets
    struct.pack_into("<I", ng, offset + 4, 0x7FFF_FFF0)
    later = tmp_path / "later.pcapng"
    later.write_bytes(ng)
    report = analyse(later)
    assert report.parameters["complete"] is False
    assert any("claims" in note for note in report.notes)


def _nth_block(data: bytes, n: int) -> int:
    offset = 0
    for _ in range(n):
        (length,) = struct.unpack_from("<I", data, offset + 4)
        offset += length
    return offset


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"GIF89a" + bytes(100), "not a pcap or pcapng"),
        (gzip.compress(b"\xd4\xc3\xb2\xa1" + bytes(40), mtime=0), "compressed"),
    ],
    ids=["empty", "gif", "gzip"],  # the same names in every process (xdist compares them)
)
def test_not_a_capture(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file.pcap"
    path.write_bytes(content)
    with pytest.raises(NotACapture, match=message):
        analyse(path)


def test_missing_files_and_folders_are_not_captures(tmp_path: Path) -> None:
    with pytest.raises(NotACapture, match="cannot be read"):
        analyse(tmp_path / "missing.pcap")
    with pytest.raises(NotACapture, match="not a regular file"):
        analyse(tmp_path)


def _ethernet() -> list:
    return [Ether() / IP(dst="10.0.0.2") / UDP(dport=554) / (b"x" * 1000) for _ in range(20)]


def test_ethernet_captures_say_what_to_do(tmp_path: Path) -> None:
    pcap = tmp_path / "eth.pcap"
    wrpcap(str(pcap), _ethernet())
    with pytest.raises(UnsupportedLinkType, match=r"Ethernet.*monitor mode"):
        analyse(pcap)
    ng = tmp_path / "eth.pcapng"
    with PcapNgWriter(str(ng)) as writer:
        for packet in _ethernet():
            writer.write(packet)
    with pytest.raises(UnsupportedLinkType, match="Ethernet"):
        analyse(ng)


def test_a_capture_with_no_packets_is_an_empty_report(tmp_path: Path) -> None:
    path = tmp_path / "empty.pcap"
    RawPcapWriter(str(path), linktype=127).close()
    report = analyse(path)
    assert report.findings == []
    assert "The capture holds no packets." in report.notes


def test_retransmissions_and_strange_times_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "retries.pcap"
    frame = (
        RadioTap()
        / Dot11(
            type=2,
            subtype=0,
            FCfield="to_DS",
            addr1="02:00:00:00:00:01",
            addr2="02:00:00:00:00:02",
            SC=5 << 4,
        )
        / (b"\x00" * 500)
    )
    retry = frame.copy()
    retry[Dot11].FCfield = "to_DS+retry"
    writer = RawPcapWriter(str(path), linktype=127)
    writer.write_header(None)
    for stamp, packet in (
        (1000.0, frame),
        (1000.001, retry),
        (1000.002, retry),
        (4e9, frame),
        (10.0, frame),
    ):
        writer.write_packet(bytes(packet), sec=int(stamp), usec=int(stamp % 1 * 1e6))
    writer.close()
    traffic = collect(path, CaptureLimits())
    assert traffic.retries == 2
    assert traffic.out_of_range == 2  # a frame 126 years later, one 990 s earlier
    ((times, sizes),) = traffic.links.values()
    assert len(times) == 1
    assert sizes[0] == 24 + 500


def _shb() -> bytes:
    return struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)


def _idb() -> bytes:
    return struct.pack("<IIHHII", 1, 20, 127, 0, 65535, 20)


def _block(kind: int, body: bytes) -> bytes:
    return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def test_pcapng_packets_without_timestamps_count_for_the_packet_limit(tmp_path: Path) -> None:
    """Simple packet blocks carry no time and are skipped; they were not counted either, so
    a file of millions of them ran past max_packets (regression)."""
    path = tmp_path / "simple.pcapng"
    path.write_bytes(_shb() + _idb() + _block(3, struct.pack("<I", 4) + bytes(4)) * 3000)
    with pytest.raises(CaptureTooLarge, match="more than 1,000 packets"):
        analyse(path, limits=CaptureLimits(max_packets=1000))
    assert analyse(path).notes[-1] == "3,000 records without a timestamp were skipped."


def test_pcapng_blocks_that_are_not_packets_are_read_on_the_clock(tmp_path: Path) -> None:
    """scapy reads unknown blocks in a loop of its own; the time limit held only between
    packets, so a file of unknown blocks ran unbounded (regression)."""
    path = tmp_path / "unknown.pcapng"
    path.write_bytes(_shb() + _idb() + _block(0x0BAD, b"") * 3000)
    with pytest.raises(CaptureTooLarge, match="took longer than"):
        analyse(path, limits=CaptureLimits(max_seconds=1e-9))


def test_pcapng_description_blocks_cannot_grow_memory(small: Written, tmp_path: Path) -> None:
    """scapy keeps every interface description block: 40 MB of them cost 600 MB of memory
    (regression). Past MAX_DESCRIPTIONS the file is damaged from there on."""
    from reclaim.sweep.wifi.capture import MAX_DESCRIPTIONS

    flood = _idb() * (2 * MAX_DESCRIPTIONS)
    path = tmp_path / "interfaces.pcapng"
    path.write_bytes(_shb() + flood)
    with pytest.raises(DamagedCapture, match="description blocks"):
        analyse(path)
    after = tmp_path / "after.pcapng"
    after.write_bytes(small.pcapng.read_bytes() + flood)
    report = analyse(after)
    assert report.parameters["complete"] is False
    assert any("description blocks" in note for note in report.notes)

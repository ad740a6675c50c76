"""Turning modelled packets into radiotap + 802.11 frames in a pcap or pcapng file.

Headers are built once per link with scapy (radiotap, 802.11 QoS data with to-DS/from-DS
and the protected bit, CCMP header) and then copied per frame with the sequence number and
packet number patched in, a random body of the modelled length and a real FCS: building
every frame with scapy would cost ~100 us each, and a bench writes millions.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scapy.layers.dot11 import Dot11, Dot11Beacon, Dot11CCMP, Dot11Elt, Dot11QoS, RadioTap
from scapy.packet import Raw
from scapy.utils import RawPcapNgWriter, RawPcapWriter

if TYPE_CHECKING:
    from reclaim.sweep.wifi.model_traffic import Packets

_DATA, _RETRY, _BLOCK_ACK, _BEACON = 0, 1, 2, 3
_HEADER = 26 + 8
"""QoS data header and CCMP header: the body after them is payload and MIC."""
_BEACON_EVERY = 0.1024
_BAD_FCS = 0.002
_CHANNEL = 2437


@dataclass(frozen=True)
class Link:
    direction: int
    """1: to-DS (station to access point), 2: from-DS."""
    addr1: str
    addr2: str
    addr3: str
    rssi: int


def _radiotap(rssi: int) -> bytes:
    return bytes(
        RadioTap(
            present="Flags+Rate+Channel+dBm_AntSignal",
            Flags="FCS",
            Rate=108,
            ChannelFrequency=_CHANNEL,
            ChannelFlags="2GHz+OFDM",
            dBm_AntSignal=rssi,
        )
    )


def _data_header(link: Link) -> bytes:
    fc = "to_DS+protected" if link.direction == 1 else "from_DS+protected"
    return bytes(
        Dot11(
            type=2,
            subtype=8,
            FCfield=fc,
            addr1=link.addr1,
            addr2=link.addr2,
            addr3=link.addr3,
            SC=0,
        )
        / Dot11QoS(TID=5)
        / Dot11CCMP(ext_iv=1, data=b"")
    )


def _block_ack(link: Link) -> bytes:
    frame = bytes(
        Dot11(type=1, subtype=9, addr1=link.addr2, addr2=link.addr1)
        / Raw(b"\x04\x00" + b"\x00\x00" + b"\xff" * 8)
    )
    return frame + struct.pack("<I", zlib.crc32(frame))


def _beacon(bssid: str, ssid: bytes) -> bytes:
    frame = bytes(
        Dot11(type=0, subtype=8, addr1="ff:ff:ff:ff:ff:ff", addr2=bssid, addr3=bssid)
        / Dot11Beacon(cap="ESS+privacy")
        / Dot11Elt(ID="SSID", info=ssid)
        / Dot11Elt(ID="Rates", info=b"\x82\x84\x8b\x96\x0c\x12\x18\x24")
        / Dot11Elt(ID="DSset", info=b"\x06")
    )
    return frame + struct.pack("<I", zlib.crc32(frame))


Columns = dict[str, np.ndarray[Any, Any]]


def _data_frames(parts: Sequence[tuple[int, Packets, float, float]], duration: float) -> Columns:
    """The modelled packets as columns, sorted by link then time, with sequence numbers."""
    cols: dict[str, list[np.ndarray[Any, Any]]] = {
        "t": [],
        "who": [],
        "size": [],
        "loss": [],
        "retry": [],
    }
    for base, packets, p_loss, p_retry in parts:
        cols["t"].append(packets.times)
        cols["who"].append(base + packets.reverse.astype(np.int64))
        cols["size"].append(np.maximum(packets.sizes, _HEADER + 16))
        cols["loss"].append(np.full(len(packets.times), p_loss))
        cols["retry"].append(np.full(len(packets.times), p_retry))
    out = {k: np.concatenate(v) for k, v in cols.items()}
    keep = (out["t"] >= 0) & (out["t"] < duration)
    out = {k: v[keep] for k, v in out.items()}
    order = np.lexsort((out["t"], out["who"]))
    out = {k: v[order] for k, v in out.items()}
    first = np.searchsorted(out["who"], out["who"], side="left")
    out["seq"] = (np.arange(len(out["t"])) - first) % 4096
    out["kind"] = np.full(len(out["t"]), _DATA)
    return out


def _events(
    rng: np.random.Generator,
    duration: float,
    access_points: Sequence[str],
    parts: Sequence[tuple[int, Packets, float, float]],
) -> Columns:
    """Every frame as columns (time, kind, link or AP, size, sequence number), time-sorted:
    the data frames, their retransmissions (same sequence number), a block ACK after each
    run of frames, the beacons; minus the frames the monitor missed."""
    data = _data_frames(parts, duration)
    again = rng.uniform(size=len(data["t"])) < data["retry"]
    retries = {k: v[again] for k, v in data.items()}
    retries["t"] = retries["t"] + rng.uniform(0.3e-3, 3e-3, int(again.sum()))
    retries["kind"] = np.full(int(again.sum()), _RETRY)
    run_end = np.append((np.diff(data["t"]) > 1e-3) | (np.diff(data["who"]) != 0), True)
    acks = {k: v[run_end] for k, v in data.items()}
    acks["t"] = acks["t"] + 40e-6
    acks["kind"] = np.full(int(run_end.sum()), _BLOCK_ACK)
    groups = [data, retries, acks]
    for i, _ in enumerate(access_points):
        times = np.arange(rng.uniform(0, _BEACON_EVERY), duration, _BEACON_EVERY)
        zeros = np.zeros(len(times), np.int64)
        groups.append(
            {
                "t": times,
                "who": zeros + i,
                "size": zeros,
                "seq": zeros,
                "kind": zeros + _BEACON,
                "loss": np.full(len(times), 0.01),
            }
        )
    names = ("t", "kind", "who", "size", "seq", "loss")
    out = {k: np.concatenate([g[k] for g in groups]) for k in names}
    kept = (rng.uniform(size=len(out["t"])) >= out["loss"]) & (out["t"] < duration)
    order = np.argsort(out["t"][kept], kind="stable")
    return {k: v[kept][order] for k, v in out.items()}


def write_frames(
    path: Path,
    rng: np.random.Generator,
    start: float,
    duration: float,
    access_points: Sequence[str],
    links: Sequence[Link],
    parts: Sequence[tuple[int, Packets, float, float]],
    *,
    fmt: str = "pcap",
    linktype: int = 127,
) -> None:
    """Write the frames of ``parts`` (each: first link index, packets, loss, retry)."""
    ev = _events(rng, duration, access_points, parts)
    radio = [_radiotap(link.rssi) for link in links] if linktype == 127 else []
    headers = [_data_header(link) for link in links]
    block_acks = [_block_ack(link) for link in links]
    beacons = [_beacon(ap, f"room-{i}".encode()) for i, ap in enumerate(access_points)]
    ap_radio = _radiotap(-50) if linktype == 127 else b""
    pool = rng.bytes(1 << 17)
    offsets = rng.integers(0, (1 << 17) - 12_000, len(ev["t"]))
    bad = rng.uniform(size=len(ev["t"])) < _BAD_FCS
    writer: Any
    if fmt == "pcapng":
        writer = RawPcapNgWriter(str(path))
    elif fmt == "pcap":
        writer = RawPcapWriter(str(path), linktype=linktype)
    else:
        raise ValueError(f"unknown capture format {fmt!r}")
    writer.linktype = linktype
    writer.write_header(None)
    try:
        for i in range(len(ev["t"])):
            kind, who = int(ev["kind"][i]), int(ev["who"][i])
            if kind == _BEACON:
                frame, rt = beacons[who], ap_radio
            elif kind == _BLOCK_ACK:
                frame, rt = block_acks[who], ap_radio
            else:
                frame = _data(
                    headers[who],
                    int(ev["seq"][i]),
                    kind == _RETRY,
                    pool,
                    int(offsets[i]),
                    int(ev["size"][i]),
                )
                rt = radio[who] if radio else b""
            if linktype != 127:
                frame = frame[:-4]
            elif bad[i]:
                rt = rt[:8] + bytes([rt[8] | 0x40]) + rt[9:]
                frame = frame[:-4] + b"\x00\x00\x00\x00"
            stamp = start + float(ev["t"][i])
            if fmt == "pcapng":
                writer.write_packet(rt + frame, sec=stamp)
            else:
                sec = int(stamp)
                writer.write_packet(rt + frame, sec=sec, usec=int((stamp - sec) * 1e6))
    finally:
        writer.close()


def _data(header: bytes, seq: int, retry: bool, pool: bytes, offset: int, size: int) -> bytes:
    frame = bytearray(header)
    if retry:
        frame[1] |= 0x08
    struct.pack_into("<H", frame, 22, seq << 4)
    frame[26:28] = struct.pack("<H", seq)  # CCMP PN0, PN1: the packet number grows too
    frame += pool[offset : offset + size - _HEADER]
    return bytes(frame) + struct.pack("<I", zlib.crc32(frame))

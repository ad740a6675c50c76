"""Who is on the network: an ARP request to every address (rate-limited, through the gate),
and a passive listener that notes every device it hears meanwhile (ARP replies, but also
the announcements and chatter of devices that sleep through a sweep, like Wi-Fi cameras in
power-save). Listening sends nothing.

Both need raw sockets (root, or ``CAP_NET_RAW``). Without them the sweep falls back to the
kernel: it sends one empty UDP datagram to the discard port of each address (which makes
the kernel resolve it by ARP) and reads the kernel's neighbour table.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from pathlib import Path
from typing import Any

from reclaim.sweep.lan.errors import OutOfScope, OutOfTime
from reclaim.sweep.lan.gate import Gate

DISCARD_PORT = 9


def raw_sockets_allowed() -> bool:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
    except (PermissionError, AttributeError):
        return False
    return True


class Listener:
    """Hears frames on the target interface; keeps IP -> MAC for addresses in the network."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.seen: dict[ipaddress.IPv4Address, tuple[str, str]] = {}
        """IP -> (MAC, how it was heard: ``arp`` or ``passive``)."""
        self._lock = threading.Lock()
        self._sniffer: Any = None

    def start(self) -> None:
        # Importing the layers registers Ethernet with scapy: without it, frames arrive as
        # undecoded bytes.
        import scapy.layers.inet
        import scapy.layers.l2  # noqa: F401
        from scapy.sendrecv import AsyncSniffer

        started = threading.Event()
        self._sniffer = AsyncSniffer(
            iface=self.gate.target.interface,
            prn=self._frame,
            store=False,
            started_callback=started.set,
        )
        self._sniffer.start()
        started.wait(2.0)

    def stop(self) -> None:
        if self._sniffer is not None:
            # Already stopped, e.g. because the interface went away: nothing to do.
            with contextlib.suppress(Exception):
                self._sniffer.stop()
            self._sniffer = None

    def _frame(self, frame: Any) -> None:
        from scapy.layers.inet import IP
        from scapy.layers.l2 import ARP, Ether

        if Ether not in frame or frame[Ether].src.lower() == (self.gate.target.mac or ""):
            return
        if ARP in frame:
            ip, mac = frame[ARP].psrc, frame[ARP].hwsrc
            how = "arp" if frame[ARP].op == 2 else "passive"
        elif IP in frame:
            ip, mac, how = frame[IP].src, frame[Ether].src, "passive"
        else:
            return
        try:
            address = ipaddress.IPv4Address(ip)
        except ValueError:
            return
        if address in self.gate.target.network and address != self.gate.target.source:
            with self._lock:
                if address not in self.seen or how == "arp":
                    self.seen[address] = (mac.lower(), how)

    def snapshot(self) -> dict[ipaddress.IPv4Address, tuple[str, str]]:
        with self._lock:
            return dict(self.seen)


def sweep(gate: Gate, *, raw: bool) -> int:
    """Ask every address of the network once; returns how many were asked."""
    asked = 0
    for ip in (
        gate.target.network.hosts() if gate.target.network.prefixlen < 31 else gate.target.network
    ):
        if ip == gate.target.source:
            continue
        try:
            if raw:
                gate.arp_request(ip)
            else:
                gate.udp(ip, [(DISCARD_PORT, b"")], wait=0.0)
        except OutOfScope:
            continue
        except OutOfTime:
            break
        asked += 1
    time.sleep(max(0.0, min(gate.options.arp_wait, gate.deadline.remaining() - 1.0)))
    return asked


def neighbours(gate: Gate, path: Path = Path("/proc/net/arp")) -> dict[ipaddress.IPv4Address, str]:
    """The kernel's resolved neighbours on the target interface, inside the network."""
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return {}
    found = {}
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or fields[5] != gate.target.interface or fields[2] == "0x0":
            continue
        try:
            ip = ipaddress.IPv4Address(fields[0])
        except ValueError:
            continue
        if ip in gate.target.network and fields[3] != "00:00:00:00:00:00":
            found[ip] = fields[3].lower()
    return found

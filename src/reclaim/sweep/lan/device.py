"""Everything learnt about each device during a sweep, gathered from many threads."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from reclaim.sweep.lan.evidence import Evidence


@dataclass
class Device:
    ip: ipaddress.IPv4Address
    mac: str | None = None
    found_by: set[str] = field(default_factory=set)
    open_ports: set[int] = field(default_factory=set)
    evidence: list[Evidence] = field(default_factory=list)


class Inventory:
    """Devices by address; only addresses inside the network ever get here (the callers
    hold checked addresses)."""

    def __init__(self) -> None:
        self._devices: dict[ipaddress.IPv4Address, Device] = {}
        self._lock = threading.Lock()

    def _get(self, ip: ipaddress.IPv4Address) -> Device:
        if ip not in self._devices:
            self._devices[ip] = Device(ip)
        return self._devices[ip]

    def saw(self, ip: ipaddress.IPv4Address, how: str, mac: str | None = None) -> None:
        with self._lock:
            device = self._get(ip)
            device.found_by.add(how)
            if mac and device.mac is None:
                device.mac = mac.lower()

    def add(
        self, ip: ipaddress.IPv4Address, evidence: Iterable[Evidence], how: str | None = None
    ) -> None:
        with self._lock:
            device = self._get(ip)
            device.evidence.extend(evidence)
            if how:
                device.found_by.add(how)

    def ports(self, ip: ipaddress.IPv4Address, ports: Iterable[int]) -> None:
        with self._lock:
            self._get(ip).open_ports.update(ports)

    def addresses(self) -> list[ipaddress.IPv4Address]:
        with self._lock:
            return sorted(self._devices)

    def devices(self) -> list[Device]:
        """Copies, safe to read while probes still run."""
        with self._lock:
            return [
                Device(d.ip, d.mac, set(d.found_by), set(d.open_ports), list(d.evidence))
                for _, d in sorted(self._devices.items())
            ]

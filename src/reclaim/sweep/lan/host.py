"""What this machine's network looks like: interfaces, their IPv4 subnets, and which one
carries the default route. Read from the kernel of the network namespace the process runs
in (``ioctl`` and ``/proc/net/route``), so that a sweep started with ``ip netns exec`` sees
only that namespace.

Target planning (:mod:`.target`) works on a :class:`HostView` as plain data, so its
refusals are tested without touching any real interface.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915
_SIOCGIFNETMASK = 0x891B
_SIOCGIFHWADDR = 0x8927
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    address: ipaddress.IPv4Address | None
    """The interface's primary IPv4 address (secondary addresses are not considered)."""
    network: ipaddress.IPv4Network | None
    """The subnet that address is on: the link a LAN sweep can see."""
    mac: str | None
    up: bool
    loopback: bool
    gateway: ipaddress.IPv4Address | None = None
    """The default route's next hop through this interface, if it has one."""


@dataclass(frozen=True, slots=True)
class HostView:
    interfaces: tuple[Interface, ...]

    def find(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)

    @property
    def default_interfaces(self) -> frozenset[str]:
        """Interfaces that carry a default route."""
        return frozenset(i.name for i in self.interfaces if i.gateway is not None)


def read_host() -> HostView:
    """This namespace's interfaces, as the kernel sees them now."""
    gateways = _default_gateways(Path("/proc/net/route"))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        interfaces = tuple(
            _interface(probe, name, gateways.get(name)) for _, name in socket.if_nameindex()
        )
    finally:
        probe.close()
    return HostView(interfaces)


def _interface(probe: socket.socket, name: str, gateway: ipaddress.IPv4Address | None) -> Interface:
    flags = struct.unpack("H", _ioctl(probe, _SIOCGIFFLAGS, name)[16:18])[0]
    address = _ipv4(_ioctl(probe, _SIOCGIFADDR, name))
    mask = _ipv4(_ioctl(probe, _SIOCGIFNETMASK, name))
    network = None
    if address is not None and mask is not None:
        network = ipaddress.IPv4Network(f"{address}/{mask}", strict=False)
    hw = _ioctl(probe, _SIOCGIFHWADDR, name)
    mac = ":".join(f"{b:02x}" for b in hw[18:24]) if hw else None
    return Interface(
        name=name,
        address=address,
        network=network,
        mac=mac if mac and mac != "00:00:00:00:00:00" else None,
        up=bool(flags & _IFF_UP),
        loopback=bool(flags & _IFF_LOOPBACK),
        gateway=gateway,
    )


def _ioctl(probe: socket.socket, request: int, name: str) -> bytes:
    buffer = struct.pack("256s", name.encode()[:15])
    try:
        return fcntl.ioctl(probe.fileno(), request, buffer)
    except OSError:
        return b""  # no address of that kind on this interface


def _ipv4(result: bytes) -> ipaddress.IPv4Address | None:
    if len(result) < 24:
        return None
    return ipaddress.IPv4Address(result[20:24])


def _default_gateways(path: Path) -> dict[str, ipaddress.IPv4Address]:
    """Interface -> next hop of its default route, from the kernel's IPv4 routing table."""
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return {}
    gateways: dict[str, ipaddress.IPv4Address] = {}
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[1] != "00000000" or fields[7] != "00000000":
            continue
        gateway = ipaddress.IPv4Address(struct.pack("<I", int(fields[2], 16)))
        gateways.setdefault(fields[0], gateway)
    return gateways

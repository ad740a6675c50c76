"""Turn ``--interface`` / ``--network`` into the one network a sweep may touch, or refuse.

The refusals are the safety of the whole feature. A LAN sweep sends packets to every
address of a network; pointed at the wrong one it scans someone's office or a hotel's
whole guest network. So:

- no target, no sweep: Reclaim never picks a network for you;
- IPv4 only, private ranges only (a room's Wi-Fi hands out 10/8, 172.16/12, 192.168/16,
  100.64/10 or link-local addresses), never loopback;
- no wider than ``LanOptions.widest_prefix`` (/24 by default, /22 at most);
- the network must be on a directly connected interface: a LAN sweep never goes through a
  router;
- ``--interface`` alone takes the interface's own subnet, and refuses the interface that
  carries the default route (likely home or office) unless ``allow_interface`` names it.

Planning is a pure function of a :class:`~.host.HostView`, checked before anything is
sent; only :func:`plan` reads the real host.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from reclaim.sweep.lan.errors import SweepRefused
from reclaim.sweep.lan.host import HostView, Interface, read_host
from reclaim.sweep.lan.options import LanOptions

_ROOM_RANGES = tuple(
    ipaddress.IPv4Network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
)


@dataclass(frozen=True, slots=True)
class Target:
    network: ipaddress.IPv4Network
    """Every address a probe goes to is in here (checked by the gate)."""
    interface: str
    source: ipaddress.IPv4Address
    """This machine's address on the interface: every probe is sent from it."""
    link: ipaddress.IPv4Network
    """The interface's own subnet; ``network`` is inside it."""
    mac: str | None = None
    gateway: ipaddress.IPv4Address | None = None

    @property
    def whole_link(self) -> bool:
        """Whether ``network`` covers the whole link (multicast reaches nobody outside it)."""
        return self.network == self.link

    def __str__(self) -> str:
        return f"{self.network} on {self.interface}"


def plan(*, interface: str | None, network: str | None, options: LanOptions) -> Target:
    """Check the arguments first (no I/O), then this namespace's interfaces."""
    requested = _check_arguments(interface, network, options)
    return plan_on(read_host(), interface=interface, network=requested, options=options)


def plan_on(
    host: HostView,
    *,
    interface: str | None,
    network: ipaddress.IPv4Network | None,
    options: LanOptions,
) -> Target:
    """The target on ``host``, or :class:`SweepRefused` saying why not."""
    if interface is not None:
        chosen = _usable(host.find(interface), interface)
    else:
        assert network is not None
        chosen = _interface_for(host, network)
    assert chosen.network is not None
    assert chosen.address is not None
    if network is None:
        network = chosen.network
        _check_network(network, options, what=f"{interface}'s network", around=chosen.address)
        if interface in host.default_interfaces and options.allow_interface != interface:
            raise SweepRefused(
                f"{interface} carries this machine's default route: it is more likely your "
                "own (home, office) network than the room's. If you are connected to the "
                f"room's own network on {interface} (e.g. the motel's Wi-Fi), confirm it "
                f"with --allow-interface {interface} (allow_interface={interface!r})."
            )
    elif not network.subnet_of(chosen.network):
        raise SweepRefused(
            f"{network} is not inside {chosen.name}'s network {chosen.network}: a LAN sweep "
            "stays on the network this machine is connected to."
        )
    return Target(
        network=network,
        interface=chosen.name,
        source=chosen.address,
        link=chosen.network,
        mac=chosen.mac,
        gateway=chosen.gateway,
    )


def _check_arguments(
    interface: str | None, network: str | None, options: LanOptions
) -> ipaddress.IPv4Network | None:
    if interface is None and network is None:
        raise SweepRefused(
            "no target: name the room's network interface (--interface) or network "
            "(--network). Reclaim never chooses a network to sweep for you."
        )
    if interface is not None and not interface.strip():
        raise SweepRefused("the interface name is empty")
    if network is None:
        return None
    try:
        parsed = ipaddress.ip_network(network.strip(), strict=True)
    except ValueError as error:
        raise SweepRefused(f"{network!r} is not a network in CIDR form ({error})") from None
    if not isinstance(parsed, ipaddress.IPv4Network):
        raise SweepRefused(f"{parsed} is IPv6: the LAN sweep covers IPv4 networks only")
    _check_network(parsed, options, what=str(parsed))
    return parsed


def _check_network(
    network: ipaddress.IPv4Network,
    options: LanOptions,
    *,
    what: str,
    around: ipaddress.IPv4Address | None = None,
) -> None:
    if network.is_loopback:
        raise SweepRefused(f"{what} is loopback: this machine, not a room")
    if not any(network.subnet_of(r) for r in _ROOM_RANGES):
        raise SweepRefused(
            f"{what} ({network}) is not a private network: a room's Wi-Fi uses 10/8, "
            "172.16/12, 192.168/16, 100.64/10 or 169.254/16"
        )
    if network.prefixlen < options.widest_prefix:
        hint = ""
        if around is not None:
            part = ipaddress.IPv4Network(f"{around}/{options.widest_prefix}", strict=False)
            hint = f" Name a part of it instead, e.g. --network {part} (around {around})."
        raise SweepRefused(
            f"{what} ({network}, {network.num_addresses} addresses) is wider than "
            f"/{options.widest_prefix}: that is more than a room, and sweeping it could "
            f"scan a whole hotel or office.{hint}"
        )


def _usable(found: Interface | None, name: str) -> Interface:
    if found is None:
        raise SweepRefused(f"there is no interface named {name!r}")
    if found.loopback:
        raise SweepRefused(f"{name} is the loopback interface: this machine, not a room")
    if not found.up:
        raise SweepRefused(f"{name} is down: connect to the room's network first")
    if found.address is None or found.network is None:
        raise SweepRefused(f"{name} has no IPv4 address: connect to the room's network first")
    return found


def _interface_for(host: HostView, network: ipaddress.IPv4Network) -> Interface:
    candidates = [
        i
        for i in host.interfaces
        if i.up and not i.loopback and i.network is not None and network.subnet_of(i.network)
    ]
    if not candidates:
        known = ", ".join(
            f"{i.name}: {i.network}" for i in host.interfaces if i.network and not i.loopback
        )
        raise SweepRefused(
            f"{network} is not on any network this machine is connected to "
            f"({known or 'none'}); a LAN sweep never goes through a router."
        )
    return max(candidates, key=lambda i: i.network.prefixlen if i.network else 0)

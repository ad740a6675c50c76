"""The one door every probe goes out through.

Nothing in a LAN sweep opens a socket or sends a frame except through a :class:`Gate`, and
every method of the gate does the same three things before a packet leaves:

1. :meth:`Gate.check` the destination: an IPv4 address inside the target network, not its
   network or broadcast address, not this machine; a multicast group only from the fixed
   list and only when the target covers the whole link (or ``link_multicast`` says so);
2. take a token from the shared rate limiter (which also enforces the deadline);
3. bind the socket to the target interface and its address, with an IP TTL of 1, so that
   a packet cannot be routed off the link even if something above went wrong.

Answers from addresses outside the network are dropped here too, and counted.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from reclaim.sweep.lan.errors import OutOfScope, ProbeFailed
from reclaim.sweep.lan.options import LanOptions
from reclaim.sweep.lan.pace import Deadline, RateLimiter
from reclaim.sweep.lan.target import Target

if TYPE_CHECKING:
    from zeroconf import Zeroconf

MULTICAST_GROUPS = frozenset(
    {
        ("224.0.0.251", 5353),  # mDNS
        ("239.255.255.250", 1900),  # SSDP
        ("239.255.255.250", 3702),  # WS-Discovery (ONVIF)
        ("239.255.255.250", 37020),  # Hikvision SADP
    }
)
MAX_DATAGRAM = 65535
MAX_ANSWERS_PER_SOURCE = 32
"""Datagrams kept from one address per query: a UPnP device answers ``ssdp:all`` once per
device and service type it has (a TV, a dozen or more). More from one address is a flood."""
MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""Bytes kept per query from all addresses together; the rest is read and dropped."""


class Gate:
    def __init__(self, target: Target, options: LanOptions, deadline: Deadline) -> None:
        self.target = target
        self.options = options
        self.deadline = deadline
        self._rate = RateLimiter(options.rate, deadline)
        self._lock = threading.Lock()
        self.sent: Counter[str] = Counter()
        self.refused: set[str] = set()
        """Addresses some probe or answer named that are outside the network."""
        self.ignored: set[str] = set()
        """Addresses outside the network whose answers were dropped."""
        self._l2: Any = None

    # -- what may be reached ------------------------------------------------------------

    def check(self, address: object) -> ipaddress.IPv4Address:
        """The address, if a probe may send to it; :class:`OutOfScope` otherwise (and the
        address is remembered in :attr:`refused` for the report)."""
        try:
            ip = ipaddress.ip_address(str(address).strip())
        except ValueError:
            raise OutOfScope(f"{str(address)[:60]!r} is not an IP address") from None
        if not self.reachable(ip):
            with self._lock:
                self.refused.add(str(ip))
            raise OutOfScope(f"{ip} is outside {self.target.network}: not contacted")
        assert isinstance(ip, ipaddress.IPv4Address)
        return ip

    def reachable(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """Whether a probe may send to ``ip``: an IPv4 address inside the network, not its
        network or broadcast address, not this machine."""
        network = self.target.network
        return (
            isinstance(ip, ipaddress.IPv4Address)
            and ip in network
            and ip != self.target.source
            and not (
                network.prefixlen < 31
                and ip in (network.network_address, network.broadcast_address)
            )
        )

    @property
    def may_multicast(self) -> bool:
        return self.target.whole_link or self.options.link_multicast

    def _check_group(self, group: str, port: int) -> None:
        if (group, port) not in MULTICAST_GROUPS:
            raise OutOfScope(f"{group}:{port} is not a discovery group this sweep uses")
        if not self.may_multicast:
            raise OutOfScope(
                f"multicast to {group}:{port} would reach devices outside {self.target.network}"
            )

    def _count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.sent[kind] += n

    # -- sockets -----------------------------------------------------------------------

    def _socket(self, kind: int, *, port: int = 0, any_address: bool = False) -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        try:
            # Unprivileged on a kernel before 5.7: the bound address still picks the link.
            with contextlib.suppress(PermissionError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.target.interface.encode()
                )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
            if any_address:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Answers sent to a multicast group only reach a socket bound to the wildcard
            # address; SO_BINDTODEVICE above still keeps it on the target interface.
            sock.bind(("0.0.0.0" if any_address else str(self.target.source), port))  # noqa: S104
        except OSError:
            sock.close()
            raise
        return sock

    def connect(self, address: object, port: int) -> socket.socket:
        """A TCP connection to ``address:port``; the caller closes it."""
        ip = self.check(address)
        timeout = self.deadline.timeout(self.options.probe_timeout)
        self._rate.take()
        self._count("tcp_connect")
        sock = self._socket(socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((str(ip), port))
        except OSError as error:
            sock.close()
            raise ProbeFailed(f"{ip}:{port}: {error.strerror or error}") from None
        return sock

    def scan(self, address: object, ports: Iterable[int]) -> set[int]:
        """The TCP ports of ``ports`` that accept a connection, all tried at once."""
        ip = self.check(address)
        selector = selectors.DefaultSelector()
        found: set[int] = set()
        try:
            for port in ports:
                self._rate.take()
                self._count("tcp_connect")
                sock = self._socket(socket.SOCK_STREAM)
                sock.setblocking(False)
                if sock.connect_ex((str(ip), port)) not in (0, errno.EINPROGRESS):
                    sock.close()
                    continue
                selector.register(sock, selectors.EVENT_WRITE, port)
            until = time.monotonic() + self.deadline.timeout(self.options.probe_timeout)
            while selector.get_map() and (left := until - time.monotonic()) > 0:
                for key, _ in selector.select(left):
                    done = key.fileobj
                    assert isinstance(done, socket.socket)
                    if done.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        found.add(key.data)
                    selector.unregister(done)
                    done.close()
        finally:
            for key in list(selector.get_map().values()):
                selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
            selector.close()
        return found

    def udp(
        self, address: object, sends: Sequence[tuple[int, bytes]], *, wait: float
    ) -> list[tuple[int, bytes]]:
        """Send each ``(port, payload)`` to ``address`` and collect what it answers, as
        ``(source port, datagram)``, for ``wait`` seconds."""
        ip = self.check(address)
        sock = self._socket(socket.SOCK_DGRAM)
        try:
            for port, payload in sends:
                self._rate.take()
                self._count("udp")
                try:
                    sock.sendto(payload, (str(ip), port))
                except OSError as error:
                    raise ProbeFailed(f"{ip}:{port}: {error.strerror or error}") from None
            return [
                (source_port, data)
                for _, source_port, data in self._collect(sock, wait, lambda source: source == ip)
            ]
        finally:
            sock.close()

    def multicast(
        self, group: str, port: int, payload: bytes, *, wait: float, listen_on_port: bool = False
    ) -> list[tuple[ipaddress.IPv4Address, bytes]]:
        """Send one query to a discovery group and collect answers for ``wait`` seconds,
        from addresses inside the network only. ``listen_on_port`` binds the group's port
        and joins the group, for protocols that answer to the group rather than to us."""
        self._check_group(group, port)
        if listen_on_port:
            sock = self._socket(socket.SOCK_DGRAM, port=port, any_address=True)
            membership = socket.inet_aton(group) + socket.inet_aton(str(self.target.source))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        else:
            sock = self._socket(socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(str(self.target.source))
            )
            self._rate.take()
            self._count("multicast")
            sock.sendto(payload, (group, port))
            return [
                (source, data) for source, _, data in self._collect(sock, wait, self._from_network)
            ]
        finally:
            sock.close()

    def _from_network(self, source: ipaddress.IPv4Address) -> bool:
        if source == self.target.source:
            return False  # our own query, looped back
        if self.reachable(source):
            return True
        with self._lock:
            self.ignored.add(str(source))
        return False

    def _collect(
        self, sock: socket.socket, wait: float, accept: Callable[[ipaddress.IPv4Address], bool]
    ) -> list[tuple[ipaddress.IPv4Address, int, bytes]]:
        """Datagrams from sources ``accept`` takes, for ``wait`` seconds (within the
        budget): at most :data:`MAX_ANSWERS_PER_SOURCE` from each and
        :data:`MAX_ANSWER_BYTES` in all, so that one chatty or hostile device can neither
        fill memory nor crowd out the others."""
        answers: list[tuple[ipaddress.IPv4Address, int, bytes]] = []
        per_source: Counter[ipaddress.IPv4Address] = Counter()
        kept = 0
        until = time.monotonic() + min(wait, max(self.deadline.remaining(), 0.0))
        while (left := until - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, (address, source_port) = sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                break
            except OSError:
                continue  # an ICMP error reported on the socket: keep listening
            source = ipaddress.IPv4Address(address)
            if (
                not accept(source)
                or per_source[source] >= MAX_ANSWERS_PER_SOURCE
                or kept + len(data) > MAX_ANSWER_BYTES
            ):
                continue
            per_source[source] += 1
            kept += len(data)
            answers.append((source, source_port, data))
        return answers

    # -- link layer and mDNS -----------------------------------------------------------

    def arp_request(self, address: object) -> None:
        """Ask who has ``address`` (one broadcast ARP request, as any host would)."""
        ip = self.check(address)
        self._rate.take()
        self._count("arp")
        from scapy.layers.l2 import ARP, Ether

        if self._l2 is None:
            from scapy.config import conf

            self._l2 = conf.L2socket(iface=self.target.interface)
        mac = self.target.mac or "00:00:00:00:00:00"
        frame = Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(
            op=1, hwsrc=mac, psrc=str(self.target.source), pdst=str(ip)
        )
        self._l2.send(frame)

    def zeroconf(self) -> Zeroconf:
        """An mDNS endpoint on the target interface only (IPv4), for browsing."""
        self._check_group("224.0.0.251", 5353)
        self._rate.take()
        self._count("multicast")
        from zeroconf import IPVersion, Zeroconf

        return Zeroconf(interfaces=[str(self.target.source)], ip_version=IPVersion.V4Only)

    def mdns_query(self) -> None:
        """Pace one request zeroconf is about to send (resolving one service): a token from
        the rate limiter, or :class:`~.errors.OutOfTime`."""
        self._check_group("224.0.0.251", 5353)
        self._rate.take()
        self._count("multicast")

    def close(self) -> None:
        if self._l2 is not None:
            self._l2.close()
            self._l2 = None

"""The SSRF guard: which URLs the monitor may fetch and which addresses it may connect to.

A URL from a crawled page or a survivor's report is hostile until checked. The monitor
must never become a way to reach this machine, the organisation's network, or a cloud
provider's metadata service. So:

- only ``http`` and ``https``, no credentials in the URL, a host, a sane length;
- the host is resolved **once**, every address it resolves to is checked, and the
  connection goes to a checked address (never to a second resolution of the name, which
  DNS rebinding could point elsewhere); a name that resolves to any forbidden address is
  refused outright (a mixed answer is an attack, not a misconfiguration);
- forbidden: loopback, private, link-local (cloud metadata 169.254.169.254 among them),
  multicast, reserved, unspecified, CGNAT (100.64/10), documentation and benchmark
  ranges, IPv4-mapped and IPv4-compatible IPv6 (judged by the IPv4 address inside), NAT64
  (64:ff9b::/96, 64:ff9b:1::/48), 6to4 and Teredo (they tunnel to any IPv4 address),
  unique-local IPv6 (AWS's fd00:ec2::254 metadata among them); and anything Python does
  not consider globally reachable;
- ``allow`` networks (``RECLAIM_FETCH_ALLOW_NETWORKS``) are the only exception: tests and
  the demo serve their site on a narrow loopback range and allow just that.

Every redirect hop goes through the same checks, because every connection does: the check
lives in the network backend that opens connections (:class:`GuardedBackend`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from reclaim.config import Network as Network  # re-exported: the monitor names them here
from reclaim.config import parse_networks as parse_networks
from reclaim.monitor.errors import FetchRefused

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the addresses it resolves to, as strings."""

MAX_URL_LENGTH = 8192
_HOST = re.compile(r"[A-Za-z0-9_.-]+|[0-9A-Fa-f:.]+")
"""A host name (IDNA-encoded) or an IP literal: nothing percent-encoded or stranger."""

_FORBIDDEN: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible"),
    ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "local NAT64"),
    ("100::/64", "discard"),
    ("2001::/23", "IETF protocol assignments (Teredo)"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("fc00::/7", "unique-local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
FORBIDDEN_NETWORKS: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(cidr), reason) for cidr, reason in _FORBIDDEN
)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses may be connected to: any globally reachable one, and ``allow``."""

    allow: tuple[Network, ...] = ()

    def refusal(self, address: str | Address) -> str | None:
        """Why ``address`` may not be connected to, or None when it may."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            return f"{ip} has a zone index"
        if any(ip in network for network in self.allow):
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            inner = self.refusal(ip.ipv4_mapped)
            return None if inner is None else f"{ip} is IPv4-mapped: {inner}"
        for network, reason in FORBIDDEN_NETWORKS:
            if ip.version == network.version and ip in network:
                return f"{ip} is a {reason} address"
        if not ip.is_global:
            return f"{ip} is not globally reachable"
        return None


def checked_url(url: str | httpx.URL) -> httpx.URL:
    """``url`` parsed, or :class:`FetchRefused` saying what is wrong with it."""
    if isinstance(url, str) and len(url) > MAX_URL_LENGTH:
        raise FetchRefused(f"URL longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as error:
        raise FetchRefused(f"not a valid URL: {error}") from error
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https URLs are fetched, not {parsed.scheme or 'none'}")
    if parsed.userinfo:
        raise FetchRefused("URLs with credentials (user:password@) are not fetched")
    if not parsed.host:
        raise FetchRefused("URL has no host")
    if not _HOST.fullmatch(parsed.raw_host.decode("ascii", "replace")):
        raise FetchRefused(f"not a valid host name: {parsed.host!r}")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise FetchRefused(f"port {parsed.port} is out of range")
    return parsed


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (TCP), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for _, _, _, _, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in out:
            out.append(address)
    return out


class GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses the policy allows: resolves the host once
    (within the connect timeout), refuses if any address is forbidden, and connects to
    the checked addresses themselves. TLS still names the host (SNI, certificate check),
    because httpcore starts TLS on this stream with the URL's host name."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.SyncBackend()
        self._lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="reclaim-dns")

    def resolve(self, host: str, port: int, timeout: float | None) -> list[Address]:
        """The checked addresses of ``host``; :class:`FetchRefused` if any is forbidden."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            names: Sequence[str] = [str(literal)]
        else:
            future = self._lookups.submit(self._resolver, host, port)
            try:
                names = future.result(timeout=timeout)
            except FutureTimeout as error:
                raise httpcore.ConnectTimeout(f"resolving {host} timed out") from error
            except (OSError, UnicodeError) as error:
                raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        addresses = [ipaddress.ip_address(name) for name in names]
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            reason = self._policy.refusal(address)
            if reason is not None:
                raise FetchRefused(f"{host} resolves to a forbidden address: {reason}")
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in self.resolve(host, port, timeout):
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise FetchRefused("the monitor never connects to local sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)

    def close(self) -> None:
        self._lookups.shutdown(wait=False, cancel_futures=True)

"""The SSRF guard's decisions: addresses, URLs, allow-listed networks."""

from __future__ import annotations

import ipaddress

import pytest

from reclaim.monitor.errors import FetchRefused
from reclaim.monitor.guard import AddressPolicy, checked_url, parse_networks

FORBIDDEN = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "100.100.100.200",  # Alibaba Cloud metadata (CGNAT range)
    "169.254.169.254",  # AWS, GCP, Azure metadata
    "192.0.0.192",  # Oracle Cloud metadata (IETF protocol assignments)
    "192.0.2.1",
    "198.18.0.1",
    "224.0.0.251",  # mDNS multicast
    "239.255.255.250",  # SSDP multicast
    "255.255.255.255",
    "240.0.0.1",
    "::1",
    "::",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "fd00:ec2::254",  # AWS metadata over IPv6
    "fc00::1",
    "fe80::1",
    "ff02::1",
    "2001:db8::1",
]

ALLOWED = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_internal_addresses_are_refused(address: str) -> None:
    reason = AddressPolicy().refusal(address)
    assert reason is not None
    assert address.split("::")[0] in reason or "mapped" in reason or ":" in address


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(address) is None


def test_allowed_networks_open_exactly_their_range() -> None:
    policy = AddressPolicy(parse_networks("127.0.0.2/32, fd12::/64"))
    assert policy.refusal("127.0.0.2") is None
    assert policy.refusal("::ffff:127.0.0.2") is None
    assert policy.refusal("fd12::5") is None
    assert policy.refusal("127.0.0.1") is not None
    assert policy.refusal("127.0.0.3") is not None
    assert policy.refusal("fd13::5") is not None


def test_zone_indices_are_refused() -> None:
    assert AddressPolicy().refusal(ipaddress.IPv6Address("fe80::1%eth0")) is not None


@pytest.mark.parametrize("text", ["10.0.0.0/33", "not-a-network", "10.0.0.1/8"])
def test_malformed_allow_lists_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="CIDR"):
        parse_networks(text)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("ftp://example.com/x", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://user@example.com/", "credentials"),
        ("http:///path-only", "no host"),
        ("http://example.com:99999/", "out of range"),
        ("http://exa mple.com/", "host name"),
        ("http://exa%2fmple.com/", "host name"),
        ("http://example.com/" + "a" * 9000, "longer than"),
    ],
)
def test_unsafe_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(FetchRefused, match=message):
        checked_url(url)


def test_ordinary_urls_pass() -> None:
    assert checked_url("https://example.com/a?b=c#d").host == "example.com"
    assert checked_url("http://[2606:4700::1]:8080/").port == 8080
    assert checked_url("https://한국.example/").raw_host == b"xn--3e0b707e.example"

"""The gate: the one place every destination is checked, and the clocks it enforces.
Checks only; nothing here sends a packet beyond loopback."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections import Counter

import pytest

from reclaim.sweep.lan import LanOptions
from reclaim.sweep.lan.errors import OutOfScope, OutOfTime
from reclaim.sweep.lan.gate import MAX_ANSWERS_PER_SOURCE, Gate
from reclaim.sweep.lan.pace import Deadline, RateLimiter
from reclaim.sweep.lan.target import Target

LINK = ipaddress.IPv4Network("10.77.0.0/24")


def gate(network: str = "10.77.0.0/24", **options: object) -> Gate:
    target = Target(
        network=ipaddress.IPv4Network(network),
        interface="eth0",
        source=ipaddress.IPv4Address("10.77.0.1"),
        link=LINK,
    )
    return Gate(target, LanOptions(**options), Deadline(10))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "address",
    [
        "10.77.0.200",
        "10.77.1.5",
        "192.0.2.1",
        "8.8.8.8",
        "127.0.0.1",
        "10.77.0.0",
        "10.77.0.127",
        "10.77.0.1",
        "::1",
        "fe80::1",
        "not-an-ip",
        "10.77.0.5 ; rm",
        "",
    ],
)
def test_only_addresses_inside_the_network_pass(address: str) -> None:
    narrow = gate("10.77.0.0/25")
    with pytest.raises(OutOfScope):
        narrow.check(address)
    assert narrow.check("10.77.0.5") == ipaddress.IPv4Address("10.77.0.5")


def test_refused_addresses_are_remembered_for_the_report() -> None:
    g = gate()
    with pytest.raises(OutOfScope):
        g.check("192.0.2.77")
    assert g.refused == {"192.0.2.77"}


def test_multicast_only_when_the_network_is_the_whole_link() -> None:
    assert gate().may_multicast
    narrow = gate("10.77.0.0/25")
    assert not narrow.may_multicast
    with pytest.raises(OutOfScope, match="outside"):
        narrow.multicast("239.255.255.250", 1900, b"", wait=0)
    with pytest.raises(OutOfScope):
        narrow.zeroconf()
    assert gate("10.77.0.0/25", link_multicast=True).may_multicast


def test_only_known_discovery_groups() -> None:
    with pytest.raises(OutOfScope, match="not a discovery group"):
        gate().multicast("239.255.255.250", 9999, b"", wait=0)
    with pytest.raises(OutOfScope, match="not a discovery group"):
        gate().multicast("224.0.0.1", 5353, b"", wait=0)


def test_the_rate_limit_holds() -> None:
    limiter = RateLimiter(50, Deadline(10))
    start = time.monotonic()
    for _ in range(30):
        limiter.take()
    # 5 tokens of burst, then 25 at 50/s: at least half a second.
    assert time.monotonic() - start >= 0.45
    assert limiter.taken == 30


def test_the_deadline_stops_waiting() -> None:
    deadline = Deadline(0.2)
    limiter = RateLimiter(1, deadline)
    limiter.take()
    with pytest.raises(OutOfTime):
        limiter.take()
    time.sleep(0.25)
    with pytest.raises(OutOfTime):
        deadline.timeout(1)


def test_answers_from_outside_are_ignored_not_counted_as_named() -> None:
    g = gate("10.77.0.0/25", link_multicast=True)
    assert g._from_network(ipaddress.IPv4Address("10.77.0.5"))
    assert not g._from_network(ipaddress.IPv4Address("10.77.0.200"))
    assert not g._from_network(ipaddress.IPv4Address("10.77.0.1"))  # our own query
    assert g.ignored == {"10.77.0.200"}
    assert g.refused == set()  # no device named it: it answered


def test_one_chatty_device_cannot_crowd_out_the_others() -> None:
    """Loopback only: 100 datagrams from one address, then 3 from another."""
    g = gate()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    chatty = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        listener.bind(("127.0.0.1", 0))
        chatty.bind(("127.0.0.2", 0))
        quiet.bind(("127.0.0.3", 0))
        for n in range(100):
            chatty.sendto(b"x%d" % n, listener.getsockname())
        for n in range(3):
            quiet.sendto(b"y%d" % n, listener.getsockname())
        answers = g._collect(listener, 0.3, lambda source: True)
    finally:
        for sock in (listener, chatty, quiet):
            sock.close()
    per_source = Counter(str(source) for source, _, _ in answers)
    assert per_source == {"127.0.0.2": MAX_ANSWERS_PER_SOURCE, "127.0.0.3": 3}

"""With ``--network``, only addresses inside it are ever sent anything. The proof is a
canary: a device just outside the network whose namespace counts every frame the sweeper
sends that reaches it. It must count no ARP request for itself, no IP packet from the
sweeper (unicast, multicast or broadcast) and no frame addressed to it, while it does see
the sweeper's ARP requests for the addresses inside (so the canary was listening). A watch
on the router's bridge catches what the canary cannot: packets routed off the link."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.sweep.lan.netns import SWEEPER, Room

NARROW = "10.77.0.0/25"
CANARY = "10.77.0.200"


@pytest.fixture(scope="module")
def narrow_sweep(room: Room) -> tuple[dict[str, Any], dict[str, int], dict[str, int]]:
    canary = room.start("canary", "canary", CANARY, *SWEEPER)
    watch = room.start("room", "watch", "br0", NARROW, SWEEPER[1])
    for process in (canary, watch):
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    try:
        answer = room.sweep(
            network=NARROW,
            options={"rate": 500, "listen": 2.0, "probe_timeout": 1.0, "arp_wait": 0.5},
        )
    finally:
        counts: dict[str, int] = json.loads(room.stop(canary).strip().splitlines()[-1])
        router: dict[str, int] = json.loads(room.stop(watch).strip().splitlines()[-1])
    return answer, counts, router


def test_nothing_reaches_an_address_outside_the_network(narrow_sweep: Any) -> None:
    _, counts, _ = narrow_sweep
    assert counts["arp_for_canary"] == 0
    assert counts["ip_from_sweeper"] == 0
    assert counts["unicast_to_canary"] == 0
    assert counts["arp_for_others"] >= 100  # the canary heard the sweep going on


def test_nothing_goes_through_the_router(narrow_sweep: Any) -> None:
    """The router (10.77.0.254, outside the /25) hears every packet the sweeper routes off
    the link or to the router itself (a DNS lookup, say): none."""
    _, _, router = narrow_sweep
    assert router["ip_leaving_network"] == 0
    assert router["ipv6_from_sweeper"] == 0


def test_the_report_stays_inside_the_network(narrow_sweep: Any) -> None:
    answer, _, _ = narrow_sweep
    report = answer["report"]
    ips = {f["details"]["ip"] for f in report["findings"]}
    assert ips
    assert all(ip.startswith("10.77.0.") and int(ip.rsplit(".", 1)[1]) < 128 for ip in ips)
    assert report["parameters"]["multicast"] is False
    assert report["parameters"]["sent"].get("multicast", 0) == 0
    assert any("multicast discovery" in note and "skipped" in note for note in report["notes"])


def test_cameras_inside_are_still_found_one_by_one(narrow_sweep: Any) -> None:
    answer, _, _ = narrow_sweep
    verdicts = {f["details"]["ip"]: f["verdict"] for f in answer["report"]["findings"]}
    for ip in ("10.77.0.10", "10.77.0.11", "10.77.0.13", "10.77.0.14", "10.77.0.15", "10.77.0.16"):
        assert verdicts[ip] == "camera_likely", ip

"""The sweep against a fake room (network namespaces, see :mod:`.netns`): it finds every
fake camera with the right reasons, calls the printer, the phone and the speaker what they
are, survives hostile devices with notes, and keeps its time budget."""

from __future__ import annotations

import time
import unicodedata
from typing import Any

import pytest

from tests.sweep.lan.netns import FAKES, NETWORK, ROUTER, Room

FAST = {"rate": 500, "listen": 2.0, "probe_timeout": 1.0, "arp_wait": 0.5, "time_budget": 40}


@pytest.fixture(scope="module")
def swept(room: Room) -> dict[str, Any]:
    started = time.monotonic()
    answer = room.sweep(interface="eth0", options={**FAST, "allow_interface": "eth0"})
    answer["wall"] = time.monotonic() - started
    assert "report" in answer, answer
    return answer


def _by_ip(swept: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["details"]["ip"]: f for f in swept["report"]["findings"]}


def _codes(finding: dict[str, Any]) -> set[str]:
    return {r["code"] for r in finding["reasons"]}


@pytest.mark.parametrize(
    "fake", [f for f in FAKES if f.looks_like == "camera"], ids=lambda f: f.name
)
def test_every_fake_camera_is_found_with_its_reasons(swept: dict[str, Any], fake: Any) -> None:
    finding = _by_ip(swept).get(fake.ip)
    assert finding is not None, f"{fake.name} was not found"
    assert finding["verdict"] == "camera_likely", finding
    assert set(fake.codes) <= _codes(finding), finding["reasons"]
    assert finding["ident"] == fake.mac
    assert finding["label"].startswith("camera: ")


@pytest.mark.parametrize(
    "fake", [f for f in FAKES if f.looks_like and f.looks_like != "camera"], ids=lambda f: f.name
)
def test_no_ordinary_device_is_flagged_as_a_camera(swept: dict[str, Any], fake: Any) -> None:
    finding = _by_ip(swept)[fake.ip]
    assert finding["verdict"] == "unlikely", finding
    assert finding["details"]["looks_like"] == fake.looks_like
    assert finding["label"].startswith(f"{fake.looks_like}: ")
    assert set(fake.codes) <= _codes(finding), finding["reasons"]


def test_the_router_is_the_router(swept: dict[str, Any]) -> None:
    router = _by_ip(swept)[ROUTER[0]]
    assert router["verdict"] == "unlikely"
    assert router["label"].startswith("router: ")


def test_reasons_read_as_plain_english(swept: dict[str, Any]) -> None:
    texts = {ip: " | ".join(r["text"] for r in f["reasons"]) for ip, f in _by_ip(swept).items()}
    assert "answers RTSP on 554 with a video stream (DESCRIBE: m=video H264)" in texts["10.77.0.10"]
    assert "its network card is made by Hangzhou Hikvision" in texts["10.77.0.10"]
    assert "announces itself as an ONVIF NetworkVideoTransmitter" in texts["10.77.0.11"]
    assert "camera UID VSTC-123456-ABCDE" in texts["10.77.0.14"]
    assert "DS-2CD2042WD-I" in texts["10.77.0.13"]
    assert "_ipp._tcp 'Brother HL-L2350DW series'" in texts["10.77.0.20"]
    assert "Google Home Mini" in texts["10.77.0.22"]


def test_devices_found_by_arp_are_all_there(swept: dict[str, Any]) -> None:
    found = set(_by_ip(swept))
    assert {f.ip for f in FAKES} | {ROUTER[0]} <= found
    assert "10.77.0.1" not in found  # the sweeper itself
    assert swept["report"]["parameters"]["multicast"] is True
    assert swept["report"]["notes"][0].startswith(f"asked 253 addresses of {NETWORK}")


def test_hostile_answers_leave_notes_not_crashes(swept: dict[str, Any]) -> None:
    notes = "\n".join(swept["report"]["notes"])
    assert "10.77.0.30: ssdp: an SSDP answer that does not parse" in notes
    assert "10.77.0.30 UPnP description: UPnP description refused" in notes
    assert "XML bomb" in notes
    assert "10.77.0.30:554 rtsp: headers longer than 16384 bytes: answer cut off" in notes
    assert "mDNS: a service name that is not valid was ignored" in notes
    assert "never contacted (192.0.2.10, 192.0.2.77)" in notes
    assert "10.77.0.31:554 rtsp: answer incomplete after 1 s" in notes
    hostile = _by_ip(swept)["10.77.0.30"]
    assert "rtsp_port_silent" in _codes(hostile)


def test_hostile_discovery_answers_give_reasons(swept: dict[str, Any]) -> None:
    notes = "\n".join(swept["report"]["notes"])
    assert "10.77.0.30: ws-discovery: WS-Discovery answer refused: it declares a DTD" in notes
    assert "10.77.0.30: sadp: SADP answer refused: it declares a DTD" in notes
    assert "10.77.0.30: dahua: a Dahua discovery answer nested too deeply" in notes
    assert "failed unexpectedly" not in notes
    assert "mDNS: a service type that cannot be browsed was ignored ('_-a._tcp" in notes
    assert "mDNS: time ran out before" in notes  # the ghosts, not the whole budget


def test_a_slow_page_costs_no_more_than_its_probe(swept: dict[str, Any]) -> None:
    hostile = _by_ip(swept)["10.77.0.30"]
    assert 8080 in hostile["details"]["open_ports"]
    assert swept["report"]["parameters"]["elapsed"] < 15


def test_nothing_from_the_network_reaches_a_report_raw(swept: dict[str, Any]) -> None:
    for form in (swept["text"], str(swept["report"])):
        bad = {c for c in form if unicodedata.category(c) in ("Cc", "Cf") and c not in "\n"}
        assert not bad, bad
    assert "<img src=x" not in swept["html"]
    assert "<script>alert" not in swept["html"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in swept["html"]


def test_the_sweep_is_quick_on_a_small_room(swept: dict[str, Any]) -> None:
    assert swept["report"]["parameters"]["elapsed"] < 15
    sent = swept["report"]["parameters"]["sent"]
    assert sent["arp"] == 253


def test_the_time_budget_is_kept(room: Room) -> None:
    budget = 2.5
    answer = room.sweep(
        network=NETWORK,
        options={"rate": 100, "listen": 5.0, "probe_timeout": 2.0, "time_budget": budget},
    )
    report = answer["report"]
    assert report["parameters"]["elapsed"] <= budget + 0.75
    assert "time budget" in " ".join(report["notes"])


def test_without_raw_sockets_the_kernel_finds_the_devices(room: Room) -> None:
    answer = room.sweep(network=NETWORK, without_raw_sockets=True, options=FAST)
    report = answer["report"]
    assert report["parameters"]["raw_sockets"] is False
    assert "arp" not in report["parameters"]["sent"]
    assert any(note.startswith("no raw sockets") for note in report["notes"])
    found = {f["details"]["ip"]: f for f in report["findings"]}
    for fake in FAKES:
        assert found[fake.ip]["ident"] == fake.mac
        if fake.looks_like == "camera":
            assert found[fake.ip]["verdict"] == "camera_likely", fake.name


def test_the_default_route_interface_and_loopback_are_refused(room: Room) -> None:
    refused = room.sweep(interface="eth0")
    assert refused["type"] == "SweepRefused"
    assert "default route" in refused["refused"]
    assert "loopback" in room.sweep(interface="lo")["refused"]
    assert "not on any network" in room.sweep(network="192.168.77.0/24")["refused"]
    assert "wider than /24" in room.sweep(network="10.77.0.0/16")["refused"]

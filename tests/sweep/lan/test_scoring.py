"""From clues to a verdict: web fingerprints, network card makers, mDNS advertisements,
and the score and label they add up to."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from reclaim.sweep.lan import mdns, oui
from reclaim.sweep.lan.device import Device
from reclaim.sweep.lan.evidence import CLUES, Evidence
from reclaim.sweep.lan.score import assess
from reclaim.sweep.lan.text import clean, was_dirty
from reclaim.sweep.lan.web import Page, _same_host_path, fingerprint
from reclaim.sweep.report import Verdict

IP = ipaddress.IPv4Address("10.77.0.9")


def _page(title: str = "", server: str = "", body: str = "", realm: str = "") -> Page:
    headers = {k: v for k, v in (("server", server), ("www-authenticate", realm)) if v}
    html = f"<html><head><title>{title}</title></head><body>{body}</body></html>"
    return Page(200, headers, html.encode())


@pytest.mark.parametrize(
    ("page", "code"),
    [
        (_page(body="<script>location='/doc/page/login.asp?_'</script>"), "http_camera_firmware"),
        (_page(server="App-webs/"), "http_camera_firmware"),
        (_page(title="WEB SERVICE"), "http_camera_firmware"),
        (_page(title="NETSurveillance WEB", server="uc-httpd 1.0.0"), "http_camera_firmware"),
        (_page(title="Login", realm='Digest realm="IP Camera"'), "http_camera_firmware"),
        (_page(title="NVR Login"), "http_camera_firmware"),
        (_page(title="Welcome", server="GoAhead-Webs"), "http_embedded_server"),
        (_page(title="Brother HL-L2350DW series"), "printer_service"),
        (_page(title="ipTIME A2004NS-MU"), "router"),
        (_page(title="My blog", server="nginx"), "http_page"),
    ],
)
def test_web_fingerprints(page: Page, code: str) -> None:
    found = fingerprint(page, 80)
    assert found[0].code == code
    assert "HTTP 80" in found[0].text


def test_a_hostile_title_is_cleaned() -> None:
    [found] = fingerprint(_page(title="\x1b[31m<b>x</b>\u202e" + "y" * 300), 8080, tls=True)
    assert "\x1b" not in found.text
    assert "\u202e" not in found.text
    assert len(found.facts["http_title"]) <= 80
    assert "HTTPS 8080" in found.text


def test_redirects_stay_on_the_device() -> None:
    assert _same_host_path("/login.htm", IP) == "/login.htm"
    assert _same_host_path("http://10.77.0.9:8080/a?b=c", IP) == "/a?b=c"
    assert _same_host_path("http://10.77.0.10/a", IP) is None
    assert _same_host_path("//evil.example/a", IP) is None
    assert _same_host_path("javascript:alert(1)", IP) is None


@pytest.mark.parametrize(
    ("mac", "code", "maker"),
    [
        ("44:47:cc:12:34:56", "oui_camera_vendor", "Hikvision"),
        ("08:ed:ed:12:34:56", "oui_camera_vendor", "Dahua"),
        ("ec:71:db:12:34:56", "oui_camera_vendor", "Reolink"),
        ("24:6f:28:12:34:56", "oui_iot_module", "Espressif"),
        ("d4:a6:51:12:34:56", "oui_iot_module", "Tuya"),
        ("ac:84:c6:12:34:56", "oui_mixed_vendor", "TP-LINK"),
        ("3c:2a:f4:12:34:56", "oui_ordinary_vendor", "Brother"),
        ("ac:ed:5c:12:34:56", "oui_ordinary_vendor", "Intel"),
    ],
)
def test_network_card_makers(mac: str, code: str, maker: str) -> None:
    if not oui.table_available():
        pytest.skip("Debian's ieee-data is not installed")
    [found] = oui.vendor_evidence(mac)
    assert found.code == code
    assert maker.lower() in found.text.lower()
    assert found.text.startswith("its network card is made by")


def test_randomised_and_unknown_addresses() -> None:
    [found] = oui.vendor_evidence("da:a1:19:00:00:21")
    assert found.code == "mac_randomised"
    assert oui.is_randomised("02:00:00:00:00:01")
    assert not oui.is_randomised("44:47:cc:00:00:01")


def test_the_oui_table_is_read_most_specific_first(tmp_path: Path) -> None:
    (tmp_path / "oui.csv").write_text(
        "Registry,Assignment,Organization Name,Address\nMA-L,AABBCC,Big Co,x\n"
    )
    (tmp_path / "mam.csv").write_text(
        "Registry,Assignment,Organization Name,Address\nMA-M,AABBCC1,Hikvision Part,x\n"
    )
    assert oui.maker("aa:bb:cc:10:00:00", tmp_path) == "Hikvision Part"
    assert oui.maker("aa:bb:cc:20:00:00", tmp_path) == "Big Co"
    assert oui.maker("aa:bb:cd:20:00:00", tmp_path) is None


def test_mdns_advertisements() -> None:
    camera = mdns._evidence("_hap._tcp.local.", "Front door", {"homekit_category": "17"})
    assert camera.code == "homekit_camera"
    assert "IP camera" in camera.text
    assert (
        mdns._evidence("_hap._tcp.local.", "Lamp", {"homekit_category": "5"}).code == "mdns_service"
    )
    speaker = mdns._evidence("_googlecast._tcp.local.", "Kitchen", {"model": "Google Home Mini"})
    assert speaker.code == "media_service"
    assert "Google Home Mini" in speaker.text
    assert mdns._evidence("_rtsp._tcp.local.", "Cam", {}).code == "mdns_rtsp"
    assert mdns._evidence("_workstation._tcp.local.", "pc", {}).code == "mdns_service"


def test_service_types_zeroconf_cannot_browse_are_dropped_with_a_note() -> None:
    """One refused type used to stop the whole browser: every mDNS clue of the sweep lost."""
    found = mdns.Found()
    heard = ["_ok._tcp.local.", "_-a._tcp.local.", "_a--b._tcp.local.", "_._tcp.local."]
    assert mdns._browsable([*heard, "_x._tcp.evil.", "_y._udp.local."], found) == [
        "_ok._tcp.local.",
        "_y._udp.local.",
    ]
    assert len(found.notes) == 4
    assert all(n.startswith("mDNS: a service type that cannot be browsed") for n in found.notes)


def _device(*codes: str, **facts: object) -> Device:
    evidence = [Evidence(code, f"text of {code}", dict(facts)) for code in codes]
    return Device(IP, "44:47:cc:00:00:09", {"arp"}, {554}, evidence)


def test_one_strong_clue_makes_a_likely_camera() -> None:
    finding = assess(_device("rtsp_video", "rtsp_video", "oui_camera_vendor", model="DS-2CD"))
    assert finding.verdict is Verdict.CAMERA_LIKELY
    assert finding.score == 1.0
    assert [r.code for r in finding.reasons] == ["rtsp_video", "oui_camera_vendor"]
    assert finding.label == "camera: DS-2CD"
    assert finding.ident == "44:47:cc:00:00:09"
    assert finding.details["open_ports"] == [554]


def test_a_camera_maker_alone_is_only_possible() -> None:
    finding = assess(_device("oui_camera_vendor", vendor="Hangzhou Hikvision"))
    assert finding.verdict is Verdict.POSSIBLE


def test_ordinary_devices_say_what_they_are() -> None:
    printer = assess(
        _device("printer_service", "http_embedded_server", "oui_ordinary_vendor", name="Brother HL")
    )
    assert printer.verdict is Verdict.UNLIKELY
    assert printer.label == "printer: Brother HL"
    router = assess(_device("oui_mixed_vendor"), gateway=IP)
    assert router.label.startswith("router:")
    assert assess(_device()).label == "unknown device: 10.77.0.9"
    assert assess(_device("rtsp_port_silent")).label.startswith("device with weak camera hints")


def test_negative_clues_cannot_hide_strong_ones() -> None:
    finding = assess(_device("pppp_uid", "media_service", "personal_device", "printer_service"))
    assert finding.score == pytest.approx(0.5)
    assert finding.verdict is Verdict.POSSIBLE


def test_clues_are_registered() -> None:
    with pytest.raises(KeyError, match="unregistered"):
        Evidence("rtsp_vidoe", "typo")
    assert all(-1 < c.weight <= 1 for c in CLUES.values())


def test_clean_text() -> None:
    assert clean("a\x1b[31mb\x07c\u202ed\n e") == "a [31mb c d e"
    assert clean(b"\xff\xfeok") == "\ufffd\ufffdok"
    assert len(clean("x" * 500, 50)) == 50
    assert was_dirty("a\x07b")
    assert not was_dirty("  plain  name ")

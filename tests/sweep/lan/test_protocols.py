"""Each protocol's parser against good answers and against garbage: garbage is a typed
:class:`Malformed` with a sentence for the report's notes, never a crash or a hang."""

from __future__ import annotations

import ipaddress
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from reclaim.sweep.lan import LanOptions, ssdp, vendor, wsd
from reclaim.sweep.lan.errors import Malformed, ProbeFailed
from reclaim.sweep.lan.gate import Gate
from reclaim.sweep.lan.pace import Deadline
from reclaim.sweep.lan.probes import SCAN_PORTS, port_evidence, probe_for, udp_messages
from reclaim.sweep.lan.rtsp import parse_sdp
from reclaim.sweep.lan.target import Target
from reclaim.sweep.lan.web import Page, fetch
from reclaim.sweep.lan.wire import Exchange, Head, content_length, parse_head
from tests.sweep.lan.fakes import BOMB, DEEP_JSON, SLOW_TITLES

# -- RTSP and the bounded reader ----------------------------------------------------------


def test_sdp_video_streams_and_codecs() -> None:
    sdp = parse_sdp(
        "v=0\r\ns=Session\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n"
        "m=video 0 RTP/AVP 26\r\nm=audio 0 RTP/AVP 0\r\n"
    )
    assert sdp.video == ("H265", "JPEG")
    assert sdp.audio == 1
    assert parse_sdp("v=0\r\nm=audio 0 RTP/AVP 0\r\n").video == ()
    assert parse_sdp("\x00\xff garbage").video == ()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def _feed(sock: socket.socket, chunks: Iterator[bytes], pause: float = 0.0) -> None:
    def run() -> None:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                time.sleep(pause)
        except OSError:
            pass

    threading.Thread(target=run, daemon=True).start()


def test_endless_headers_are_cut_off(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    _feed(theirs, (b"RTSP/1.0 200 OK\r\n" if i == 0 else b"X-A: %d\r\n" % i for i in range(10**6)))
    start = time.monotonic()
    with pytest.raises(Malformed, match="headers longer than"):
        Exchange(ours, 5).read_head()
    assert time.monotonic() - start < 2


def test_a_trickle_is_too_slow(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    _feed(theirs, (b"R" for _ in range(100)), pause=0.2)
    start = time.monotonic()
    with pytest.raises(Malformed, match="too slow"):
        Exchange(ours, 0.5).read_head()
    assert time.monotonic() - start < 1.5


def test_silence_and_hang_ups_are_no_answer(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    with pytest.raises(ProbeFailed, match="no answer"):
        Exchange(ours, 0.2).read_head()
    theirs.close()
    with pytest.raises(ProbeFailed, match="closed"):
        Exchange(ours, 0.2).read_head()


def test_a_good_answer_with_its_body(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    theirs.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nhel")
    _feed(theirs, iter([b"lo"]), pause=0.05)
    exchange = Exchange(ours, 1)
    head, rest = exchange.read_head()
    assert head.status == 200
    assert head.headers["cseq"] == "2"
    assert exchange.read_body(rest, 5, 100) == (b"hello", False)


@pytest.mark.parametrize(
    "head",
    [b"RTSP/1.0 200 OK\r\nno colon here", b"HTTP/1.1 200 OK\r\n" + b"A: b\r\n" * 150],
)
def test_broken_headers(head: bytes) -> None:
    with pytest.raises(Malformed):
        parse_head(head)


# -- SSDP and UPnP descriptions -----------------------------------------------------------

DESCRIPTION = (
    b'<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>'
    b"<deviceType>urn:schemas-upnp-org:device:{type}:1</deviceType>"
    b"<friendlyName>Lobby</friendlyName><manufacturer>{maker}</manufacturer>"
    b"<modelName>{model}</modelName></device></root>"
)


def _description(type_: str, maker: str, model: str) -> bytes:
    return (
        DESCRIPTION.replace(b"{type}", type_.encode())
        .replace(b"{maker}", maker.encode())
        .replace(b"{model}", model.encode())
    )


def test_ssdp_answers() -> None:
    [plain] = ssdp.parse_answer(
        b"HTTP/1.1 200 OK\r\nLOCATION: http://10.77.0.9:49152/d.xml\r\n"
        b"SERVER: Linux UPnP/1.0\r\n\r\n"
    )
    assert plain.code == "upnp_device"
    assert plain.facts["upnp_location"] == "http://10.77.0.9:49152/d.xml"
    [camera] = ssdp.parse_answer(
        b"HTTP/1.1 200 OK\r\nSERVER: Linux/2.6 UPnP/1.0 IPCamera/1.0\r\n\r\n"
    )
    assert camera.code == "upnp_camera"
    for garbage in (
        b"\x00\xff\xfe",
        b"HTTP/1.1 200 OK\r\n\x00\x01 junk\r\n\r\n",
        b"HTTP/1.1 " + b"x" * 9000,
    ):
        with pytest.raises(Malformed, match="SSDP"):
            ssdp.parse_answer(garbage)


def test_upnp_descriptions_say_what_a_device_is() -> None:
    [camera] = ssdp.read_description(_description("Basic", "Hikvision", "DS-2CD2042WD"))
    assert camera.code == "upnp_camera"
    assert "DS-2CD2042WD" in camera.text
    [printer] = ssdp.read_description(_description("Printer", "Brother", "HL-L2350DW"))
    assert printer.code == "printer_service"
    [tv] = ssdp.read_description(_description("MediaRenderer", "Samsung", "UE55"))
    assert tv.code == "media_service"
    [router] = ssdp.read_description(_description("InternetGatewayDevice", "ipTIME", "A2004"))
    assert router.code == "router"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (BOMB, "XML bomb"),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><root>&x;</root>',
            "XML bomb",
        ),
        (b"<root><device>" + b"<a>x</a>" * 20000 + b"</device></root>", "larger than"),
        (b"<root><device><unclosed></device>", "not well-formed"),
        (b"<other/>", "without a root device"),
    ],
)
def test_hostile_descriptions_are_refused(data: bytes, says: str) -> None:
    with pytest.raises(Malformed, match=says):
        ssdp.read_description(data)


# -- WS-Discovery, SADP, Dahua, PPPP ------------------------------------------------------

MATCH = (
    b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Body><d:ProbeMatches>'
    b"<d:ProbeMatch><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>"
    b"onvif://www.onvif.org/hardware/DS-2CD2042WD onvif://www.onvif.org/name/HIK%20Cam"
    b"</d:Scopes></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
)


def test_ws_discovery() -> None:
    [nvt] = wsd.parse_answer(MATCH)
    assert nvt.code == "onvif_nvt"
    assert nvt.facts == {"model": "DS-2CD2042WD", "name": "HIK Cam"}
    assert wsd.parse_answer(wsd.probe_message()) == []  # our own probe, looped back
    with pytest.raises(Malformed, match="without a NetworkVideoTransmitter"):
        wsd.parse_answer(MATCH.replace(b"dn:NetworkVideoTransmitter", b"wprt:PrintDeviceType"))
    with pytest.raises(Malformed):
        wsd.parse_answer(BOMB)


def test_sadp() -> None:
    answer = (
        b"<?xml version='1.0'?><ProbeMatch><DeviceDescription>DS-2CD2042WD-I</DeviceDescription>"
        b"<DeviceSN>SN123</DeviceSN><SoftwareVersion>V5.4</SoftwareVersion></ProbeMatch>"
    )
    [found] = vendor.sadp_parse(answer)
    assert found.code == "sadp_answer"
    assert found.facts["model"] == "DS-2CD2042WD-I"
    assert vendor.sadp_parse(vendor.sadp_probe()) == []
    with pytest.raises(Malformed):
        vendor.sadp_parse(b"<ProbeMatch><unclosed></ProbeMatch>")


def _dhip(body: bytes) -> bytes:
    size = struct.pack("<I", len(body))
    return b"\x20\x00\x00\x00DHIP" + b"\x00" * 8 + size + b"\x00" * 4 + size + b"\x00" * 4 + body


def test_dahua() -> None:
    probe = vendor.dhip_probe()
    assert probe[4:8] == b"DHIP"
    assert struct.unpack("<I", probe[16:20])[0] == len(probe) - 32
    assert vendor.dhip_parse(probe) == []
    info = {"params": {"deviceInfo": {"DeviceType": "IPC-HFW1230S", "Vendor": "Dahua"}}}
    [found] = vendor.dhip_parse(_dhip(json.dumps(info).encode()))
    assert found.code == "dahua_discovery"
    assert found.facts == {"model": "IPC-HFW1230S", "manufacturer": "Dahua"}
    for garbage in (_dhip(b"{not json"), _dhip(b"[1, 2]"), _dhip(b'{"params": 3}'), b"DHIP"):
        with pytest.raises(Malformed):
            vendor.dhip_parse(garbage)


def test_pppp() -> None:
    punch = b"\xf1\x41\x00\x14VSTC\x00\x00\x00\x00" + struct.pack(">I", 42) + b"ABCDE\x00\x00\x00"
    [found] = vendor.pppp_parse(punch)
    assert found.facts["uid"] == "VSTC-000042-ABCDE"
    assert "VSTC-000042-ABCDE" in found.text
    assert vendor.pppp_parse(vendor.PPPP_LAN_SEARCH) == []
    with pytest.raises(Malformed, match="UID"):
        vendor.pppp_parse(b"\xf1\x41\x00\x14<scrip>\x00" + b"\x00" * 4 + b"\x1b[2J\x00\x00\x00\x00")
    with pytest.raises(Malformed, match="magic"):
        vendor.pppp_parse(b"\x00\x41\x00\x14")


def test_answers_are_routed_by_their_content() -> None:
    names = {
        MATCH: "ws-discovery",
        b"<?xml version='1.0'?><ProbeMatch/>": "sadp",
        b"HTTP/1.1 200 OK\r\n\r\n": "ssdp",
        _dhip(b"{}"): "dahua",
        b"\xf1\x41\x00\x00": "pppp",
    }
    for data, name in names.items():
        probe = probe_for(data)
        assert probe is not None
        assert probe.name == name
    assert probe_for(b"\x00\x00junk") is None


def test_every_device_gets_every_udp_question() -> None:
    ports = [port for port, _ in udp_messages(ipaddress.IPv4Address("10.77.0.9"))]
    assert sorted(ports) == [1900, 3702, 32100, 32108, 37020, 37810]
    assert {554, 8554, 80, 443, 631, 9100, 34567, 37777} <= set(SCAN_PORTS)


def test_telling_ports() -> None:
    codes = {e.code: e.text for e in port_evidence([631, 9100, 554, 34567])}
    assert codes["printer_service"] == "accepts print jobs (open: 631 IPP, 9100 JetDirect)"
    assert "Xiongmai" in codes["port_dvrip"]
    assert port_evidence([22, 554]) == []


# -- hostile answers found in review --------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: \xb2",  # latin-1 "²": isdigit(), yet not int()
        b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000,  # past int()'s 4,300 digits
    ],
)
def test_a_content_length_that_is_not_a_plain_number(head: bytes) -> None:
    with pytest.raises(Malformed, match="Content-Length that is not a number"):
        content_length(parse_head(head))


@pytest.mark.parametrize("status", ["HTTP/1.1 \u00b2\u00b2\u00b2 OK", "RTSP/1.0 " + "2" * 5000])
def test_a_status_that_is_not_a_plain_number(status: str) -> None:
    with pytest.raises(Malformed, match="without a status code"):
        _ = Head(status, {}).status


def test_deeply_nested_dahua_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(Malformed, match="nested too deeply"):
        vendor.dhip_parse(_dhip(DEEP_JSON))


def test_a_page_of_unclosed_titles_is_quick() -> None:
    start = time.monotonic()
    assert Page(200, {}, SLOW_TITLES).title == ""
    assert Page(200, {}, b"<TITLE>" + b"<title" * 10000).title == ""
    assert time.monotonic() - start < 0.5  # a backtracking pattern took 8 s (GIL held)
    assert Page(200, {}, b"<html><TITLE lang=en>IP &amp; Cam</Title>").title == "IP & Cam"
    assert Page(200, {}, b"<title>a</title><title>b</title>").title == "a"
    assert Page(200, {}, b"<title>never closed").title == ""


@pytest.mark.parametrize("path", ["/a b", "/a\rHost: x", "/\x00", "x/y", "/caf\u00e9", ""])
def test_a_path_from_a_device_must_fit_a_request_line(path: str) -> None:
    target = Target(
        network=ipaddress.IPv4Network("10.77.0.0/24"),
        interface="eth0",
        source=ipaddress.IPv4Address("10.77.0.1"),
        link=ipaddress.IPv4Network("10.77.0.0/24"),
    )
    gate = Gate(target, LanOptions(), Deadline(0))  # spent: no socket could be opened anyway
    with pytest.raises(Malformed, match="not a plain request target"):
        fetch(gate, ipaddress.IPv4Address("10.77.0.9"), 80, path, tls=False)
    assert gate.sent == {}

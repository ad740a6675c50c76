"""Fake devices for the LAN sweep tests, each run in its own network namespace:

    ip netns exec NS python -m tests.sweep.lan.fakes KIND IP [SWEEPER_IP SWEEPER_MAC]

A fake starts its servers, prints ``ready`` and serves until SIGTERM. Cameras: an RTSP
camera (SDP with m=video H264), an ONVIF WS-Discovery responder, an mDNS camera
(``_rtsp._tcp`` and an RTSP server that wants a password), a Hikvision SADP responder, a
Dahua DHIP responder, a PPPP camera and a camera login page. Ordinary devices: a printer
(IPP, JetDirect, ``_ipp._tcp``, a web page), a phone (``_companion-link._tcp`` only) and a
smart speaker (``_googlecast._tcp``, HTTP 8008). Hostile ones: garbage SSDP, an XML bomb,
endless RTSP headers and poisonous mDNS names (``hostile``); a tarpit that trickles a byte
at a time; the canary, which only counts what the sweeper sends it; and a watch on the
router's bridge that counts what the sweeper sends outside a network.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable

SDP = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=Media Presentation\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n"
    "m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
)
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><root><device><modelName>&lol9;</modelName></device></root>"
)
CONTROL_NAME = b"\x1b[31mEvil\x07<script>alert(1)</script>"
MARKUP_NAME = "<img src=x onerror=alert(1)>\u202e카메라".encode()
HOSTILE_TXT = "md=\x1b[2J<b>Evil</b>\u202e".encode()
HOSTILE_TITLE = b"<title>\x1b[31m<script>alert(1)</script>\xe2\x80\xae</title>"
SLOW_TITLES = b"<title>" * 9000
"""A page a backtracking title pattern needs seconds (holding the GIL) to give up on."""
DEEP_JSON = b"[" * 16000
"""Nesting that makes Python's JSON parser raise RecursionError, not ValueError."""
XML_WITH_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]>'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&e;</s:Body>'
    b"</s:Envelope>"
)
SADP_WITH_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><ProbeMatch>&e;</ProbeMatch>'
)
BAD_SERVICE_TYPE = b"_-a"
"""A service type zeroconf refuses to browse (a name may not start with '-')."""
GHOSTS = 40
"""Services advertised by name only (no SRV, TXT or address): each costs a resolver a
full request timeout."""


# -- small servers ------------------------------------------------------------------------


def tcp(ip: str, port: int, handle: Callable[[socket.socket], None]) -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((ip, port))
    server.listen(16)

    def accept() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=_serve, args=(conn, handle), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def _serve(conn: socket.socket, handle: Callable[[socket.socket], None]) -> None:
    try:
        conn.settimeout(10)
        handle(conn)
    except OSError:
        pass
    finally:
        conn.close()


def read_request(conn: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")


def udp(
    ip: str, port: int, answer: Callable[[bytes], list[bytes]], group: str | None = None
) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("", port))
    if group:
        membership = socket.inet_aton(group) + socket.inet_aton(ip)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)

    def loop() -> None:
        while True:
            data, source = sock.recvfrom(65535)
            for reply in answer(data):
                sock.sendto(reply, source)

    threading.Thread(target=loop, daemon=True).start()


def http(ip: str, port: int, routes: dict[str, tuple[str, dict[str, str], bytes]]) -> None:
    def handle(conn: socket.socket) -> None:
        request = read_request(conn)
        path = request.split(" ")[1] if " " in request else "/"
        status, headers, body = routes.get(path, ("404 Not Found", {}, b"not here"))
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall(head.encode() + b"\r\n" + body)

    tcp(ip, port, handle)


def rtsp(ip: str, port: int, *, locked: bool) -> None:
    def handle(conn: socket.socket) -> None:
        while True:
            request = read_request(conn)
            if not request:
                return
            cseq = next(
                (
                    ln.split(":", 1)[1].strip()
                    for ln in request.splitlines()
                    if ln.lower().startswith("cseq")
                ),
                "1",
            )
            if request.startswith("OPTIONS"):
                conn.sendall(
                    f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nServer: Hikvision-Webs RTSP\r\n"
                    "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n".encode()
                )
            elif locked:
                conn.sendall(
                    f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n"
                    'WWW-Authenticate: Digest realm="IP Camera", nonce="abc"\r\n\r\n'.encode()
                )
            else:
                conn.sendall(
                    f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n"
                    f"Content-Length: {len(SDP)}\r\n\r\n{SDP}".encode()
                )

    tcp(ip, port, handle)


def zeroconf(ip: str, services: list[tuple[str, str, int, dict[str, str]]]) -> object:
    from zeroconf import IPVersion, ServiceInfo, Zeroconf

    zc = Zeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
    for service_type, name, port, properties in services:
        zc.register_service(
            ServiceInfo(
                service_type,
                f"{name}.{service_type}",
                port=port,
                properties=properties,
                server=f"{name.replace(' ', '-').replace(chr(39), '')}.local.",
                parsed_addresses=[ip],
            ),
            allow_name_change=True,
        )
    return zc


# -- the devices --------------------------------------------------------------------------


def rtsp_camera(ip: str) -> None:
    rtsp(ip, 554, locked=False)


def onvif_camera(ip: str) -> None:
    def answer(data: bytes) -> list[bytes]:
        if b"NetworkVideoTransmitter" not in data or b"Probe>" not in data:
            return []
        return [
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" '
            b'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
            b'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
            b'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><SOAP-ENV:Body>'
            b"<d:ProbeMatches><d:ProbeMatch><d:Types>dn:NetworkVideoTransmitter tds:Device"
            b"</d:Types><d:Scopes>onvif://www.onvif.org/type/video_encoder "
            b"onvif://www.onvif.org/hardware/IPC-HDW2431T onvif://www.onvif.org/name/Dahua"
            b"</d:Scopes><d:XAddrs>http://" + ip.encode() + b"/onvif/device_service"
            b"</d:XAddrs></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"
        ]

    udp(ip, 3702, answer, group="239.255.255.250")


def mdns_camera(ip: str) -> object:
    rtsp(ip, 8554, locked=True)
    return zeroconf(ip, [("_rtsp._tcp.local.", "Baby Cam", 8554, {"path": "/live"})])


def sadp_camera(ip: str) -> None:
    def answer(data: bytes) -> list[bytes]:
        if b"<Types>inquiry</Types>" not in data:
            return []
        return [
            b'<?xml version="1.0" encoding="UTF-8"?><ProbeMatch><Uuid>X</Uuid>'
            b"<Types>inquiry</Types><DeviceType>138153</DeviceType>"
            b"<DeviceDescription>DS-2CD2042WD-I</DeviceDescription>"
            b"<DeviceSN>DS-2CD2042WD-I20160101AAWR123456789</DeviceSN>"
            b"<IPv4Address>" + ip.encode() + b"</IPv4Address>"
            b"<SoftwareVersion>V5.4.5build 170123</SoftwareVersion></ProbeMatch>"
        ]

    udp(ip, 37020, answer, group="239.255.255.250")


def dahua_camera(ip: str) -> None:
    def answer(data: bytes) -> list[bytes]:
        if b"DHDiscover.search" not in data:
            return []
        body = json.dumps(
            {
                "mac": "9c:8e:cd:00:00:16",
                "method": "client.notifyDevInfo",
                "params": {
                    "deviceInfo": {
                        "DeviceType": "IP2M-841",
                        "Vendor": "Amcrest",
                        "SerialNo": "AMC0123456789",
                    }
                },
            }
        ).encode()
        size = struct.pack("<I", len(body))
        return [
            b"\x20\x00\x00\x00DHIP" + b"\x00" * 8 + size + b"\x00" * 4 + size + b"\x00" * 4 + body
        ]

    udp(ip, 37810, answer)


def pppp_camera(ip: str) -> None:
    def answer(data: bytes) -> list[bytes]:
        if data[:4] != b"\xf1\x30\x00\x00":
            return []
        return [
            b"\xf1\x41\x00\x14VSTC\x00\x00\x00\x00"
            + struct.pack(">I", 123456)
            + b"ABCDE\x00\x00\x00"
        ]

    udp(ip, 32108, answer)


def http_camera(ip: str) -> None:
    page = b"<html><head><title>IPCAM</title></head><body><form>user/password</form></body></html>"
    http(
        ip,
        80,
        {
            "/": ("302 Found", {"Location": "/login.htm", "Server": "GoAhead-Webs"}, b""),
            "/login.htm": ("200 OK", {"Server": "GoAhead-Webs", "Content-Type": "text/html"}, page),
        },
    )


def printer(ip: str) -> object:
    page = b"<html><head><title>Brother HL-L2350DW series</title></head></html>"
    http(ip, 80, {"/": ("200 OK", {"Server": "debut/1.30"}, page)})
    http(ip, 631, {"/": ("200 OK", {"Server": "CUPS/2.4 IPP/2.1"}, b"<title>Home - CUPS</title>")})
    tcp(ip, 9100, lambda conn: None)
    return zeroconf(
        ip,
        [
            (
                "_ipp._tcp.local.",
                "Brother HL-L2350DW series",
                631,
                {"ty": "Brother HL-L2350DW series", "rp": "ipp/print"},
            )
        ],
    )


def phone(ip: str) -> object:
    return zeroconf(
        ip, [("_companion-link._tcp.local.", "Ji-woo's iPhone", 49152, {"rpVr": "195.2"})]
    )


def speaker(ip: str) -> object:
    http(ip, 8008, {"/": ("404 Not Found", {}, b"")})
    tcp(ip, 8009, lambda conn: None)
    return zeroconf(
        ip,
        [
            (
                "_googlecast._tcp.local.",
                "Google-Home-Mini-1a2b",
                8009,
                {"md": "Google Home Mini", "fn": "Kitchen speaker"},
            )
        ],
    )


def hostile(ip: str) -> None:
    def ssdp(data: bytes) -> list[bytes]:
        if not data.startswith(b"M-SEARCH"):
            return []
        return [
            b"HTTP/1.1 200 OK\r\n\x00\xff\xfe garbage \x1b[2J\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nLOCATION: http://192.0.2.10/desc.xml\r\nSERVER: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nLOCATION: http://"
            + ip.encode()
            + b":49152/bomb.xml\r\nSERVER: Linux UPnP/1.0\r\nST: upnp:rootdevice\r\n\r\n",
        ]

    def endless(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n")
        for i in range(200_000):
            conn.sendall(f"X-Filler-{i}: {'y' * 50}\r\n".encode())

    def dahua(data: bytes) -> list[bytes]:
        if b"DHDiscover.search" not in data:
            return []
        size = struct.pack("<I", len(DEEP_JSON))
        return [
            b"\x20\x00\x00\x00DHIP"
            + b"\x00" * 8
            + size
            + b"\x00" * 4
            + size
            + b"\x00" * 4
            + DEEP_JSON
        ]

    udp(ip, 1900, ssdp, group="239.255.255.250")
    udp(ip, 3702, lambda data: [XML_WITH_ENTITY] if b"Probe>" in data else [])
    udp(ip, 37020, lambda data: [SADP_WITH_ENTITY] if b"inquiry" in data else [])
    udp(ip, 37810, dahua)
    http(ip, 80, {"/": ("200 OK", {"Server": "\x07evil"}, b"<html><head>" + HOSTILE_TITLE)})
    http(ip, 8080, {"/": ("200 OK", {"Content-Type": "text/html"}, SLOW_TITLES)})
    http(ip, 49152, {"/bomb.xml": ("200 OK", {"Content-Type": "text/xml"}, BOMB)})
    tcp(ip, 554, endless)
    threading.Thread(target=_poison_mdns, args=(ip,), daemon=True).start()


def _name(*labels: bytes) -> bytes:
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


def _rr(name: bytes, rtype: int, rclass: int, data: bytes) -> bytes:
    return name + struct.pack(">HHIH", rtype, rclass, 120, len(data)) + data


def _poison_mdns(ip: str) -> None:
    """Unsolicited mDNS answers: a name with control characters (zeroconf refuses it), one
    pointing outside the network, one with markup, a bidi override and a terminal escape in
    its TXT record; then a compression loop, a truncated packet and an oversized label; and
    a service type zeroconf cannot browse, with many services that never resolve."""
    ptr = _name(b"_rtsp", b"_tcp", b"local")
    records = []
    for label, target, address in (
        (CONTROL_NAME, b"evil", ip),
        (b"Away cam", b"away", "192.0.2.77"),
        (MARKUP_NAME, b"marked", ip),
    ):
        instance = _name(label, b"_rtsp", b"_tcp", b"local")
        host = _name(target, b"local")
        records += [
            _rr(ptr, 12, 1, instance),
            _rr(instance, 33, 0x8001, struct.pack(">HHH", 0, 0, 554) + host),
            _rr(instance, 16, 0x8001, bytes([len(HOSTILE_TXT)]) + HOSTILE_TXT),
            _rr(host, 1, 0x8001, socket.inet_aton(address)),
        ]
    good = struct.pack(">HHHHHH", 0, 0x8400, 0, len(records), 0, 0) + b"".join(records)
    enumeration = _name(b"_services", b"_dns-sd", b"_udp", b"local")
    http_ptr = _name(b"_http", b"_tcp", b"local")
    odd = [_rr(enumeration, 12, 1, _name(BAD_SERVICE_TYPE, b"_tcp", b"local"))] + [
        _rr(http_ptr, 12, 1, _name(b"Ghost %d" % n, b"_http", b"_tcp", b"local"))
        for n in range(GHOSTS)
    ]
    ghosts = struct.pack(">HHHHHH", 0, 0x8400, 0, len(odd), 0, 0) + b"".join(odd)
    loop = struct.pack(">HHHHHH", 0, 0x8400, 0, 1, 0, 0) + b"\xc0\x0c" + b"\x00" * 10
    truncated = good[: len(good) // 2]
    long_label = struct.pack(">HHHHHH", 0, 0x8400, 0, 1, 0, 0) + b"\x7f" + b"a" * 127 + b"\x00"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((ip, 5353))
    while True:
        for packet in (loop, truncated, long_label, good, ghosts):
            sock.sendto(packet, ("224.0.0.251", 5353))
        time.sleep(0.25)


def tarpit(ip: str) -> None:
    def trickle(conn: socket.socket) -> None:
        for _ in range(120):
            conn.sendall(b"R")
            time.sleep(0.5)

    for port in (554, 80, 8080, 443):
        tcp(ip, port, trickle)


# -- the canary ---------------------------------------------------------------------------

COUNTS = {"arp_for_canary": 0, "ip_from_sweeper": 0, "unicast_to_canary": 0, "arp_for_others": 0}


def canary(ip: str, sweeper_ip: str, sweeper_mac: str) -> None:
    """Count every frame the sweeper sends that reaches this namespace."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind(("eth0", 0))
    me, sweeper = socket.inet_aton(ip), socket.inet_aton(sweeper_ip)
    sweeper_hw = bytes.fromhex(sweeper_mac.replace(":", ""))
    with open("/sys/class/net/eth0/address") as f:
        my_hw = bytes.fromhex(f.read().strip().replace(":", ""))

    def loop() -> None:
        while True:
            frame = sock.recv(65535)
            if frame[6:12] != sweeper_hw:
                continue
            kind = frame[12:14]
            if kind == b"\x08\x06":
                key = "arp_for_canary" if frame[38:42] == me else "arp_for_others"
                COUNTS[key] += 1
            elif kind == b"\x08\x00" and frame[26:30] == sweeper:
                COUNTS["ip_from_sweeper"] += 1
            if frame[0:6] == my_hw:
                COUNTS["unicast_to_canary"] += 1

    threading.Thread(target=loop, daemon=True).start()


def watch(interface: str, network: str, sweeper_mac: str) -> None:
    """On the room's bridge (the router): count the sweeper's IP packets to addresses
    outside ``network``, whether routed through the router (its MAC, e.g. a DNS lookup or
    anything off the link) or flooded to everyone (broadcast, multicast)."""
    import ipaddress

    inside = ipaddress.IPv4Network(network)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind((interface, 0))
    sweeper_hw = bytes.fromhex(sweeper_mac.replace(":", ""))

    def loop() -> None:
        while True:
            frame, address = sock.recvfrom(65535)
            if frame[6:12] != sweeper_hw or address[2] == socket.PACKET_OUTGOING:
                continue
            if frame[12:14] == b"\x86\xdd":
                COUNTS["ipv6_from_sweeper"] += 1
            elif frame[12:14] == b"\x08\x00":
                COUNTS["ip_from_sweeper"] += 1
                if ipaddress.IPv4Address(frame[30:34]) not in inside:
                    COUNTS["ip_leaving_network"] += 1

    COUNTS.clear()
    COUNTS.update(ip_from_sweeper=0, ip_leaving_network=0, ipv6_from_sweeper=0)
    threading.Thread(target=loop, daemon=True).start()


DEVICES: dict[str, Callable[..., object]] = {
    f.__name__: f
    for f in (
        rtsp_camera,
        onvif_camera,
        mdns_camera,
        sadp_camera,
        dahua_camera,
        pppp_camera,
        http_camera,
        printer,
        phone,
        speaker,
        hostile,
        tarpit,
        canary,
        watch,
    )
}


def main() -> None:
    kind, *args = sys.argv[1:]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    keep = DEVICES[kind](*args)  # noqa: F841 -- a zeroconf instance must stay alive
    print("ready", flush=True)
    stop.wait()
    if kind in ("canary", "watch"):
        print(json.dumps(COUNTS), flush=True)
    os._exit(0)  # daemon threads block in accept()/recv(): no clean join wanted


if __name__ == "__main__":
    main()

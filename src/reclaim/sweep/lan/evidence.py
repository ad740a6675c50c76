"""What a probe saw, and what it is worth: every clue a LAN sweep can report, in one table.

A clue has a stable ``code`` (the report's ``Reason.code``), a weight, and, for clues that
point away from a camera, what the device looks like instead. Weights add up per device
(each code counted once), the positive part capped at 1, then the negative part applied
(see :mod:`.score`). The weights are judgement, written down so that they can be argued
with: **strong** clues (0.7 and up) are protocols that only cameras and video recorders
speak; **medium** ones (0.3 to 0.6) are what cameras usually do but other things can;
**weak** ones (below 0.3) only add to others. Negative clues say "this is a printer".

Probes create :class:`Evidence` with a code from :data:`CLUES`; any other code fails at
once (a typo must not silently weigh nothing). ``docs/sweep-lan.md`` lists every code
(a test checks).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Kind(enum.StrEnum):
    CAMERA = "camera"
    PRINTER = "printer"
    MEDIA = "speaker or TV"
    PERSONAL = "phone or computer"
    ROUTER = "router"


@dataclass(frozen=True, slots=True)
class Clue:
    code: str
    weight: float
    meaning: str
    looks_like: Kind | None = None


CLUES: dict[str, Clue] = {
    c.code: c
    for c in (
        # Strong: camera and recorder protocols.
        Clue(
            "rtsp_video",
            0.8,
            "answers RTSP and describes a video stream (SDP m=video)",
            Kind.CAMERA,
        ),
        Clue(
            "onvif_nvt", 0.8, "answers ONVIF WS-Discovery as a NetworkVideoTransmitter", Kind.CAMERA
        ),
        Clue(
            "pppp_uid",
            0.8,
            "answers the PPPP/CS2 P2P LAN search of cheap Wi-Fi cameras",
            Kind.CAMERA,
        ),
        Clue(
            "sadp_answer",
            0.8,
            "answers Hikvision's SADP discovery (cameras, recorders)",
            Kind.CAMERA,
        ),
        Clue(
            "dahua_discovery",
            0.8,
            "answers Dahua's DHIP discovery (cameras, recorders)",
            Kind.CAMERA,
        ),
        Clue(
            "homekit_camera",
            0.8,
            "a HomeKit accessory of the camera or doorbell category",
            Kind.CAMERA,
        ),
        Clue(
            "mdns_camera_service",
            0.7,
            "advertises a camera service over mDNS (ONVIF, Axis, PSIA)",
            Kind.CAMERA,
        ),
        # Medium.
        Clue(
            "rtsp_locked",
            0.6,
            "answers RTSP and asks for a password to describe its stream",
            Kind.CAMERA,
        ),
        Clue("mdns_rtsp", 0.6, "advertises an RTSP stream over mDNS (_rtsp._tcp)", Kind.CAMERA),
        Clue(
            "http_camera_firmware",
            0.6,
            "web page or server of a known camera/recorder firmware",
            Kind.CAMERA,
        ),
        Clue("upnp_camera", 0.6, "its UPnP description names a camera or recorder", Kind.CAMERA),
        Clue(
            "rtsp_server",
            0.5,
            "answers RTSP (a streaming server) without describing video",
            Kind.CAMERA,
        ),
        Clue(
            "port_dvrip",
            0.5,
            "TCP 34567 open: the control port of Xiongmai cameras and DVRs",
            Kind.CAMERA,
        ),
        Clue("oui_camera_vendor", 0.45, "network card made by a camera maker", Kind.CAMERA),
        Clue(
            "port_dahua",
            0.4,
            "TCP 37777 open: the control port of Dahua cameras and recorders",
            Kind.CAMERA,
        ),
        # Weak.
        Clue(
            "http_embedded_server",
            0.15,
            "web server software common on cheap cameras (and other gadgets)",
        ),
        Clue("rtsp_port_silent", 0.15, "the RTSP port is open but gave no RTSP answer"),
        Clue(
            "oui_iot_module",
            0.1,
            "network card from a Wi-Fi module maker used in many gadgets, cameras among them",
        ),
        Clue(
            "oui_mixed_vendor", 0.05, "network card from a maker of cameras and many other things"
        ),
        # Information only.
        Clue("oui_vendor", 0.0, "who made the network card"),
        Clue(
            "mac_randomised",
            0.0,
            "a randomised (locally administered) MAC address: the maker is unknown",
        ),
        Clue("mdns_service", 0.0, "advertises an mDNS service that says nothing either way"),
        Clue("upnp_device", 0.0, "answers UPnP (SSDP) discovery"),
        Clue("http_page", 0.0, "serves a web page that says nothing either way"),
        # Against: what ordinary devices look like.
        Clue(
            "oui_ordinary_vendor",
            -0.1,
            "network card made by a maker of phones, computers, printers or speakers",
        ),
        Clue(
            "printer_service",
            -0.3,
            "accepts print jobs (IPP, JetDirect, LPD, _ipp._tcp)",
            Kind.PRINTER,
        ),
        Clue(
            "media_service",
            -0.3,
            "a speaker, TV or streaming stick (Google Cast, AirPlay, Spotify)",
            Kind.MEDIA,
        ),
        Clue(
            "personal_device",
            -0.3,
            "a phone, tablet or computer (Apple companion link, sync ports)",
            Kind.PERSONAL,
        ),
        Clue(
            "router",
            -0.3,
            "this network's router (the default gateway or a router's web page)",
            Kind.ROUTER,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One thing seen about one device, in words for the report."""

    code: str
    text: str
    facts: dict[str, Any] = field(default_factory=dict)
    """What it tells about the device (``model``, ``manufacturer``, ``name``, ``uid``...),
    JSON-serialisable; used for the label and the finding's details."""

    def __post_init__(self) -> None:
        if self.code not in CLUES:
            raise KeyError(f"unregistered clue {self.code!r}: add it to CLUES and the docs")

    @property
    def clue(self) -> Clue:
        return CLUES[self.code]

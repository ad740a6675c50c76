"""Who made a device's network card, from the MAC address and Debian's offline copy of the
IEEE registry (package ``ieee-data``: MA-L 24-bit, MA-M 28-bit and MA-S 36-bit blocks).

The maker is weak evidence on its own and is weighted so: a Hikvision or Dahua card is
almost always a camera or a recorder (**camera vendor**, 0.45: "possible" alone, never
"likely"); Espressif, Tuya, Bilian, iComm, AltoBeam, Beken and Fn-Link make the Wi-Fi
modules inside cheap cameras *and* plugs, bulbs and kettles (**IoT module**, 0.1); TP-Link,
Xiaomi, Google and Amazon make cameras among many other things (**mixed**, 0.05); Apple,
Samsung Electronics, printer makers and Sonos point away (**ordinary**, -0.1). A
locally administered ("randomised") address says nothing: phones randomise theirs per
network, and so do some cameras.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reclaim.sweep.lan.evidence import Evidence
from reclaim.sweep.lan.text import clean

IEEE_DIR = Path("/usr/share/ieee-data")
_FILES = (("oui36.csv", 9), ("mam.csv", 7), ("oui.csv", 6))
"""Most specific first: (file, hex digits of its assignments)."""


@dataclass(frozen=True, slots=True)
class VendorClass:
    code: str
    pattern: re.Pattern[str]
    note: str


def _vendors(code: str, note: str, names: Iterable[str]) -> VendorClass:
    return VendorClass(code, re.compile("|".join(names), re.IGNORECASE), note)


VENDOR_CLASSES = (
    _vendors(
        "oui_camera_vendor",
        "a maker of surveillance cameras and recorders",
        (
            r"hikvision",
            r"dahua",
            r"uniview",
            r"ezviz",
            r"reolink",
            r"amcrest",
            r"foscam",
            r"axis communications",
            r"hanwha (techwin|vision)",
            r"samsung techwin",
            r"vivotek",
            r"lorex",
            r"swann",
            r"imilab",
            r"shanghai xiaoyi",
            r"blink by amazon",
            r"arlo",
            r"^ring llc",
            r"wyze",
            r"reecam",
            r"nest labs",
            r"xiongmai",
        ),
    ),
    _vendors(
        "oui_iot_module",
        "a maker of Wi-Fi modules used in cheap cameras and many other gadgets",
        (
            r"espressif",
            r"tuya",
            r"bilian",
            r"icomm",
            r"altobeam",
            r"beken",
            r"fn-link",
            r"hisilicon",
            r"ingenic",
            r"anyka",
        ),
    ),
    _vendors(
        "oui_mixed_vendor",
        "a maker of cameras among many other things",
        (r"tp-link", r"xiaomi", r"google", r"amazon technologies", r"d-link"),
    ),
    _vendors(
        "oui_ordinary_vendor",
        "a maker of phones, computers, printers or speakers",
        (
            r"^apple",
            r"samsung electronics",
            r"brother",
            r"canon",
            r"seiko epson",
            r"hewlett packard",
            r"^hp inc",
            r"kyocera",
            r"lexmark",
            r"xerox",
            r"ricoh",
            r"sonos",
            r"intel corporate",
            r"liteon",
            r"azurewave",
            r"lg electronics",
            r"efm networks",
        ),
    ),
)


def is_randomised(mac: str) -> bool:
    """Locally administered: the second-lowest bit of the first octet is set."""
    return bool(int(mac.split(":")[0], 16) & 0x02)


@functools.lru_cache(maxsize=4)
def _table(directory: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    for name, _ in _FILES:
        try:
            with (directory / name).open(newline="", encoding="utf-8", errors="replace") as f:
                for row in csv.reader(f):
                    if len(row) >= 3 and row[0] != "Registry":
                        table.setdefault(row[1].strip().upper(), row[2].strip())
        except OSError:
            continue
    return table


def table_available(directory: Path = IEEE_DIR) -> bool:
    return bool(_table(directory))


def maker(mac: str, directory: Path = IEEE_DIR) -> str | None:
    """The registered organisation for ``mac``, most specific block first."""
    digits = mac.replace(":", "").replace("-", "").upper()
    table = _table(directory)
    for _, width in _FILES:
        found = table.get(digits[:width])
        if found and found.lower() != "private":
            return found
    return None


def vendor_evidence(mac: str, directory: Path = IEEE_DIR) -> list[Evidence]:
    """What the MAC address says about the device (one clue)."""
    if is_randomised(mac):
        return [
            Evidence(
                "mac_randomised",
                "its MAC address is randomised (locally administered): the maker cannot be "
                "known; phones and laptops do this, some cameras too",
            )
        ]
    found = maker(mac, directory)
    if found is None:
        return []
    name = clean(found, 80)
    for vendor in VENDOR_CLASSES:
        if vendor.pattern.search(found):
            return [
                Evidence(
                    vendor.code,
                    f"its network card is made by {name} ({vendor.note})",
                    {"vendor": name},
                )
            ]
    return [Evidence("oui_vendor", f"its network card is made by {name}", {"vendor": name})]

"""A fake room network built from Linux network namespaces, so that the LAN sweep is only
ever tested against devices the test made:

    [sweeper ns] eth0 10.77.0.1 ──┐
    [rtsp ns]    eth0 10.77.0.10 ─┤
    ...                           ├── br0 10.77.0.254 (the "router") in the room ns
    [printer ns] eth0 10.77.0.20 ─┤
    [canary ns]  eth0 10.77.0.200 ┘

Each fake device is a namespace with one veth end (its MAC set to a real camera, printer
or speaker maker's OUI) and one process from :mod:`.fakes`. The sweep itself runs in the
sweeper namespace, as a subprocess (:mod:`.run_sweep`), and that runner refuses to run in
the machine's own namespace. Nothing here touches the host's interfaces: veth ends are
created directly inside their namespaces.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
PREFIX = "rcltest"
NETWORK = "10.77.0.0/24"
SWEEPER = ("10.77.0.1", "ac:ed:5c:00:00:01")  # an Intel laptop
ROUTER = ("10.77.0.254", "ac:84:c6:00:00:fe")  # a TP-Link router (the bridge)


@dataclass(frozen=True, slots=True)
class Fake:
    name: str
    kind: str
    ip: str
    mac: str
    looks_like: str
    """What the sweep should call it: ``camera``, ``printer``, ...; "" for no opinion."""
    codes: tuple[str, ...] = ()
    """Reason codes the sweep must give it."""


FAKES = (
    Fake(
        "rtsp",
        "rtsp_camera",
        "10.77.0.10",
        "44:47:cc:00:00:10",
        "camera",
        ("rtsp_video", "oui_camera_vendor"),
    ),
    Fake(
        "onvif",
        "onvif_camera",
        "10.77.0.11",
        "08:ed:ed:00:00:11",
        "camera",
        ("onvif_nvt", "oui_camera_vendor"),
    ),
    Fake(
        "mdnscam",
        "mdns_camera",
        "10.77.0.12",
        "24:6f:28:00:00:12",
        "camera",
        ("mdns_rtsp", "rtsp_locked", "oui_iot_module"),
    ),
    Fake(
        "sadp",
        "sadp_camera",
        "10.77.0.13",
        "58:03:fb:00:00:13",
        "camera",
        ("sadp_answer", "oui_camera_vendor"),
    ),
    Fake(
        "pppp",
        "pppp_camera",
        "10.77.0.14",
        "de:ad:be:00:00:14",
        "camera",
        ("pppp_uid", "mac_randomised"),
    ),
    Fake(
        "httpcam",
        "http_camera",
        "10.77.0.15",
        "20:32:33:00:00:15",
        "camera",
        ("http_camera_firmware", "http_embedded_server", "oui_iot_module"),
    ),
    Fake(
        "dahua",
        "dahua_camera",
        "10.77.0.16",
        "9c:8e:cd:00:00:16",
        "camera",
        ("dahua_discovery", "oui_camera_vendor"),
    ),
    Fake(
        "printer",
        "printer",
        "10.77.0.20",
        "3c:2a:f4:00:00:20",
        "printer",
        ("printer_service", "oui_ordinary_vendor"),
    ),
    Fake(
        "phone",
        "phone",
        "10.77.0.21",
        "da:a1:19:00:00:21",
        "phone or computer",
        ("personal_device", "mac_randomised"),
    ),
    Fake(
        "speaker", "speaker", "10.77.0.22", "f4:f5:d8:00:00:22", "speaker or TV", ("media_service",)
    ),
    Fake("hostile", "hostile", "10.77.0.30", "02:00:00:00:00:30", ""),
    Fake("tarpit", "tarpit", "10.77.0.31", "02:00:00:00:00:31", ""),
    Fake("canary", "", "10.77.0.200", "02:00:00:00:02:00", "unknown device"),
)


def unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "building network namespaces needs root"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    try:
        subprocess.run(["ip", "netns", "add", probe], check=True, capture_output=True)
        subprocess.run(["ip", "netns", "del", probe], check=True, capture_output=True)
    except FileNotFoundError:
        return "iproute2 ('ip') is not installed"
    except subprocess.CalledProcessError as error:
        return f"'ip netns' does not work here: {error.stderr.decode().strip()}"
    return None


def remove_stale() -> None:
    """Namespaces left by an earlier test run that was killed (its pid is gone)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        parts = name.split("-")
        ours = len(parts) >= 3 and parts[0] == PREFIX and parts[1].isdigit()
        if ours and not Path(f"/proc/{parts[1]}").exists():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@dataclass
class Room:
    tag: str = field(default_factory=lambda: f"{PREFIX}-{os.getpid()}")
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def ns(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def _add_ns(self, name: str) -> str:
        ns = self.ns(name)
        self._ip("netns", "add", ns)
        self.namespaces.append(ns)
        # No IPv6: no router solicitations or MLD reports muddying the canary's count.
        for key in ("all", "default"):
            self._ip("netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
        self._ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def build(self) -> None:
        room = self._add_ns("room")
        self._ip(
            "-n",
            room,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
            "forward_delay",
            "0",
            "stp_state",
            "0",
        )
        self._ip("-n", room, "link", "set", "br0", "address", ROUTER[1])
        self._ip("-n", room, "addr", "add", f"{ROUTER[0]}/24", "dev", "br0")
        self._ip("-n", room, "link", "set", "br0", "up")
        self._plug("sweeper", *SWEEPER, port="p0")
        self._ip("-n", self.ns("sweeper"), "route", "add", "default", "via", ROUTER[0])
        for index, fake in enumerate(FAKES, start=1):
            self._plug(fake.name, fake.ip, fake.mac, port=f"p{index}")

    def _plug(self, name: str, ip: str, mac: str, *, port: str) -> None:
        ns, room = self._add_ns(name), self.ns("room")
        self._ip(
            "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", room
        )
        self._ip("-n", room, "link", "set", port, "master", "br0", "up")
        self._ip("-n", ns, "link", "set", "eth0", "address", mac)
        self._ip("-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        self._ip("-n", ns, "link", "set", "eth0", "up")

    def start(self, name: str, *args: str) -> subprocess.Popen[str]:
        """A module of this package in namespace ``name``; returns once it printed ready."""
        process = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.ns(name),
                sys.executable,
                "-m",
                "tests.sweep.lan.fakes",
                *args,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def start_fakes(self, timeout: float = 20.0) -> None:
        started = [self.start(f.name, f.kind, f.ip) for f in FAKES if f.kind]
        until = time.monotonic() + timeout
        for process in started:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], max(until - time.monotonic(), 0))
            line = process.stdout.readline() if ready else ""
            if line.strip() != "ready":
                errors = process.stderr.read() if process.stderr and process.poll() else ""
                raise RuntimeError(f"a fake device did not start: {process.args!r}: {errors}")

    def sweep(
        self, *, without_raw_sockets: bool = False, timeout: float = 120.0, **arguments: object
    ) -> dict[str, Any]:
        """Run the sweep in the sweeper namespace; its JSON answer. ``without_raw_sockets``
        drops CAP_NET_RAW, as for a sweep run by an ordinary user."""
        drop = ["setpriv", "--bounding-set=-net_raw"] if without_raw_sockets else []
        command = [sys.executable, "-m", "tests.sweep.lan.run_sweep", self.ns("sweeper")]
        done = subprocess.run(
            ["ip", "netns", "exec", self.ns("sweeper"), *drop, *command, json.dumps(arguments)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the sweep failed: {done.stderr[-3000:]}")
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def stop(self, process: subprocess.Popen[str]) -> str:
        process.send_signal(signal.SIGTERM)
        try:
            out, _ = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        return out

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.stop(process)
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()

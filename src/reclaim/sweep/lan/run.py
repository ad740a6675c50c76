"""One LAN sweep from start to report: plan the target (or refuse), discover devices (ARP,
passive listening, multicast discovery), probe each device, score.

Phases, all bounded by one deadline and one rate limit (the gate's):

1. listen passively; ask every address by ARP; meanwhile, when the target is the whole
   link, ask the discovery groups (mDNS, SSDP, WS-Discovery, SADP) and collect answers;
2. per device, at once: the UDP discovery datagrams (WS-Discovery, SADP, SSDP, Dahua,
   PPPP) and a TCP connect scan of :data:`~.probes.SCAN_PORTS`;
3. per open port, its TCP probe (RTSP, HTTP, HTTPS); per UPnP answer, its description.

A probe that meets garbage leaves a note; one that finds nothing leaves nothing; one still
running when the time is up is abandoned (its sockets time out with the deadline).
"""

from __future__ import annotations

import concurrent.futures as cf
import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any

from reclaim.sweep.lan import arp, mdns, oui
from reclaim.sweep.lan.device import Inventory
from reclaim.sweep.lan.errors import Malformed, OutOfScope, OutOfTime, ProbeFailed
from reclaim.sweep.lan.evidence import Evidence
from reclaim.sweep.lan.gate import Gate
from reclaim.sweep.lan.options import LanOptions
from reclaim.sweep.lan.pace import Deadline
from reclaim.sweep.lan.probes import (
    SCAN_PORTS,
    TCP_PROBES,
    UDP_PROBES,
    UdpProbe,
    port_evidence,
    probe_for,
    udp_messages,
)
from reclaim.sweep.lan.score import assess
from reclaim.sweep.lan.ssdp import describe
from reclaim.sweep.lan.target import plan
from reclaim.sweep.lan.text import clean
from reclaim.sweep.report import SweepReport, now

log = logging.getLogger(__name__)
MAX_NOTES = 200
MAX_DESCRIPTIONS = 3
"""UPnP descriptions read per device (a device lists one per service it offers)."""
GRACE = 0.5
"""Seconds past the deadline that running probes get to hand in what they have."""


def sweep(
    *,
    interface: str | None = None,
    network: str | None = None,
    options: LanOptions = LanOptions(),  # noqa: B008 -- frozen: one shared default is safe
) -> SweepReport:
    """Sweep the room's network for camera-like devices; one finding per device.

    ``interface`` alone sweeps that interface's own subnet; ``network`` (CIDR) sweeps
    exactly that network, which must be on a connected interface (``interface`` too, when
    both are given). Raises :class:`~.errors.SweepRefused` without either, and for any
    target :mod:`.target` does not accept (too wide, loopback, public, the default route's
    interface without ``options.allow_interface``), before anything is sent. Never raises
    for what devices answer: that becomes notes in the report.
    """
    target = plan(interface=interface, network=network, options=options)
    oui.table_available()  # read the IEEE table (0.4 s, cached) before the clock starts
    started = now()
    gate = Gate(target, options, Deadline(options.time_budget))
    run = _Run(gate)
    try:
        run.listen()
        run.discover()
        run.probe_devices()
    finally:
        run.finish()
        gate.close()
    return SweepReport(
        method="lan",
        target=str(target),
        started=started,
        finished=now(),
        findings=[assess(d, target.gateway) for d in run.inventory.devices()],
        notes=run.final_notes(),
        parameters=run.parameters(),
    )


class _Run:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.inventory = Inventory()
        self.notes: list[str] = []
        self._lock = threading.Lock()
        # ARP needs raw sockets and an Ethernet-like interface (Wi-Fi and Ethernet are).
        self.raw = arp.raw_sockets_allowed() and gate.target.mac is not None
        self.listener: arp.Listener | None = None
        self.asked = 0
        self.unfinished = 0
        self.names_cleaned = 0

    def note(self, text: str) -> None:
        with self._lock:
            if text not in self.notes and len(self.notes) < MAX_NOTES:
                self.notes.append(text)

    # -- phase 1 -------------------------------------------------------------------------

    def listen(self) -> None:
        """Passive listening, from the start to the end of the sweep."""
        if self.raw:
            self.listener = arp.Listener(self.gate)
            self.listener.start()
        else:
            self.note(
                "no raw sockets (run as root for ARP and passive listening): devices were "
                "found through the kernel's neighbour table instead"
            )

    def discover(self) -> None:
        gate = self.gate
        pool = cf.ThreadPoolExecutor(max_workers=1 + len(UDP_PROBES), thread_name_prefix="mcast")
        futures = []
        if gate.may_multicast:
            futures.append(pool.submit(self._guard, "mDNS", self._mdns))
            for probe in UDP_PROBES:
                if probe.group is not None:
                    futures.append(pool.submit(self._guard, probe.name, self._multicast, probe))
        else:
            self.note(
                f"{gate.target.network} is narrower than the link {gate.target.link}: multicast "
                "discovery (mDNS, SSDP, WS-Discovery, SADP) was skipped because it would reach "
                "devices outside the network; devices were asked one by one instead"
            )
        try:
            self.asked = arp.sweep(gate, raw=self.raw)
            self._wait(futures, "multicast discovery")
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        self._heard()

    def _heard(self) -> None:
        """Add what the listener and the kernel know: addresses and their MACs."""
        heard = self.listener.snapshot() if self.listener is not None else {}
        for ip, (mac, how) in heard.items():
            self.inventory.saw(ip, how, mac)
        for ip, mac in arp.neighbours(self.gate).items():
            self.inventory.saw(ip, "neighbour table", mac)

    def finish(self) -> None:
        """Stop listening; devices heard only now are listed (not probed); makers of every
        network card seen."""
        probed = set(self.inventory.addresses())
        if self.listener is not None:
            self.listener.stop()
        self._heard()
        late = set(self.inventory.addresses()) - probed
        if late:
            self.note(
                f"{len(late)} device(s) were heard only after the probes had run: listed, "
                "not probed (sweep again to probe them)"
            )
        for device in self.inventory.devices():
            if device.mac:
                self.inventory.add(device.ip, oui.vendor_evidence(device.mac))

    def _mdns(self) -> None:
        found = mdns.discover(self.gate, self.gate.options.listen)
        for ip, evidence in found.evidence:
            self.inventory.add(ip, [evidence], "mdns")
        for text in found.notes:
            self.note(text)
        self.names_cleaned += found.names_cleaned

    def _multicast(self, probe: UdpProbe) -> None:
        assert probe.group is not None
        answers = self.gate.multicast(
            probe.group,
            probe.ports[0],
            probe.message(probe.group),
            wait=self.gate.options.listen,
            listen_on_port=probe.answers_to_group,
        )
        for ip, data in answers:
            self._answer(ip, data, how=probe.name)

    def _answer(self, ip: ipaddress.IPv4Address, data: bytes, how: str) -> None:
        probe = probe_for(data)
        if probe is None:
            self.note(f"{ip}: an answer no probe recognises was ignored ({len(data)} bytes)")
            return
        try:
            evidence = probe.parse(data)
        except Malformed as error:
            self.note(f"{ip}: {probe.name}: {error}")
            return
        if evidence:
            self.inventory.add(ip, evidence, how)

    # -- phases 2 and 3 ------------------------------------------------------------------

    def probe_devices(self) -> None:
        gate = self.gate
        pool = cf.ThreadPoolExecutor(gate.options.workers, thread_name_prefix="probe")
        try:
            addresses = self.inventory.addresses()
            stage = [pool.submit(self._guard, f"{ip} UDP", self._udp, ip) for ip in addresses]
            stage += [pool.submit(self._guard, f"{ip} scan", self._scan, ip) for ip in addresses]
            self._wait(stage, "discovery probes")
            stage = []
            for device in self.inventory.devices():
                for probe in TCP_PROBES:
                    for port in sorted(device.open_ports & set(probe.ports)):
                        label = f"{device.ip}:{port} {probe.name}"
                        stage.append(
                            pool.submit(self._guard, label, self._tcp, device.ip, port, probe.run)
                        )
                locations = {
                    e.facts["upnp_location"]: None
                    for e in device.evidence
                    if "upnp_location" in e.facts
                }
                for location in list(locations)[:MAX_DESCRIPTIONS]:
                    label = f"{device.ip} UPnP description"
                    stage.append(
                        pool.submit(self._guard, label, self._describe, device.ip, location)
                    )
            self._wait(stage, "service probes")
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _udp(self, ip: ipaddress.IPv4Address) -> None:
        wait = min(1.0, self.gate.options.probe_timeout)
        for _, data in self.gate.udp(ip, udp_messages(ip), wait=wait):
            self._answer(ip, data, how="udp")

    def _scan(self, ip: ipaddress.IPv4Address) -> None:
        ports = self.gate.scan(ip, SCAN_PORTS)
        self.inventory.ports(ip, ports)
        self.inventory.add(ip, port_evidence(ports))

    def _tcp(
        self,
        ip: ipaddress.IPv4Address,
        port: int,
        run: Callable[[Gate, ipaddress.IPv4Address, int], list[Evidence]],
    ) -> None:
        try:
            self.inventory.add(ip, run(self.gate, ip, port))
        except (ProbeFailed, OutOfTime):
            if port in (554, 8554):
                self.inventory.add(ip, [_silent_rtsp(port)])
            raise

    def _describe(self, ip: ipaddress.IPv4Address, location: str) -> None:
        self.inventory.add(ip, describe(self.gate, ip, location))

    # -- bookkeeping ---------------------------------------------------------------------

    def _guard(self, label: str, work: Callable[..., None], *args: Any) -> None:
        """Run one probe; its failure becomes a note (or nothing), never the sweep's."""
        try:
            work(*args)
        except Malformed as error:
            self.note(f"{label}: {error}")
        except OutOfScope as error:
            self.note(f"{label}: {error}")
        except ProbeFailed:
            pass  # nothing there, or nothing that answered: no news
        except OutOfTime:
            with self._lock:
                self.unfinished += 1
        except OSError as error:  # e.g. a port another program holds, an interface gone
            self.note(f"{label}: {error.strerror or error}")
        except Exception as error:  # a probe's bug must not lose the whole report
            log.exception("probe %s failed", label)
            self.note(f"{label}: failed unexpectedly ({type(error).__name__}); see the log")

    def _wait(self, futures: list[cf.Future[None]], what: str) -> None:
        if not futures:
            return
        _, pending = cf.wait(futures, timeout=max(self.gate.deadline.remaining(), 0) + GRACE)
        if pending:
            self.unfinished += len(pending)
            self.note(f"time budget spent: {len(pending)} {what} did not finish")

    def final_notes(self) -> list[str]:
        gate = self.gate
        notes = [
            f"asked {self.asked} addresses of {gate.target.network} on {gate.target.interface}; "
            f"{len(self.inventory.addresses())} devices found",
        ]
        if self.unfinished:
            notes.append(
                f"time budget of {gate.options.time_budget:g} s spent: {self.unfinished} "
                "probes were not done; sweep again with a longer budget for a full picture"
            )
        if gate.refused:
            shown = ", ".join(sorted(gate.refused)[:5])
            notes.append(
                f"{len(gate.refused)} address(es) outside {gate.target.network} were named by "
                f"devices and never contacted ({shown})"
            )
        if gate.ignored:
            notes.append(
                f"answers from {len(gate.ignored)} address(es) outside the network were ignored"
            )
        if self.names_cleaned:
            notes.append(
                f"{self.names_cleaned} name(s) from the network had control characters or "
                "were too long: shown cleaned"
            )
        if not oui.table_available():
            notes.append(
                "the offline OUI table is missing (Debian package ieee-data): "
                "network card makers are unknown"
            )
        return notes + [clean(n, 300) for n in self.notes]

    def parameters(self) -> dict[str, Any]:
        gate, options = self.gate, self.gate.options
        return {
            "network": str(gate.target.network),
            "interface": gate.target.interface,
            "source": str(gate.target.source),
            "rate": options.rate,
            "time_budget": options.time_budget,
            "probe_timeout": options.probe_timeout,
            "multicast": gate.may_multicast,
            "raw_sockets": self.raw,
            "sent": dict(gate.sent),
            "elapsed": round(gate.deadline.elapsed(), 3),
        }


def _silent_rtsp(port: int) -> Evidence:
    return Evidence(
        "rtsp_port_silent",
        f"port {port} (RTSP, the usual camera streaming port) is open but gave no RTSP answer",
        {"rtsp_port": port},
    )

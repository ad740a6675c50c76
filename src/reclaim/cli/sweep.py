"""``reclaim sweep``: look for hidden cameras -- on the room's network, in a Wi-Fi capture,
in a phone video taken with the flashlight on. Each writes a report: text at the terminal,
or ``--format json|html`` (``--out FILE``; the HTML file opens offline on a phone)."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from reclaim.cli.app import app, fail, load_settings
from reclaim.sweep.report import SweepReport, Verdict

sweep_app = typer.Typer(
    help="Look for hidden cameras: a room's network, a Wi-Fi capture, a flashlight video.",
    no_args_is_help=True,
)
app.add_typer(sweep_app, name="sweep")


class Format(enum.StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"


FormatOption = Annotated[Format, typer.Option("--format", help="text, json or html.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write the report to this file (default: stdout).")
]


def _write(report: SweepReport, fmt: Format, out: Path | None) -> None:
    import json

    if fmt is Format.JSON:
        body = json.dumps(report.to_json(), ensure_ascii=False, indent=1) + "\n"
    elif fmt is Format.HTML:
        body = report.to_html()
    else:
        body = report.to_text()
    if out is None:
        sys.stdout.write(body)
    else:
        try:
            out.write_text(body, encoding="utf-8")
        except OSError as error:
            raise fail(f"cannot write {out}: {error.strerror or error}") from None
        likely = sum(f.verdict is Verdict.CAMERA_LIKELY for f in report.findings)
        sys.stderr.write(f"reclaim: {likely} likely camera(s); report written to {out}\n")


@sweep_app.command("lan")
def sweep_lan(
    interface: Annotated[
        str | None, typer.Option(help="Sweep this interface's own subnet (the room's network).")
    ] = None,
    network: Annotated[
        str | None, typer.Option(help="Sweep exactly this network, e.g. 192.168.0.0/24.")
    ] = None,
    allow_interface: Annotated[
        str | None,
        typer.Option(
            help="Confirm that this interface (your default route: usually the room's Wi-Fi, "
            "e.g. wlan0) is the network to sweep."
        ),
    ] = None,
    seconds: Annotated[float, typer.Option(help="The whole sweep's time budget.")] = 60.0,
    fmt: FormatOption = Format.TEXT,
    out: OutOption = None,
) -> None:
    """Probe the room's network for camera-like devices. Run it only on a network you are
    allowed to test (the room's own Wi-Fi); it refuses to run without --interface or
    --network, and contacts nothing outside that network."""
    from reclaim.sweep.lan import LanOptions, SweepRefused, sweep

    load_settings()
    try:
        options = LanOptions(allow_interface=allow_interface, time_budget=seconds)
        report = sweep(interface=interface, network=network, options=options)
    except (SweepRefused, ValueError) as error:
        raise fail(str(error), 2) from None
    _write(report, fmt, out)


@sweep_app.command("pcap")
def sweep_pcap(
    file: Path,
    stimulus: Annotated[
        Path | None,
        typer.Option(help="When you switched the light or waved at a spot (CSV or JSON)."),
    ] = None,
    fmt: FormatOption = Format.TEXT,
    out: OutOption = None,
) -> None:
    """Find streaming cameras among the transmitters of a monitor-mode 802.11 capture
    (pcap or pcapng; encrypted traffic is fine)."""
    from reclaim.sweep.wifi import CaptureError, analyse, load_stimulus

    load_settings()
    try:
        intervals = load_stimulus(stimulus) if stimulus is not None else ()
        report = analyse(file, stimulus=intervals)
    except (CaptureError, ValueError) as error:
        raise fail(str(error)) from None
    _write(report, fmt, out)


@sweep_app.command("video")
def sweep_video(file: Path, fmt: FormatOption = Format.TEXT, out: OutOption = None) -> None:
    """Find lens glints in a video taken while panning the room with the flashlight on."""
    from reclaim.media.errors import MediaError
    from reclaim.media.limits import MediaLimits
    from reclaim.sweep.optical import analyse

    settings = load_settings()
    try:
        report = analyse(file, limits=MediaLimits.from_settings(settings))
    except MediaError as error:
        raise fail(f"{error.kind}: {error.reason}") from None
    _write(report, fmt, out)

"""``reclaim demo``: generated media, the demo forum, and the whole story end to end."""

from __future__ import annotations

import ipaddress
import json
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from reclaim.cli.app import app, fail, load_settings
from reclaim.config import Settings

demo_app = typer.Typer(
    help="The local demo: generated media, a forum on loopback, the monitor finding copies.",
    no_args_is_help=True,
)
app.add_typer(demo_app, name="demo")

DEMO_HOST = "127.0.0.2"
MARKER = ".reclaim-demo"
"""A demo data folder holds this file; only such a folder is ever emptied."""


@demo_app.command("media")
def demo_media_command(
    folder: Annotated[
        Path | None, typer.Argument(help="Where to write (default: DATA_DIR/demo-media).")
    ] = None,
) -> None:
    """Write a folder of generated demo photos and a video; print its path."""
    from reclaim.demo.media import make_demo_folder

    target = folder or Settings().data_dir / "demo-media"
    sys.stdout.write(f"{make_demo_folder(target)}\n")


@demo_app.command("site")
def demo_site_command(
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.2",
    port: Annotated[int, typer.Option(help="Port (0: any free one).")] = 8700,
) -> None:
    """Serve the demo forum, where altered copies of the demo media circulate, on
    loopback; prints its address. Ctrl-C stops it."""

    from reclaim.demo.site import serve

    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise fail("the demo site listens on loopback addresses only (127.0.0.0/8, ::1)", 2)
    except ValueError:
        raise fail(f"not an IP address: {host!r}", 2) from None
    try:
        site = serve(host, port, background=False)
    except OSError as error:
        raise fail(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sys.stdout.write(f"{site.base_url}/\n")
    sys.stdout.flush()
    try:
        site.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        site.server.server_close()


@demo_app.command("run")
def demo_run(
    folder: Annotated[
        Path | None,
        typer.Option(help="Demo data folder, emptied first (default: DATA_DIR/demo)."),
    ] = None,
) -> None:
    """The whole story on this machine: a survivor's originals are registered by their
    hashes, the demo forum serves altered copies among unrelated pictures, the monitor
    crawls it and records each copy it finds as a sighting on her case."""
    from reclaim.cases import service as cases
    from reclaim.cli.monitor import Progress, print_sighting
    from reclaim.demo.media import make_demo_folder
    from reclaim.demo.site import serve
    from reclaim.demo.story import ORIGINALS, register_originals
    from reclaim.monitor.engine import Monitor
    from reclaim.monitor.service import SourceOptions, add_source
    from reclaim.monitor.sightings import list_sightings, sighting_json
    from reclaim.store.db import open_database

    base = load_settings()
    target = (folder or base.data_dir / "demo").resolve()
    if target.exists():
        if not (target / MARKER).exists() and any(target.iterdir()):
            raise fail(f"{target} is not empty and not a demo folder: choose another", 2)
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / MARKER).write_text("made by `reclaim demo run`; emptied by the next run\n")
    settings = Settings(
        **{
            **base.model_dump(),
            "data_dir": target,
            "database_url": None,
            "fetch_allow_networks": f"{DEMO_HOST}/32",
        }
    )
    say = _Say()
    originals = make_demo_folder(target / "media")
    say(f"1. The survivor's originals (generated pictures, nothing real): {originals}")
    database = open_database(settings)
    site = serve(DEMO_HOST, 0)
    try:
        with database.session() as session:
            number = register_originals(session, folder=originals, actor="demo").number
        say(f"2. Registered by their hashes only, as case {number} ({len(ORIGINALS)} items)")
        say(f"3. The demo forum is up at {site.base_url}/ (loopback only)")
        with database.session() as session:
            org = cases.get_org(session)
            add_source(
                session,
                org=org,
                kind="pages",
                url=f"{site.base_url}/",
                actor="demo",
                options=SourceOptions(min_delay=0.0, max_depth=4),
            )
            add_source(
                session,
                org=org,
                kind="telegram",
                url=f"{site.base_url}/s/demo_leaks",
                actor="demo",
                options=SourceOptions(min_delay=0.0),
            )
        say("4. The monitor crawls the forum and its channel preview:")
        progress = Progress()
        with Monitor(database, settings, listener=progress) as monitor:
            tally = monitor.run_once()
        progress.close()
        say(
            f"   {tally.pages} pages, {tally.media} pictures and videos "
            f"({tally.hashed} hashed), {tally.sightings} sightings"
        )
        say(f"5. Sightings on case {number}:")
        with database.session() as session:
            org = cases.get_org(session)
            case = cases.get_case(session, org=org, number=number)
            for found in list_sightings(session, org=org, case=case):
                print_sighting(sighting_json(found, number), as_json=False)
            say(f"6. Case {number} timeline (what the survivor will see, without any imagery):")
            for event in cases.timeline(session, case=case):
                details = json.dumps(event.data(), ensure_ascii=False)
                say(f"   {event.created:%Y-%m-%d %H:%M:%S}  {event.name}  {details}")
    finally:
        site.close()
        database.dispose()
    say(f"Look around: RECLAIM_DATA_DIR={target} reclaim sightings --json")


class _Say:
    def __call__(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

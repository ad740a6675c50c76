"""``reclaim serve --demo``: the whole system on this machine, for a newcomer to try.

A demo data folder (its own database, master and signing keys and files; the real data
is never touched),
the demo forum on 127.0.0.2 serving altered copies of the demo media among unrelated
pictures, and the monitor watching the forum every minute. She registers one of the demo
pictures in the portal -- hashed in her browser -- and within a minute or two the monitor
finds its altered copies and her case page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import make_demo_folder
from reclaim.demo.site import DemoSite, serve
from reclaim.evidence.keys import create_key, org_keys
from reclaim.monitor.models import Source
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.store.db import open_database
from reclaim.store.envelope import MasterKey

HOST = "127.0.0.2"
MARKER = ".reclaim-demo-portal"
RECRAWL_HOURS = 1 / 60
"""The demo forum is watched every minute (a real source: hours or days)."""


class NotADemoFolder(Exception):
    """The folder holds something that is not a demo's: it is never used for one."""


@dataclass
class Demo:
    settings: Settings
    site: DemoSite
    media: Path

    def close(self) -> None:
        self.site.close()


def start(base: Settings, folder: Path, *, port: int = 0) -> Demo:
    """Prepare ``folder`` (kept between runs) and start the demo forum; the settings to
    serve with."""
    folder = folder.resolve()
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise NotADemoFolder(f"{folder} is not empty and not a demo folder: choose another")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `reclaim serve --demo`\n")
    settings = Settings(
        **{
            **base.model_dump(),
            "data_dir": folder,
            "database_url": None,
            "master_key_file": None,
            "fetch_allow_networks": f"{HOST}/32",
            "monitor_poll_seconds": 30.0,
        }
    )
    media = make_demo_folder(folder / "media")
    site = serve(HOST, port)
    database = open_database(settings)
    try:
        master_file = settings.resolved_master_key_file
        master = (
            MasterKey.load(master_file) if master_file.exists() else MasterKey.create(master_file)
        )
        with database.session() as session:
            org = cases.get_org(session)
            if not [k for k in org_keys(session, org=org) if k.retired is None]:
                create_key(session, org=org, master=master)  # so evidence can be sealed
            for source in session.scalars(select(Source).where(Source.org_id == org.id)):
                session.delete(source)  # last run's forum had another port
            session.flush()
            add_source(
                session,
                org=org,
                kind="pages",
                url=f"{site.base_url}/",
                actor="demo",
                options=SourceOptions(min_delay=0.0, max_depth=4, recrawl_hours=RECRAWL_HOURS),
            )
    finally:
        database.dispose()
    return Demo(settings, site, media)

"""The monitor on the demo forum: every planted copy of a banked original becomes a
sighting, unrelated pictures do not, the trap and the private section stay closed, and a
crawl killed with SIGKILL resumes without fetching again what it had finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import make_demo_folder
from reclaim.demo.site import PLANTED, DemoSite, serve
from reclaim.demo.story import register_originals
from reclaim.monitor.engine import Monitor
from reclaim.monitor.models import FrontierUrl, MediaUrl, Sighting, UrlState
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.monitor.sightings import list_sightings
from reclaim.monitor.traps import DEFAULT_MAX_CHAIN
from reclaim.store import open_database

from .conftest import SITE_ADDRESS


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoSite]:
    site = serve(SITE_ADDRESS, 0)
    yield site
    site.close()


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_folder(tmp_path_factory.mktemp("demo-media"))


def _settings(data: Path) -> Settings:
    return Settings(data_dir=data, fetch_allow_networks=f"{SITE_ADDRESS}/32", fetch_retries=0)


def _bank_originals(settings: Settings, originals: Path) -> str:
    database = open_database(settings)
    try:
        with database.session() as session:
            return register_originals(session, folder=originals, actor="test").number
    finally:
        database.dispose()


def _add(settings: Settings, kind: str, url: str, **options) -> None:
    database = open_database(settings)
    try:
        with database.session() as session:
            org = cases.get_org(session)
            add_source(
                session,
                org=org,
                kind=kind,
                url=url,
                actor="test",
                options=SourceOptions(min_delay=options.pop("delay", 0.0), **options),
            )
    finally:
        database.dispose()


def _paths(urls: list[str], demo: DemoSite) -> set[str]:
    return {url.removeprefix(demo.base_url) for url in urls}


def test_every_planted_copy_is_found_and_nothing_else(
    tmp_path: Path, demo: DemoSite, originals: Path
) -> None:
    settings = _settings(tmp_path / "data")
    number = _bank_originals(settings, originals)
    base = demo.base_url
    _add(settings, "pages", f"{base}/", max_depth=4)
    _add(settings, "telegram", f"{base}/s/demo_leaks")
    _add(settings, "sitemap", f"{base}/sitemap.xml")
    _add(settings, "feed", f"{base}/feed.xml")
    demo.requests.clear()
    database = open_database(settings)
    try:
        with Monitor(database, settings) as monitor:
            tally = monitor.run_once()
        with database.session() as session:
            org = cases.get_org(session)
            case = cases.get_case(session, org=org, number=number)
            found = list_sightings(session, org=org, case=case)
            media = _paths([s.media_url for s in found], demo)
            pages = {s.media_url.removeprefix(base): s.page_url.removeprefix(base) for s in found}
    finally:
        database.dispose()

    assert media == {p.media_path for p in PLANTED}  # each planted copy, and nothing else
    assert pages["/img/full/t4-screen.png"] == "/s/demo_leaks"
    assert pages["/media/t5.mp4"] == "/thread/5"
    assert tally.sightings == len(PLANTED)
    asked = set(demo.requests)
    assert not any(path.startswith("/private/") for path in asked)
    assert "/img/full/p1.jpg" not in asked  # shown only on the private page
    assert "/go/4" in asked  # the redirect was followed to its thread
    assert "/thread/4" in asked
    assert tally.media_failures >= 1  # the broken image, recorded and passed over


def test_the_endless_calendar_does_not_exhaust_the_crawl(tmp_path: Path, demo: DemoSite) -> None:
    settings = _settings(tmp_path / "data")
    _add(settings, "pages", f"{demo.base_url}/calendar/2026/1", max_depth=100, max_pages=5000)
    demo.requests.clear()
    database = open_database(settings)
    try:
        with Monitor(database, settings) as monitor:
            monitor.run_once()
        with database.session() as session:
            rows = session.scalar(select(func.count()).select_from(FrontierUrl))
    finally:
        database.dispose()
    months = [path for path in demo.requests if path.startswith("/calendar/")]
    assert len(months) <= DEFAULT_MAX_CHAIN + 1
    assert len(months) == len(set(months))
    assert rows is not None
    assert rows < 100  # the rest of the site, once


def test_a_killed_crawl_resumes_without_fetching_finished_work_again(
    tmp_path: Path, demo: DemoSite, originals: Path
) -> None:
    settings = _settings(tmp_path / "data")
    _bank_originals(settings, originals)
    _add(settings, "pages", f"{demo.base_url}/", max_depth=4, delay=0.15)
    env = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(settings.data_dir),
        "RECLAIM_FETCH_ALLOW_NETWORKS": f"{SITE_ADDRESS}/32",
        "RECLAIM_FETCH_RETRIES": "0",
    }
    command = [sys.executable, "-m", "reclaim.cli", "monitor", "run", "--once"]
    demo.requests.clear()
    crawler = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    database = open_database(settings)
    try:
        deadline = time.monotonic() + 120
        while _done(database) < 8:
            assert crawler.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        crawler.send_signal(signal.SIGKILL)
        crawler.wait(30)
        with database.session() as session:
            finished = {
                u.removeprefix(demo.base_url)
                for u in session.scalars(
                    select(FrontierUrl.url).where(FrontierUrl.state == UrlState.DONE)
                )
            }
            recorded = {
                u.removeprefix(demo.base_url) for u in session.scalars(select(MediaUrl.url))
            }
        first_run = list(demo.requests)
        demo.requests.clear()
        resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        second_run = list(demo.requests)
        with database.session() as session:
            left = session.scalar(
                select(func.count())
                .select_from(FrontierUrl)
                .where(FrontierUrl.state.in_((UrlState.QUEUED, UrlState.CLAIMED)))
            )
            sightings = session.scalars(select(Sighting.media_url)).all()
    finally:
        database.dispose()

    assert left == 0
    again = set(second_run) & set(first_run)
    assert not again & finished, "a page finished before the kill was fetched again"
    assert not again & recorded, "a medium handled before the kill was fetched again"
    planted_here = {p.media_path for p in PLANTED if not p.page_path.startswith("/s/")}
    assert _paths(list(sightings), demo) == planted_here


def _done(database) -> int:
    with database.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(FrontierUrl)
                .where(FrontierUrl.state == UrlState.DONE)
            )
            or 0
        )

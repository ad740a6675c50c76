"""Reclaim spread over processes as a deployment runs it: PostgreSQL for state, Redis for
the queues and the shared politeness gate, two ``reclaim worker --queue fetch`` processes
crawling the demo forum. One worker is killed (SIGKILL) while it holds URLs, then Redis
and PostgreSQL are restarted under the other: the crawl still finishes, every planted
copy is found exactly once, and nothing is left in the dead-letter list."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import make_demo_folder
from reclaim.demo.site import PLANTED, DemoSite, serve
from reclaim.demo.story import register_originals
from reclaim.jobs.models import DeadLetter
from reclaim.monitor.models import FrontierUrl, Sighting, Source, UrlState
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.store import open_database
from tests.backends import TEMPLATE
from tests.services import PostgresCluster, RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.one_pass, pytest.mark.timeout(900)]

ADDRESS = "127.0.0.2"


def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def demo() -> Iterator[DemoSite]:
    site = serve(ADDRESS, 0)
    yield site
    site.close()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", durable=True)
    server.start()
    yield server
    server.stop()


def test_workers_survive_a_kill_and_restarts_of_redis_and_postgresql(
    postgres_cluster: PostgresCluster, redis: RedisServer, demo: DemoSite, tmp_path: Path
) -> None:
    name = f"scale_{os.getpid()}"
    postgres_cluster.drop_database(name)
    url = postgres_cluster.create_database(name, template=TEMPLATE)
    env = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(tmp_path / "data"),
        "RECLAIM_DATABASE_URL": url,
        "RECLAIM_QUEUE_URL": redis.url,
        "RECLAIM_FETCH_ALLOW_NETWORKS": f"{ADDRESS}/32",
        "RECLAIM_FETCH_RETRIES": "0",
        "RECLAIM_MONITOR_WORKERS": "2",
        "RECLAIM_JOBS_WORKERS": "2",
    }
    settings = Settings(
        data_dir=tmp_path / "data", database_url=url, queue_url=redis.url, database_pool_size=2
    )
    database = open_database(settings)
    with database.session() as session:
        register_originals(session, folder=make_demo_folder(tmp_path / "originals"), actor="t")
        source_id = add_source(
            session,
            org=cases.get_org(session),
            kind="pages",
            url=f"{demo.base_url}/",
            actor="test",
            options=SourceOptions(min_delay=0.05, max_depth=4),
        ).id

    logs: list[Path] = []

    def start() -> subprocess.Popen[str]:
        logs.append(tmp_path / f"worker-{len(logs)}.log")
        with logs[-1].open("w") as log:  # a file: a full pipe would stall a chatty worker
            return subprocess.Popen(
                [sys.executable, "-m", "reclaim.cli", "worker", "--queue", "fetch"],
                env={**env, "RECLAIM_LOG_LEVEL": "INFO"},
                stdout=subprocess.DEVNULL,
                stderr=log,
                text=True,
            )

    def tails() -> str:
        return "\n".join(f"{log.name}:\n{log.read_text()[-3000:]}" for log in logs)

    def holding(worker: subprocess.Popen[str]) -> bool:
        owner = f"{socket.gethostname()[:100]}:{worker.pid}/%"
        with database.session() as session:
            return bool(
                session.scalar(
                    select(func.count())
                    .select_from(FrontierUrl)
                    .where(
                        FrontierUrl.state == UrlState.CLAIMED,
                        FrontierUrl.claimed_by.like(owner),
                    )
                )
            )

    def finished() -> bool:
        with database.session() as session:
            row = session.get(Source, source_id)
            return row is not None and row.last_finished is not None

    workers = [start(), start()]
    try:
        holders: list[subprocess.Popen[str]] = []
        _until(
            lambda: bool(holders.extend(w for w in workers if holding(w)) or holders),
            120,
            "a worker to take URLs",
        )
        victim = holders[0]
        survivor = next(w for w in workers if w is not victim)
        victim.send_signal(signal.SIGKILL)  # mid-task: its claims and its Huey task are lost
        victim.wait(30)
        redis.restart()
        postgres_cluster.restart()
        try:
            _until(finished, 300, "the crawl to finish")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{tails()}") from None
        assert survivor.poll() is None, tails()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert survivor.returncode == 0, tails()
    with database.session() as session:
        sightings = list(session.execute(select(Sighting.page_url, Sighting.media_url)))
        letters = list(session.scalars(select(DeadLetter)))
        unfinished = session.scalar(
            select(func.count())
            .select_from(FrontierUrl)
            .where(FrontierUrl.state.in_((UrlState.QUEUED, UrlState.CLAIMED)))
        )
    database.dispose()
    media = [media_url.removeprefix(demo.base_url) for _, media_url in sightings]
    assert sorted(media) == sorted(
        {p.media_path for p in PLANTED if not p.page_path.startswith("/s/")}
    )  # each found, and found once
    assert len(set(sightings)) == len(sightings)
    assert unfinished == 0
    assert [(letter.task, letter.error.splitlines()[-1]) for letter in letters] == []

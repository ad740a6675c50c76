"""Reclaim spread over processes as a deployment runs it: PostgreSQL for state, Redis for
the queues and the shared politeness gate, two ``reclaim worker --queue fetch`` processes
crawling the demo forum, a ``--queue hash --queue match`` worker recognising its media
(killed while it holds a file, and replaced), and two ``reclaim serve --role matcher``
replicas (each with a data folder of its own, as on two machines) answering platforms'
lookups.

One worker is killed (SIGKILL) while it holds URLs, then Redis and PostgreSQL are
restarted under the other: the crawl still finishes, every planted copy is found exactly
once, and nothing is left in the dead-letter list. An item banked while the replicas run
is visible on both within seconds; one replica is killed, the banks change while it is
down, and once back (from its snapshot plus the log) it answers as the other does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from reclaim.banks import platforms
from reclaim.banks import service as banks
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import make_demo_folder
from reclaim.demo.site import PLANTED, DemoSite, serve
from reclaim.demo.story import register_originals
from reclaim.jobs.models import DeadLetter
from reclaim.monitor import handoff
from reclaim.monitor.models import FrontierUrl, MediaWork, Sighting, Source, UrlState
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.signals import PdqSignal
from reclaim.store import open_database
from reclaim.store.db import Database
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

    def start(*queues: str) -> subprocess.Popen[str]:
        logs.append(tmp_path / f"worker-{len(logs)}.log")
        chosen = [arg for queue in queues or ("fetch",) for arg in ("--queue", queue)]
        with logs[-1].open("w") as log:  # a file: a full pipe would stall a chatty worker
            return subprocess.Popen(
                [sys.executable, "-m", "reclaim.cli", "worker", *chosen],
                env={**env, "RECLAIM_LOG_LEVEL": "INFO"},
                stdout=subprocess.DEVNULL,
                stderr=log,
                text=True,
            )

    def tails() -> str:
        return "\n".join(f"{log.name}:\n{log.read_text()[-3000:]}" for log in logs)

    def state() -> str:
        """What is left undone, for a failure's message."""
        with database.session() as session:
            urls = session.execute(
                select(FrontierUrl.state, FrontierUrl.claimed_by, func.count()).group_by(
                    FrontierUrl.state, FrontierUrl.claimed_by
                )
            ).all()
            works = session.execute(
                select(
                    MediaWork.id,
                    MediaWork.stage,
                    MediaWork.claimed_by,
                    MediaWork.attempts,
                    MediaWork.queued,
                )
            ).all()
            letters = session.scalars(select(DeadLetter.task)).all()
        return f"frontier: {urls}\nmedia work: {works}\ndead letters: {letters}"

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

    def wait(check: Callable[[], bool], seconds: float, what: str) -> None:
        """:func:`_until`, telling on a timeout what is left undone and the workers' logs."""
        try:
            _until(check, seconds, what)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{state()}\n{tails()}") from None

    def finished() -> bool:
        with database.session() as session:
            row = session.get(Source, source_id)
            done = row is not None and row.last_finished is not None
            return done and handoff.outstanding(session) == 0

    def hashing(worker: subprocess.Popen[str]) -> bool:
        owner = f"{socket.gethostname()[:100]}:{worker.pid}/%"
        with database.session() as session:
            claimed = select(MediaWork.id).where(MediaWork.claimed_by.like(owner)).limit(1)
            return session.scalar(claimed) is not None

    key, banked = _platform_bank(database)
    replicas = [Replica(env, tmp_path / f"matcher-{n}") for n in range(2)]
    workers: list[subprocess.Popen[str]] = []
    media: subprocess.Popen[str] | None = None
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()
        first = list(banked)[:3]
        for replica in replicas:
            assert replica.found(key, first) == [{banked[value]} for value in first]
        # Only now: on a loaded machine the replicas may take a while to be ready, and
        # the crawl must still be under way when a worker is killed.
        workers.extend([start(), start()])
        holders: list[subprocess.Popen[str]] = []
        wait(
            lambda: bool(holders.extend(w for w in workers if holding(w)) or holders),
            120,
            "a worker to take URLs",
        )
        victim = holders[0]
        survivor = next(w for w in workers if w is not victim)
        victim.send_signal(signal.SIGKILL)  # mid-task: its claims and its Huey task are lost
        victim.wait(30)
        doomed = start("hash", "match")  # media have waited for it: it has a backlog
        media = doomed
        wait(lambda: hashing(doomed), 120, "the media worker to take a file")
        doomed.send_signal(signal.SIGKILL)  # mid-hash or mid-match: its work is claimed
        doomed.wait(30)
        media = start("hash", "match")  # puts the dead worker's media work back at once
        redis.restart()
        postgres_cluster.restart()
        wait(finished, 300, "the crawl to finish")
        assert survivor.poll() is None, tails()
        _replicas_follow_the_banks(database, replicas, key, banked)
    finally:
        for replica in replicas:
            replica.stop()
        everyone = [*workers, *([media] if media is not None else [])]
        for worker in everyone:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in everyone:
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert survivor.returncode == 0, tails()
    assert media is not None
    assert media.returncode == 0, tails()
    assert list((tmp_path / "data" / "spool").iterdir()) == []  # every copy removed
    with database.session() as session:
        sightings = list(session.execute(select(Sighting.page_url, Sighting.media_url)))
        letters = list(session.scalars(select(DeadLetter)))
        unfinished = session.scalar(
            select(func.count())
            .select_from(FrontierUrl)
            .where(FrontierUrl.state.in_((UrlState.QUEUED, UrlState.CLAIMED)))
        )
    left = state()
    database.dispose()
    media = [media_url.removeprefix(demo.base_url) for _, media_url in sightings]
    assert sorted(media) == sorted(
        {p.media_path for p in PLANTED if not p.page_path.startswith("/s/")}
    ), f"{left}\n{tails()}"  # each found, and found once
    assert len(set(sightings)) == len(sightings)
    assert unfinished == 0
    assert [(letter.task, letter.error.splitlines()[-1]) for letter in letters] == []


class Replica:
    """A ``reclaim serve --role matcher`` process on a loopback port, with its own data
    folder (its snapshots), as one machine of several would be."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = {**env, "RECLAIM_DATA_DIR": str(folder), "RECLAIM_LOG_LEVEL": "INFO"}
        self.env["RECLAIM_MATCHER_FOLLOW_SECONDS"] = "0.5"
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.log = self.folder / f"serve-{self.starts}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "reclaim.cli", "serve", "--role", "matcher"),
                    *("--no-worker", "--host", "127.0.0.1", "--port", str(port)),
                ],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        _until(ready, 120, f"matcher {self.url} to be ready")

    def found(self, key: str, values: list[str]) -> list[set[str]]:
        """The banked hashes each looked-up hash matched (its item ids' hashes)."""
        answer = httpx.post(
            f"{self.url}/v1/match",
            headers={"Authorization": f"Bearer {key}"},
            json={"signals": [{"type": "pdq", "value": value} for value in values]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return [{m["item_id"] for m in r["matches"]} for r in answer.json()["results"]]

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _platform_bank(database: Database) -> tuple[str, dict[str, str]]:
    """A bank of 200 verified hashes and an API key for it: the key, and each hash's item
    id."""
    rng = np.random.default_rng(3)
    values = [rng.bytes(32).hex() for _ in range(200)]
    with database.session() as session:
        org = cases.get_org(session)
        bank = banks.create_bank(session, org=org, name="shared")
        items = banks.add_items(
            session,
            bank=bank,
            actor="t",
            verified=True,
            items=[
                banks.NewItem([PdqSignal(v, 100)], f"hash {i}", "t") for i, v in enumerate(values)
            ],
        )
        key = platforms.create_key(session, org=org, name="platform", banks_=[bank])[1]
    return key, {value: item.public_id for value, item in zip(values, items, strict=True)}


def _replicas_follow_the_banks(
    database: Database, replicas: list[Replica], key: str, banked: dict[str, str]
) -> None:
    values, ids = list(banked), list(banked.values())
    for replica in replicas:  # the restarts of PostgreSQL did not break them
        assert replica.found(key, values[:2]) == [{ids[0]}, {ids[1]}]
    rng = np.random.default_rng(4)
    added = rng.bytes(32).hex()
    with database.session() as session:
        bank = banks.get_bank(session, org=cases.get_org(session), name="shared")
        (item,) = banks.add_items(
            session,
            bank=bank,
            actor="t",
            verified=True,
            items=[banks.NewItem([PdqSignal(added, 100)], "new", "t")],
        )
        added_id = item.public_id
    for replica in replicas:  # the next lookup on every replica sees it
        assert replica.found(key, [added]) == [{added_id}]

    down, up = replicas
    down.kill()
    later = rng.bytes(32).hex()
    with database.session() as session:  # while it is down: a withdrawal and an add
        bank = banks.get_bank(session, org=cases.get_org(session), name="shared")
        banks.withdraw_item(session, bank=bank, public_id=ids[1], actor="survivor")
        (item,) = banks.add_items(
            session,
            bank=bank,
            actor="t",
            verified=True,
            items=[banks.NewItem([PdqSignal(later, 100)], "later", "t")],
        )
        later_id = item.public_id
    down.start()
    down.wait_ready()
    assert "from the snapshot" in down.log.read_text(), down.log.read_text()[-3000:]
    query = [values[0], values[1], added, later]
    expected = [{ids[0]}, set(), {added_id}, {later_id}]
    assert down.found(key, query) == expected
    assert up.found(key, query) == expected

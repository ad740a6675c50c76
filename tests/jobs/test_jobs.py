"""The task queue: retries with a doubling delay, the dead-letter list, and the monitor's
crawl run as tasks by a consumer until the demo forum's copies are all found."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import make_demo_folder
from reclaim.demo.site import PLANTED, DemoSite, serve
from reclaim.demo.story import register_originals
from reclaim.jobs.queue import Jobs, Queue, TaskSpec
from reclaim.monitor import handoff
from reclaim.monitor.jobs import SCHEDULE
from reclaim.monitor.models import Sighting, Source
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.store import open_database

ADDRESS = "127.0.0.2"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(check: Callable[[], bool], seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        fetch_allow_networks=f"{ADDRESS}/32",
        fetch_retries=0,
        monitor_workers=2,
    )


def test_a_failing_task_is_retried_with_backoff_then_dead_lettered(settings: Settings) -> None:
    calls: list[tuple[int, float]] = []
    lock = threading.Lock()

    def provider(jobs: Jobs) -> list[TaskSpec]:
        def flaky(number: int) -> None:
            with lock:
                calls.append((number, time.monotonic()))
            raise RuntimeError(f"boom {number}")

        return [TaskSpec("test.flaky", flaky, Queue.FETCH, retries=2, retry_delay=0.3)]

    jobs = Jobs(settings, providers=[provider])
    try:
        jobs.start(workers=1)
        jobs.enqueue("test.flaky", 7)
        _until(lambda: len(jobs.dead_letters()) == 1, 30)
        assert [number for number, _ in calls] == [7, 7, 7]  # the first try and two retries
        first, second = calls[1][1] - calls[0][1], calls[2][1] - calls[1][1]
        assert first >= 0.3
        assert second >= 0.6  # the delay doubles
        (letter,) = jobs.dead_letters()
        assert letter.task == "test.flaky"
        assert letter.args == [7]
        assert "boom 7" in letter.error
        assert letter.retried is None
        jobs.retry(letter.id)
        _until(lambda: len(jobs.dead_letters()) == 2, 30)
        assert len(calls) == 6
        assert jobs.dead_letters()[0].retried is not None
        with pytest.raises(LookupError):
            jobs.retry(999)
        with pytest.raises(LookupError, match="no task"):
            jobs.enqueue("test.nonexistent")
    finally:
        jobs.close()


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoSite]:
    site = serve(ADDRESS, 0)
    yield site
    site.close()


def test_the_monitor_runs_as_tasks(settings: Settings, demo: DemoSite, tmp_path: Path) -> None:
    originals = make_demo_folder(tmp_path / "originals")
    jobs = Jobs(settings)
    try:
        database = jobs.database()
        with database.session() as session:
            register_originals(session, folder=originals, actor="test")
            org = cases.get_org(session)
            source = add_source(
                session,
                org=org,
                kind="pages",
                url=f"{demo.base_url}/",
                actor="test",
                options=SourceOptions(min_delay=0.0, max_depth=4),
            )
            source_id = source.id
        jobs.start(workers=2)
        jobs.enqueue(SCHEDULE)

        def finished() -> bool:
            with database.session() as session:
                row = session.get(Source, source_id)
                done = row is not None and row.last_finished is not None
                return done and handoff.outstanding(session) == 0

        _until(finished)
        with database.session() as session:
            found = {
                url.removeprefix(demo.base_url)
                for url in session.scalars(select(Sighting.media_url))
            }
        assert found == {p.media_path for p in PLANTED if not p.page_path.startswith("/s/")}
        assert jobs.dead_letters() == []
        assert list(settings.resolved_spool_dir.iterdir()) == []  # every copy removed
    finally:
        jobs.close()


def test_reclaim_worker_crawls_due_sources_and_stops_on_sigterm(
    settings: Settings, demo: DemoSite, tmp_path: Path
) -> None:
    jobs = Jobs(settings)
    try:
        with jobs.database().session() as session:
            org = cases.get_org(session)
            source_id = add_source(
                session,
                org=org,
                kind="pages",
                url=f"{demo.base_url}/board?page=1",
                actor="test",
                options=SourceOptions(min_delay=0.0, max_depth=1),
            ).id
    finally:
        jobs.close()
    env = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(settings.data_dir),
        "RECLAIM_FETCH_ALLOW_NETWORKS": f"{ADDRESS}/32",
    }
    port = _free_port()
    worker = subprocess.Popen(
        [sys.executable, "-m", "reclaim.cli", "worker", "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    database = open_database(settings)
    try:

        def finished() -> bool:
            with database.session() as session:
                row = session.get(Source, source_id)
                return row is not None and row.last_finished is not None

        _until(finished)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'reclaim_queue_depth{queue="fetch"}' in metrics
        assert 'reclaim_frontier_urls{state="done"}' in metrics
        assert 'reclaim_queue_depth{queue="hash"}' in metrics
        assert "# TYPE reclaim_media_work gauge" in metrics
        assert 'reclaim_task_seconds_count{outcome="ok",task="monitor.crawl"}' in metrics
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
        database.dispose()
    assert worker.returncode == 0, stderr
    failed = subprocess.run(
        [sys.executable, "-m", "reclaim.cli", "jobs", "failed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 0, failed.stderr
    assert failed.stdout == ""

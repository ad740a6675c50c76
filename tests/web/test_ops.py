"""What an operator's tools ask: liveness, readiness (database reachable and at this
release's schema) and Prometheus metrics (loopback only unless configured), and the task
and match latencies and installation-wide gauges they show."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from reclaim.banks import platforms
from reclaim.banks import service as banks
from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.jobs.queue import Jobs, Queue, TaskSpec
from reclaim.observe import StateCollector, exposition
from reclaim.store import open_database
from reclaim.web.app import Role, create_app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # the test client's peer is "testclient"; give it a loopback address as a real one has
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 50000)) as test_client:
        yield test_client


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _ready(client: TestClient) -> dict:
    """The readiness answer once the matchers have loaded (a thread does it at start)."""
    deadline = time.monotonic() + 60
    while (answer := client.get("/readyz")).json()["checks"].get("matchers") == "loading":
        assert time.monotonic() < deadline, "the matchers never loaded"
        time.sleep(0.05)
    return {"status": answer.status_code, **answer.json()}


def test_health_and_readiness(client: TestClient, settings: Settings) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert _ready(client) == {
        "status": 200,
        "ready": True,
        "checks": {"database": "ok", "matchers": "ok"},
    }
    database = open_database(settings)
    try:
        head = database.head_revision()
        database.downgrade("0015")  # an upgrade half done: this release cannot work yet
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == f"schema at 0015, this release needs {head}"
        database.upgrade()
        assert client.get("/readyz").status_code == 200
    finally:
        database.dispose()


def test_a_matcher_is_not_ready_before_its_banks_are_loaded(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load balancer must not send lookups to a replica still loading 10M hashes."""
    loading = threading.Event()
    release = threading.Event()
    original = MatcherCache.preload

    def slow_preload(cache: MatcherCache, *args: Any, **kwargs: Any) -> int:
        loading.set()
        release.wait(30)
        return original(cache, *args, **kwargs)

    monkeypatch.setattr(MatcherCache, "preload", slow_preload)
    with TestClient(create_app(settings, frozenset({Role.MATCHER}))) as client:
        assert loading.wait(30)
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"] == {"database": "ok", "matchers": "loading"}
        release.set()
        assert _ready(client)["status"] == 200
    with TestClient(create_app(settings, frozenset({Role.PORTAL}))) as client:
        assert client.get("/readyz").json()["checks"] == {"database": "ok"}  # holds no banks


def test_metrics_show_state_and_match_latency(client: TestClient, settings: Settings) -> None:
    database = open_database(settings)
    with database.session() as session:
        org = cases.get_org(session)
        bank = banks.create_bank(session, org=org, name="main")
        token = platforms.create_key(session, org=org, name="p", banks_=[bank])[1]
    database.dispose()
    answer = client.post(
        "/v1/match",
        json={"signals": [{"type": "pdq", "value": "0f" * 32}]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(metrics.text)
    assert samples[("reclaim_database_up", ())] == 1
    assert samples[("reclaim_match_seconds_count", (("kind", "hashes"),))] >= 1
    assert samples[("reclaim_dead_letters", ())] == 0
    assert ("process_resident_memory_bytes", ()) in samples
    assert token not in metrics.text


def test_metrics_are_refused_to_other_networks(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.9", 40000)) as outside:
        assert outside.get("/metrics").status_code == 403
        assert outside.get("/healthz").status_code == 200
    allowed = Settings(data_dir=settings.data_dir, metrics_allow_networks="203.0.113.0/24")
    with TestClient(create_app(allowed), client=("203.0.113.9", 40000)) as scraper:
        assert scraper.get("/metrics").status_code == 200
    with pytest.raises(ValidationError, match="CIDR"):
        Settings(data_dir=settings.data_dir, metrics_allow_networks="10.0.0.0/33")


def test_tasks_are_timed_and_queues_counted(settings: Settings) -> None:
    def provider(jobs: Jobs) -> list[TaskSpec]:
        def fails() -> None:
            raise RuntimeError("no")

        return [
            TaskSpec("test.ok", lambda: None, Queue.SEND),
            TaskSpec("test.fails", fails, Queue.SEND, retries=0),
        ]

    jobs = Jobs(settings, providers=[provider])
    try:
        before = _samples(exposition().decode())
        jobs.enqueue("test.ok")
        jobs.enqueue("test.fails")
        jobs.enqueue("test.ok")
        collector = StateCollector(jobs.database(), jobs.depths)
        depth = {m.name: m.samples for m in collector.collect()}["reclaim_queue_depth"]
        assert [(s.labels, s.value) for s in depth] == [({"queue": "send"}, 3)]
        jobs.start(workers=1)
        deadline = time.monotonic() + 30
        while jobs.depth(Queue.SEND) or len(jobs.dead_letters()) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        jobs.stop()
        after = _samples(exposition().decode())

        def count(task: str, outcome: str) -> float:
            key = ("reclaim_task_seconds_count", (("outcome", outcome), ("task", task)))
            return after.get(key, 0) - before.get(key, 0)

        assert count("test.ok", "ok") == 2
        assert count("test.fails", "error") == 1
        gauges = {m.name: m for m in StateCollector(jobs.database()).collect()}
        assert gauges["reclaim_dead_letters"].samples[0].value == 1
    finally:
        jobs.close()

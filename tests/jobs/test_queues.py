"""Named queues on either storage (a SQLite file, or Redis for workers on several
machines): tasks land on their own queue, a consumer runs only the queues it is given, a
periodic task is enqueued once per period however many consumers run its queue and goes
ahead of the tasks waiting there, and a Redis queue of an earlier release (a list) is
kept, in order."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reclaim.config import Settings
from reclaim.jobs.queue import Jobs, Queue, TaskSpec
from tests.services import RedisServer, redis_server


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["sqlite", "redis"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis")
        import redis

        redis.Redis.from_url(server.url).flushall()
        return Settings(data_dir=tmp_path / "data", queue_url=server.url)
    return Settings(data_dir=tmp_path / "data")


def _until(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


class Ran:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def provider(self, jobs: Jobs) -> list[TaskSpec]:
        def record(name: str) -> Callable[[int], None]:
            def run(number: int) -> None:
                with self.lock:
                    self.calls.append((name, number))

            return run

        return [
            TaskSpec("test.fetch", record("fetch"), Queue.FETCH),
            TaskSpec("test.send", record("send"), Queue.SEND),
            TaskSpec("test.tick", lambda: None, Queue.SEND, every_minutes=1),
        ]


def test_a_consumer_runs_only_its_queues(settings: Settings) -> None:
    ran = Ran()
    producer = Jobs(settings, providers=[ran.provider])
    sender = Jobs(settings, providers=[ran.provider])
    try:
        assert producer.queues == [Queue.FETCH, Queue.SEND]
        for number in range(3):
            producer.enqueue("test.fetch", number)
            producer.enqueue("test.send", number)
        assert producer.depth(Queue.FETCH) == 3
        assert producer.depth(Queue.SEND) == 3
        sender.start(workers=2, queues=[Queue.SEND])
        _until(lambda: producer.depth(Queue.SEND) == 0 and len(ran.calls) == 3)
        assert sorted(ran.calls) == [("send", 0), ("send", 1), ("send", 2)]
        assert producer.depth(Queue.FETCH) == 3  # nobody runs the fetch queue
        assert producer.pending("test.fetch") == [(0,), (1,), (2,)]
        with pytest.raises(LookupError, match="no tasks on queue"):
            sender.start(queues=[Queue.CAPTURE])
    finally:
        sender.close()
        producer.close()


def test_a_period_is_claimed_by_one_consumer(settings: Settings) -> None:
    ran = Ran()
    first = Jobs(settings, providers=[ran.provider])
    second = Jobs(settings, providers=[ran.provider])
    try:
        minute = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
        for offset in range(15):
            moment = minute + timedelta(minutes=offset)
            one = [t.name for t in first._queue(Queue.SEND).read_periodic(moment)]
            two = [t.name for t in second._queue(Queue.SEND).read_periodic(moment)]
            assert sorted(one + two) == ["test.tick"], moment
            if offset:  # a consumer whose clock runs a minute late does not run the last again
                late = second._queue(Queue.SEND).read_periodic(moment - timedelta(minutes=1))
                assert late == []
    finally:
        first.close()
        second.close()


class Ordered:
    """Tasks that note the order they ran in: on-demand work and a periodic resume."""

    def __init__(self) -> None:
        self.order: list[object] = []
        self.lock = threading.Lock()

    def _note(self, what: object) -> None:
        with self.lock:
            self.order.append(what)

    def provider(self, jobs: Jobs) -> list[TaskSpec]:
        return [
            TaskSpec("test.work", self._note, Queue.HASH),
            TaskSpec("test.resume", lambda: self._note("resume"), Queue.HASH, every_minutes=60),
        ]

    def work(self) -> list[object]:
        with self.lock:
            return [what for what in self.order if what != "resume"]


def test_periodic_tasks_go_ahead_of_a_backlog(settings: Settings) -> None:
    ran = Ordered()
    jobs = Jobs(settings, providers=[ran.provider])
    try:
        for number in range(20):
            jobs.enqueue("test.work", number)
        jobs.enqueue("test.resume")  # as the scheduler enqueues it, behind 20 waiting tasks
        jobs.start(workers=1, queues=[Queue.HASH])
        _until(lambda: len(ran.work()) == 20)
        assert ran.order[0] == "resume"
        assert ran.work() == list(range(20))  # the backlog itself in its order
    finally:
        jobs.close()


def test_a_list_queue_of_an_earlier_release_is_kept_in_order(
    redis: RedisServer, tmp_path: Path
) -> None:
    import huey
    import redis as redis_client

    connection = redis_client.Redis.from_url(redis.url)
    connection.flushall()
    earlier = huey.RedisHuey("reclaim.hash", url=redis.url, results=False, utc=True)
    work = earlier.task(name="test.work")(lambda number: None)
    for number in range(5):
        work(number)
    assert connection.type("huey.redis.reclaimhash") == b"list"
    ran = Ordered()
    jobs = Jobs(Settings(data_dir=tmp_path / "data", queue_url=redis.url), providers=[ran.provider])
    try:
        assert jobs.depth(Queue.HASH) == 5
        assert connection.type("huey.redis.reclaimhash") == b"zset"
        jobs.enqueue("test.work", 5)
        jobs.enqueue("test.resume")
        assert (
            Jobs(Settings(data_dir=tmp_path / "other", queue_url=redis.url)).depth(Queue.HASH) == 7
        )  # a second process finds it converted and leaves it so
        jobs.start(workers=1, queues=[Queue.HASH])
        _until(lambda: len(ran.work()) == 6)
        assert ran.order == ["resume", 0, 1, 2, 3, 4, 5]
    finally:
        jobs.close()
        earlier.storage.close()


def test_queues_are_declared_while_redis_is_away(tmp_path: Path) -> None:
    away = Settings(data_dir=tmp_path / "data", queue_url=f"unix://{tmp_path / 'none.sock'}")
    jobs = Jobs(away, providers=[Ordered().provider])
    try:
        assert jobs.queues == [Queue.HASH]  # declared; the queue's format is checked later
    finally:
        jobs.close()


def test_the_worker_refuses_an_unknown_queue(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reclaim.cli", "worker", "--queue", "nonsense"],
        env={"RECLAIM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown queue" in result.stderr
    assert "fetch, hash, match, capture, send, recheck" in result.stderr


def test_the_worker_says_where_sweeps_run(tmp_path: Path) -> None:
    from tests.cli import run

    result = run({"RECLAIM_DATA_DIR": str(tmp_path)}, "worker", "--queue", "sweep")
    assert result.returncode == 2
    assert "reclaim sweep lan" in result.stderr

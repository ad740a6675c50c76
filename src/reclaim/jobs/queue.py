"""Reclaim's task queues: Huey, kept in a SQLite file in the data folder (the embedded
default) or in Redis (``RECLAIM_QUEUE_URL``) for workers on many machines.

Tasks are declared as :class:`TaskSpec` by the packages that own them (one provider
function each, listed in :mod:`reclaim.jobs.registry`), each on one of the named
:class:`Queue` s, and run by consumers: in-process threads (:meth:`Jobs.start`, for
``reclaim serve``) or a worker process (:meth:`Jobs.run`, ``reclaim worker [--queue
NAME]``) that takes tasks from some queues only. A task that raises is retried with a
doubling delay; one that fails its last retry lands in the dead-letter list
(:class:`~reclaim.jobs.models.DeadLetter`) with its arguments and the error, where a person
can see it and send it back. A periodic task runs once per period however many workers
run its queue: the first consumer to claim the period in the queue's storage enqueues it.

Huey takes a task off the queue before running it, so a worker killed mid-task loses
that task: tasks here keep their real state in the database (the crawl frontier, for
instance) and a periodic task puts any work left behind back in the queue.

Periodic tasks go ahead of the tasks waiting in their queue (:data:`PERIODIC_PRIORITY`):
the monitor's scheduler and ``media.resume`` would otherwise wait behind a backlog of
thousands of media to hash. In Redis a queue is therefore a sorted set (Huey's priority
queue); a queue left as a list by an earlier release is converted, in order and in one
step, by the first process that opens it.
"""

from __future__ import annotations

import enum
import functools
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from huey import Huey, PriorityRedisHuey, SqliteHuey, crontab
from huey.api import Task, TaskWrapper
from huey.consumer import Consumer
from huey.signals import SIGNAL_ERROR
from sqlalchemy import select

from reclaim.config import Settings
from reclaim.jobs.models import DeadLetter
from reclaim.observe import TASK_SECONDS
from reclaim.store.base import utcnow
from reclaim.store.db import Database, open_database

log = logging.getLogger(__name__)

T = TypeVar("T")


class Queue(enum.StrEnum):
    """The queues a worker can be told to take tasks from."""

    FETCH = "fetch"
    """The monitor: scheduling rounds and crawling (fetch pages, extract, spool media)."""
    HASH = "hash"
    """Decoding and hashing the media fetched (isolated decoding processes: cores)."""
    MATCH = "match"
    """Matching media in the banks and recording sightings (the banks' index: memory)."""
    CAPTURE = "capture"
    """Evidence captures of confirmed sightings (Chromium)."""
    SEND = "send"
    """Drafting, sending and escalating takedown notices; survivors' news by e-mail."""
    RECHECK = "recheck"
    """Re-checking that removed content stays gone."""


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One kind of task: its stable name, its code, its queue, and how it is retried or
    scheduled."""

    name: str
    run: Callable[..., None]
    queue: Queue
    retries: int = 3
    retry_delay: float = 10.0
    """Seconds before the first retry; each further retry waits twice as long."""
    every_minutes: int | None = None
    """Run periodically (every this many minutes) instead of on demand."""


Provider = Callable[["Jobs"], Sequence[TaskSpec]]


class _OncePerPeriod:
    """A Huey whose periodic tasks are enqueued by one consumer only, whichever claims the
    period first in the shared storage (several workers run the same queue)."""

    storage: Any
    _KEEP = 10  # periods remembered per task (later ones may come from a slow clock)

    def read_periodic(self, timestamp: datetime | None) -> list[Task]:
        if timestamp is None:
            timestamp = self._get_timestamp()  # type: ignore[attr-defined]
        due: list[Task] = super().read_periodic(timestamp)  # type: ignore[misc]
        minute = int(timestamp.replace(tzinfo=UTC).timestamp() // 60)
        claimed = []
        for task in due:
            if self.storage.put_if_empty(f"reclaim.period.{task.name}.{minute}", b"1"):
                claimed.append(task)
                self.storage.delete_data(f"reclaim.period.{task.name}.{minute - self._KEEP}")
        return claimed


class _SqliteQueue(_OncePerPeriod, SqliteHuey):  # type: ignore[misc]
    pass


class _RedisQueue(_OncePerPeriod, PriorityRedisHuey):  # type: ignore[misc]
    pass


PERIODIC_PRIORITY = 10
"""Periodic tasks run before the on-demand tasks waiting in their queue (priority 0)."""

_LIST_TO_SORTED_SET = """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'list' then return 0 end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
local n = #items
local first = tonumber(ARGV[1]) - n
for i = n, 1, -1 do
  redis.call('ZADD', KEYS[1], 0, struct.pack('>I8', first + n - i) .. items[i])
end
return n
"""
"""An earlier release's queue (a list: LPUSH in, BRPOP out, so the oldest is last) as
Huey's priority queue (a sorted set of 8-byte-timestamp-prefixed tasks, score minus the
priority), oldest first, all at priority 0, stamped before any task enqueued from now."""


def _convert_list_queue(huey: Huey) -> None:
    """Convert ``huey``'s queue if an earlier release left it a list. Redis being away
    is logged, not raised (a process may start before Redis): consumers try again when
    they start."""
    import redis

    storage = huey.storage
    try:
        moved = storage.conn.eval(
            _LIST_TO_SORTED_SET, 1, storage.queue_key, str(int(time.time() * 1e6))
        )
    except (redis.ConnectionError, redis.TimeoutError) as error:
        log.warning("queue %s: format not checked, Redis is away: %s", huey.name, error)
        return
    if moved:
        log.warning("queue %s: %d waiting tasks moved to the priority queue", huey.name, moved)


def _timed(spec: TaskSpec) -> Callable[..., None]:
    """``spec.run``, its time and outcome counted in ``reclaim_task_seconds``."""

    @functools.wraps(spec.run)
    def run(*args: Any) -> None:
        started, outcome = time.perf_counter(), "error"
        try:
            spec.run(*args)
            outcome = "ok"
        finally:
            TASK_SECONDS.labels(spec.name, outcome).observe(time.perf_counter() - started)

    return run


class Jobs:
    """The queues, their tasks, the resources they share, and consumers when they run."""

    def __init__(self, settings: Settings, *, providers: Sequence[Provider] | None = None) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self._queues: dict[Queue, Huey] = {}
        self._tasks: dict[str, tuple[Huey, TaskWrapper]] = {}
        self._resources: dict[str, tuple[Any, Callable[[Any], None]]] = {}
        self._lock = threading.RLock()  # a resource may be made of others (monitor: database)
        self._consumers: list[Consumer] = []
        self._redis: Any = None
        if providers is None:
            from reclaim.jobs.registry import PROVIDERS

            providers = PROVIDERS
        for provide in providers:
            for spec in provide(self):
                self._register(spec)

    # -- queues and tasks -------------------------------------------------------------

    def _queue(self, queue: Queue) -> Huey:
        if queue not in self._queues:
            name = f"reclaim.{queue.value}"
            url = self.settings.queue_url
            huey: Huey
            if url is None:
                filename = str(self.settings.data_dir / "jobs.sqlite3")
                huey = _SqliteQueue(name, filename=filename, results=False, utc=True)
            else:
                if self._redis is None:
                    import redis

                    self._redis = redis.ConnectionPool.from_url(url, health_check_interval=30)
                huey = _RedisQueue(name, connection_pool=self._redis, results=False, utc=True)
                _convert_list_queue(huey)
            huey.signal(SIGNAL_ERROR)(self._on_error)
            self._queues[queue] = huey
        return self._queues[queue]

    def _register(self, spec: TaskSpec) -> None:
        if spec.name in self._tasks:
            raise ValueError(f"task {spec.name!r} is registered twice")
        huey = self._queue(spec.queue)
        run = _timed(spec)
        if spec.every_minutes is not None:
            schedule = crontab(minute=f"*/{spec.every_minutes}")
            wrapper = huey.periodic_task(schedule, name=spec.name, priority=PERIODIC_PRIORITY)(run)
        else:
            wrapper = huey.task(
                name=spec.name,
                retries=spec.retries,
                retry_delay=spec.retry_delay,
                retry_backoff=2,
            )(run)
        self._tasks[spec.name] = (huey, wrapper)

    @property
    def names(self) -> list[str]:
        return sorted(self._tasks)

    @property
    def queues(self) -> list[Queue]:
        """The queues that have tasks."""
        return sorted(self._queues)

    def enqueue(self, name: str, *args: Any) -> None:
        """Queue the task ``name`` with ``args`` (plain, picklable values)."""
        try:
            _, task = self._tasks[name]
        except KeyError:
            raise LookupError(f"no task {name!r} (known: {', '.join(self.names)})") from None
        task(*args)

    def pending(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of each queued task ``name`` (not those running now)."""
        huey, _ = self._tasks[name]
        return [tuple(t.args) for t in huey.pending() if t.name == name]

    def depth(self, queue: Queue) -> int:
        """How many tasks wait in ``queue`` (not those scheduled for later retries)."""
        return int(self._queue(queue).pending_count())

    def depths(self) -> dict[str, int]:
        """How many tasks wait in each queue (asks the queue storage: a health check too)."""
        return {queue.value: self.depth(queue) for queue in self.queues}

    # -- resources shared by the tasks of this process ------------------------------------

    def resource(self, key: str, make: Callable[[], T], close: Callable[[T], None]) -> T:
        """The process's one ``key`` resource, made on first use, closed by :meth:`close`."""
        with self._lock:
            if key not in self._resources:
                self._resources[key] = (make(), close)
            value: T = self._resources[key][0]
            return value

    def database(self) -> Database:
        return self.resource("database", lambda: open_database(self.settings), Database.dispose)

    # -- dead letters ------------------------------------------------------------------

    def _on_error(self, signal: str, task: Task, exc: BaseException | None = None) -> None:
        if task.retries:  # it will be retried: not dead yet
            return
        error = "".join(traceback.format_exception(exc)) if exc is not None else "failed"
        log.error("task %s%s failed after its last retry: %s", task.name, task.args, exc)
        try:
            with self.database().session() as session:
                session.add(DeadLetter(task=task.name, args=list(task.args), error=error[-8000:]))
        except Exception:  # the database itself may be why it failed: keep the log line
            log.exception("could not record the dead letter of %s", task.name)

    def dead_letters(self) -> list[DeadLetter]:
        with self.database().session() as session:
            return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))

    def retry(self, letter_id: int) -> DeadLetter:
        """Send a dead letter's task back to the queue, with its arguments."""
        with self.database().session() as session:
            letter = session.get(DeadLetter, letter_id)
            if letter is None:
                raise LookupError(f"no dead letter {letter_id}")
            self.enqueue(letter.task, *letter.args)
            letter.retried = utcnow()
            return letter

    # -- consumers -----------------------------------------------------------------------

    def start(self, workers: int = 2, queues: Sequence[Queue] | None = None) -> None:
        """Run the tasks of ``queues`` (all by default) on threads of this process, each
        queue with ``workers`` threads (no signal handlers: the host owns them)."""
        for queue in self._chosen(queues):
            if isinstance(self._queue(queue), _RedisQueue):
                _convert_list_queue(self._queue(queue))
            consumer = self._queue(queue).create_consumer(
                workers=workers,
                worker_type="thread",
                periodic=True,
                check_worker_health=False,
                scheduler_interval=1,
            )
            consumer.scheduler.start()
            for _, thread in consumer.worker_threads:
                thread.start()
            self._consumers.append(consumer)

    def run(self, workers: int = 2, queues: Sequence[Queue] | None = None) -> None:
        """Run the tasks of ``queues`` in the foreground until SIGINT or SIGTERM (``reclaim
        worker``), then let running tasks finish."""
        stopping = threading.Event()

        def stop(signum: int, _frame: object) -> None:
            log.info("received %s: finishing running tasks", signal.Signals(signum).name)
            stopping.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start(workers, queues)
            stopping.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def _chosen(self, queues: Sequence[Queue] | None) -> list[Queue]:
        if queues is None:
            return self.queues
        unknown = [q for q in queues if q not in self._queues]
        if unknown:
            raise LookupError(f"no tasks on queue(s): {', '.join(map(str, unknown))}")
        return list(dict.fromkeys(queues))

    def stop(self) -> None:
        """Stop the consumers started by :meth:`start`, letting running tasks finish."""
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            consumer.stop(graceful=True)

    def close(self) -> None:
        self.stop()
        with self._lock:
            resources, self._resources = self._resources, {}
        for value, close in reversed(list(resources.values())):
            close(value)
        for huey in self._queues.values():
            huey.storage.close()
        if self._redis is not None:
            self._redis.disconnect()

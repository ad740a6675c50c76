"""Reclaim's task queue: Huey, with its queue in a SQLite file in the data folder.

Tasks are declared as :class:`TaskSpec` by the packages that own them (one provider
function each, listed in :mod:`reclaim.jobs.registry`) and run by a consumer: in-process
threads (:meth:`Jobs.start`, for ``reclaim serve``) or a worker process (:meth:`Jobs.run`,
``reclaim worker``). A task that raises is retried with a doubling delay; one that fails
its last retry lands in the dead-letter list (:class:`~reclaim.jobs.models.DeadLetter`)
with its arguments and the error, where a person can see it and send it back.

Huey takes a task off the queue before running it, so a worker killed mid-task loses
that task: tasks here keep their real state in the database (the crawl frontier, for
instance) and a periodic task puts any work left behind back in the queue.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from huey import SqliteHuey, crontab
from huey.api import Task, TaskWrapper
from huey.consumer import Consumer
from huey.signals import SIGNAL_ERROR
from sqlalchemy import select

from reclaim.config import Settings
from reclaim.jobs.models import DeadLetter
from reclaim.store.base import utcnow
from reclaim.store.db import Database, open_database

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One kind of task: its stable name, its code, and how it is retried or scheduled."""

    name: str
    run: Callable[..., None]
    retries: int = 3
    retry_delay: float = 10.0
    """Seconds before the first retry; each further retry waits twice as long."""
    every_minutes: int | None = None
    """Run periodically (every this many minutes) instead of on demand."""


Provider = Callable[["Jobs"], Sequence[TaskSpec]]


class Jobs:
    """The queue, its tasks, the resources they share, and a consumer when one runs."""

    def __init__(self, settings: Settings, *, providers: Sequence[Provider] | None = None) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.huey = SqliteHuey(
            "reclaim", filename=str(settings.data_dir / "jobs.sqlite3"), results=False, utc=True
        )
        self.huey.signal(SIGNAL_ERROR)(self._on_error)
        self._tasks: dict[str, TaskWrapper] = {}
        self._resources: dict[str, tuple[Any, Callable[[Any], None]]] = {}
        self._lock = threading.RLock()  # a resource may be made of others (monitor: database)
        self._consumer: Consumer | None = None
        if providers is None:
            from reclaim.jobs.registry import PROVIDERS

            providers = PROVIDERS
        for provide in providers:
            for spec in provide(self):
                self._register(spec)

    # -- tasks -------------------------------------------------------------------------

    def _register(self, spec: TaskSpec) -> None:
        if spec.name in self._tasks:
            raise ValueError(f"task {spec.name!r} is registered twice")
        if spec.every_minutes is not None:
            schedule = crontab(minute=f"*/{spec.every_minutes}")
            wrapper = self.huey.periodic_task(schedule, name=spec.name)(spec.run)
        else:
            wrapper = self.huey.task(
                name=spec.name,
                retries=spec.retries,
                retry_delay=spec.retry_delay,
                retry_backoff=2,
            )(spec.run)
        self._tasks[spec.name] = wrapper

    @property
    def names(self) -> list[str]:
        return sorted(self._tasks)

    def enqueue(self, name: str, *args: Any) -> None:
        """Queue the task ``name`` with ``args`` (plain, picklable values)."""
        try:
            task = self._tasks[name]
        except KeyError:
            raise LookupError(f"no task {name!r} (known: {', '.join(self.names)})") from None
        task(*args)

    def pending(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of each queued task ``name`` (not those running now)."""
        return [tuple(t.args) for t in self.huey.pending() if t.name == name]

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

    def start(self, workers: int = 2) -> None:
        """Run tasks on threads of this process (no signal handlers: the host owns them)."""
        consumer = self._make_consumer(workers)
        consumer.scheduler.start()
        for _, thread in consumer.worker_threads:
            thread.start()
        self._consumer = consumer

    def run(self, workers: int = 2) -> None:
        """Run tasks in the foreground until SIGINT or SIGTERM (``reclaim worker``)."""
        self._consumer = self._make_consumer(workers)
        self._consumer.run()

    def _make_consumer(self, workers: int) -> Consumer:
        consumer: Consumer = self.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=True,
            check_worker_health=False,
            scheduler_interval=1,
        )
        return consumer

    def stop(self) -> None:
        """Stop a consumer started by :meth:`start`, letting running tasks finish."""
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None

    def close(self) -> None:
        self.stop()
        with self._lock:
            resources, self._resources = self._resources, {}
        for value, close in reversed(list(resources.values())):
            close(value)
        self.huey.storage.close()

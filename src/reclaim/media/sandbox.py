"""Run decoding of untrusted files in worker processes that can be killed.

Each worker has an address-space limit (``RLIMIT_AS``) and each task a wall-clock limit.
A task over its time is ended by killing its worker; a worker that dies (a decoder bug,
memory exhaustion) costs only its current file. Either way a replacement worker starts
and the batch goes on. Results come back in the order the items were given.

A task's clock starts when a worker that has finished starting (its imports done) takes
it, so a slow start on a loaded machine is never charged to the first file as a timeout.
Workers that cannot start at all are a fault of the machine, not of any file: after a few
in a row the pool raises :class:`WorkerStartFailed` instead of failing items. With
``retry_crashed``, an item whose worker crashed is tried once more (by the worker that
replaces it) before the crash is its result: a crash can come from the machine -- the
out-of-memory killer, a signal from outside -- rather than from the file.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import resource
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

from reclaim.media.errors import MediaError, Timeout, TooLarge, WorkerCrashed

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)
_CONTEXT = multiprocessing.get_context("forkserver")
_READY = "ready"
STARTUP_SECONDS = 120.0
"""How long a new worker may take to start (import its decoders) before it is replaced."""
START_ATTEMPTS = 3
"""Workers in a row that may fail to start before the pool gives up."""


class WorkerStartFailed(RuntimeError):
    """Decoder workers die or hang while starting: the machine, not a file, is at fault."""


def _worker_main(conn: Connection, memory_bytes: int, fn: Callable[[Any], Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        conn.send(_READY)
    except OSError:
        return
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        task_id, item = message
        try:
            reply: Any = fn(item)
        except MediaError as exc:
            reply = exc
        except MemoryError:
            reply = TooLarge(_label(item), "decoding needed more memory than allowed")
        except Exception as exc:
            reply = WorkerCrashed(_label(item), f"decoder failed: {type(exc).__name__}: {exc}")
        conn.send((task_id, reply))


def _label(item: Any) -> str:
    return str(getattr(item, "path", item))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    started_by: float
    ready: bool = False
    task: int | None = None
    deadline: float = 0.0


class IsolatedPool(Generic[T, R]):
    """Apply ``fn`` to items in up to ``workers`` limited processes.

    ``fn`` must be a module-level function (it is pickled to the workers). It may raise
    :class:`MediaError`; a timeout, crash or memory exhaustion becomes one too, named after
    ``label(item)``. Use as a context manager so that workers are always ended.
    """

    def __init__(
        self,
        fn: Callable[[T], R],
        *,
        workers: int,
        memory_bytes: int,
        timeout_seconds: float,
        label: Callable[[T], str] = _label,
        startup_seconds: float = STARTUP_SECONDS,
        retry_crashed: bool = False,
    ) -> None:
        if workers < 1:
            raise ValueError("an isolated pool needs at least one worker")
        self._fn = fn
        self._size = workers
        self._memory = memory_bytes
        self._timeout = timeout_seconds
        self._label = label
        self._startup = startup_seconds
        self._retry_crashed = retry_crashed
        self._workers: list[_Worker] = []
        self._failed_starts = 0

    def __enter__(self) -> IsolatedPool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End every worker (politely, then by force)."""
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers.clear()

    def map(self, items: Iterable[T]) -> Iterator[R | MediaError]:
        """Results (or the :class:`MediaError` for that item) in the order of ``items``."""
        pending = iter(enumerate(items))
        inputs: dict[int, T] = {}
        done: dict[int, R | MediaError] = {}
        waiting: deque[int] = deque()
        retried: set[int] = set()
        next_out = 0
        exhausted = False
        while True:
            while not exhausted and len(inputs) < self._size:
                try:
                    task_id, item = next(pending)
                except StopIteration:
                    exhausted = True
                    break
                inputs[task_id] = item
                waiting.append(task_id)
            self._dispatch(waiting, inputs)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if exhausted and not inputs:
                return
            for task_id, outcome in self._collect(inputs):
                crashed = isinstance(outcome, WorkerCrashed)
                if crashed and self._retry_crashed and task_id not in retried:
                    retried.add(task_id)
                    log.warning("%s; trying once more", outcome)
                    waiting.appendleft(task_id)
                    continue
                del inputs[task_id]
                done[task_id] = outcome

    def _dispatch(self, waiting: deque[int], inputs: dict[int, T]) -> None:
        while waiting:
            worker = next((w for w in self._workers if w.ready and w.task is None), None)
            if worker is None:
                starting = sum(1 for w in self._workers if not w.ready)
                if starting < len(waiting) and len(self._workers) < self._size:
                    self._spawn()
                    continue
                return
            task_id = waiting.popleft()
            try:
                worker.conn.send((task_id, inputs[task_id]))
            except (OSError, ValueError):  # the idle worker died; replace it and retry
                self._retire(worker)
                waiting.appendleft(task_id)
                continue
            worker.task = task_id
            worker.deadline = time.monotonic() + self._timeout

    def _collect(self, inputs: dict[int, T]) -> list[tuple[int, R | MediaError]]:
        busy = [w for w in self._workers if w.task is not None]
        starting = [w for w in self._workers if not w.ready]
        if not busy and not starting:
            return []
        deadlines = [w.deadline for w in busy] + [w.started_by for w in starting]
        timeout = max(0.0, min(deadlines) - time.monotonic())
        watched = busy + starting
        ready = wait([w.conn for w in watched] + [w.process.sentinel for w in watched], timeout)
        for worker in starting:
            self._check_start(worker, ready)
        finished: list[tuple[int, R | MediaError]] = []
        for worker in busy:
            task_id = worker.task
            assert task_id is not None
            if worker.conn in ready:
                try:
                    reply_id, value = worker.conn.recv()
                except (EOFError, OSError):
                    finished.append((task_id, self._crashed(worker, inputs[task_id])))
                    continue
                worker.task = None
                finished.append((reply_id, value))
            elif worker.process.sentinel in ready:
                finished.append((task_id, self._crashed(worker, inputs[task_id])))
            elif time.monotonic() >= worker.deadline:
                self._retire(worker)
                finished.append(
                    (
                        task_id,
                        Timeout(
                            self._label(inputs[task_id]),
                            f"decoding took longer than {self._timeout:g} s and was stopped",
                        ),
                    )
                )
        return finished

    def _check_start(self, worker: _Worker, ready: list[Any]) -> None:
        """Mark ``worker`` ready once it says so; retire it if it died or took too long."""
        if worker.conn in ready:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                message = None
            if message == _READY:
                worker.ready = True
                self._failed_starts = 0
                return
        elif worker.process.sentinel not in ready and time.monotonic() < worker.started_by:
            return
        self._retire(worker)
        self._failed_starts += 1
        if self._failed_starts >= START_ATTEMPTS:
            failed, self._failed_starts = self._failed_starts, 0  # the next call tries anew
            raise WorkerStartFailed(
                f"{failed} decoder workers in a row died or did not start within "
                f"{self._startup:g} s; no file was charged for it"
            )

    def _crashed(self, worker: _Worker, item: T) -> MediaError:
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        self._retire(worker)
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            how = f"was killed by {name}"
        else:
            how = f"exited with status {code}"
        return WorkerCrashed(
            self._label(item), f"the decoding process {how} (malformed file or memory limit)"
        )

    def _spawn(self) -> _Worker:
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=_worker_main,
            args=(child, self._memory, self._fn),
            daemon=True,
            name="reclaim-decoder",
        )
        process.start()
        child.close()
        worker = _Worker(process, parent, started_by=time.monotonic() + self._startup)
        self._workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            with contextlib.suppress(ProcessLookupError):  # it may end in between
                os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join()
        worker.conn.close()
        self._workers.remove(worker)

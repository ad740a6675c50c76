"""Run decoding of untrusted files in worker processes that can be killed.

Each worker has an address-space limit (``RLIMIT_AS``) and each task a wall-clock limit.
A task over its time is ended by killing its worker; a worker that dies (a decoder bug,
memory exhaustion) costs only its current file. Either way a replacement worker starts
and the batch goes on. Results come back in the order the items were given.
"""

from __future__ import annotations

import contextlib
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

_CONTEXT = multiprocessing.get_context("forkserver")


def _worker_main(conn: Connection, memory_bytes: int, fn: Callable[[Any], Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
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
    ) -> None:
        if workers < 1:
            raise ValueError("an isolated pool needs at least one worker")
        self._fn = fn
        self._size = workers
        self._memory = memory_bytes
        self._timeout = timeout_seconds
        self._label = label
        self._workers: list[_Worker] = []

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
                del inputs[task_id]
                done[task_id] = outcome

    def _dispatch(self, waiting: deque[int], inputs: dict[int, T]) -> None:
        while waiting:
            worker = next((w for w in self._workers if w.task is None), None)
            if worker is None:
                if len(self._workers) >= self._size:
                    return
                worker = self._spawn()
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
        if not busy:
            return []
        timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
        ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
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
        worker = _Worker(process, parent)
        self._workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join()
        worker.conn.close()
        self._workers.remove(worker)

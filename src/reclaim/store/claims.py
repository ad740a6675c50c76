"""Who holds a claim on a row, and whether that holder is gone.

Workers mark what they take (a frontier URL, an outgoing mail) with ``host:pid`` and a
token of their own. After a crash, a claim by a process of this machine that no longer
runs is abandoned at once; a claim by another machine only once it is older than a lease,
because that process cannot be asked. A claim a live process could not give back (the
database was away just then) is given back by that process as soon as the database
answers again (:class:`PendingReleases`): nobody else may take it meanwhile.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta

log = logging.getLogger(__name__)


def worker_id() -> str:
    """This process, as ``host:pid`` (how claims name their owner)."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}"


def abandoned(
    owner: str | None,
    claimed_at: datetime | None,
    *,
    now: datetime,
    lease: timedelta,
    alive: set[str] | None = None,
) -> bool:
    """Whether the claim ``owner`` made at ``claimed_at`` is abandoned: its process (on
    this machine) no longer runs -- or is not in ``alive``, when given -- or, for another
    machine's, the lease ran out."""
    process = (owner or "").split("/", 1)[0]
    owner_host, _, pid = process.rpartition(":")
    if owner_host == socket.gethostname()[:100] and pid.isdigit():
        return (process not in alive) if alive is not None else not running(int(pid))
    return claimed_at is None or claimed_at < now - lease


def running(pid: int) -> bool:
    """Whether process ``pid`` of this machine still runs."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PendingReleases:
    """Claims this process failed to give back, given back on a thread of their own as
    soon as ``release(key)`` succeeds (tried every ``interval`` seconds)."""

    def __init__(self, release: Callable[[Hashable], None], *, interval: float = 2.0) -> None:
        self._release = release
        self._interval = interval
        self._pending: set[Hashable] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, key: Hashable) -> None:
        """Give ``key`` back later (a release just failed)."""
        with self._lock:
            self._pending.add(key)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="claim-releases", daemon=True
                )
                self._thread.start()

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> bool:
        """Try every pending release now; whether none is left."""
        with self._lock:
            keys = list(self._pending)
        for key in keys:
            try:
                self._release(key)
            except Exception as error:  # still away: kept for the next try
                log.debug("claim %r not given back yet: %s", key, error)
                continue
            with self._lock:
                self._pending.discard(key)
        with self._lock:
            return not self._pending

    def _run(self) -> None:
        while True:
            self.flush()
            with self._lock:
                if not self._pending:
                    self._thread = None  # the next add starts another
                    return
            time.sleep(self._interval)

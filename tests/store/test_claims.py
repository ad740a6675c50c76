"""Claims a live process could not give back (the database was away) are given back by
that process once the database answers: nobody else may take them meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

from reclaim.store.claims import PendingReleases


class Database:
    """A release that fails while the database is away and records what it gave back."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.released: list[Hashable] = []

    def release(self, key: Hashable) -> None:
        if not self.up.is_set():
            raise ConnectionError("the database is away")
        self.released.append(key)


def _until(check, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_claims_are_given_back_once_the_database_answers_and_only_once() -> None:
    database = Database()
    pending = PendingReleases(database.release, interval=0.02)
    pending.add(("work", 1))
    pending.add(("work", 2))
    time.sleep(0.1)  # tried, and tried again, while the database is away
    assert database.released == []
    assert len(pending) == 2
    database.up.set()
    _until(lambda: len(pending) == 0)
    assert sorted(database.released) == [("work", 1), ("work", 2)]
    pending.add(("work", 3))  # after the thread ended: another one starts
    _until(lambda: len(pending) == 0)
    assert sorted(database.released) == [("work", 1), ("work", 2), ("work", 3)]


def test_a_claim_added_while_the_thread_gives_up_is_not_forgotten() -> None:
    database = Database()
    database.up.set()
    pending = PendingReleases(database.release, interval=0.001)
    for n in range(200):  # the thread ends and starts again many times
        pending.add(n)
    _until(lambda: len(pending) == 0)
    assert sorted(database.released) == list(range(200))  # type: ignore[type-var]

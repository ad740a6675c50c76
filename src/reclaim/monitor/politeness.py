"""Politeness: each site's robots.txt, read once a day, and a gate per host that spaces
requests and bounds how many run at once -- shared by every crawling thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from reclaim.monitor.errors import FetchFailed, FetchRefused
from reclaim.monitor.fetch import Fetcher, Kind
from reclaim.monitor.robots import MAX_BYTES, Robots, for_status

ROBOTS_TTL = 24 * 3600.0
"""RFC 9309: a cached robots.txt should not be used for more than a day."""
ROBOTS_RETRY = 3600.0
"""An unreachable robots.txt (the whole site disallowed meanwhile) is tried again after
an hour."""


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased: robots.txt and gates are per origin."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class RobotsCache:
    """robots.txt of each origin, fetched through the guarded fetcher and kept a day."""

    def __init__(
        self, fetcher: Fetcher, agent: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetcher = fetcher
        self._agent = agent
        self._clock = clock
        self._known: dict[str, tuple[float, Robots]] = {}
        self._lock = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}

    def robots(self, url: str) -> Robots:
        """The rules for ``url``'s site (fetched now if not known or stale)."""
        site = origin(url)
        with self._lock:
            lock = self._origin_locks.setdefault(site, threading.Lock())
        with lock:  # one fetch per origin, however many threads ask at once
            known = self._known.get(site)
            if known is not None and known[0] > self._clock():
                return known[1]
            rules = self._fetch(site)
            ttl = ROBOTS_RETRY if rules.disallow_all else ROBOTS_TTL
            self._known[site] = (self._clock() + ttl, rules)
            return rules

    def allowed(self, url: str) -> bool:
        return self.robots(url).allowed(url)

    def _fetch(self, site: str) -> Robots:
        try:
            fetched = self._fetcher.get(f"{site}/robots.txt", accept={Kind.PAGE, Kind.OTHER})
        except FetchRefused:
            raise  # the site itself may not be fetched: say so, not "disallowed"
        except FetchFailed:
            return Robots.unreachable()
        body = (fetched.body or b"")[:MAX_BYTES]
        return for_status(fetched.status, body, self._agent)


class GateUnavailable(Exception):
    """The gate cannot tell whose turn it is (the store it shares with other workers is
    away): the page is to be visited later, not counted as failed."""


class Gate(Protocol):
    """Turns at a site: this process's :class:`HostGate`, or one shared by every worker
    (:class:`~reclaim.monitor.shared_gate.SharedHostGate`)."""

    def turn(self, url: str, crawl_delay: float | None = None) -> AbstractContextManager[None]:
        """Wait for a turn at ``url``'s origin, held while the ``with`` block runs
        (:class:`GateUnavailable` if no turn can be had for now)."""
        ...


@dataclass
class _Host:
    running: int = 0
    next_start: float = 0.0


class HostGate:
    """At most ``concurrency`` requests at once to one origin, and at least ``delay``
    seconds between the starts of two (or the site's crawl-delay, if longer)."""

    def __init__(
        self,
        concurrency: int = 2,
        delay: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if concurrency < 1 or delay < 0:
            raise ValueError("a gate needs concurrency >= 1 and delay >= 0")
        self.concurrency = concurrency
        self.delay = delay
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _Host] = {}
        self._changed = threading.Condition()

    @contextmanager
    def turn(self, url: str, crawl_delay: float | None = None) -> Iterator[None]:
        """Wait for a turn at ``url``'s origin, hold it while the ``with`` block runs."""
        site = origin(url)
        spacing = max(self.delay, crawl_delay or 0.0)
        with self._changed:
            host = self._hosts.setdefault(site, _Host())
            while host.running >= self.concurrency:
                self._changed.wait()
            host.running += 1
            start = max(self._clock(), host.next_start)
            host.next_start = start + spacing
        try:
            wait = start - self._clock()
            if wait > 0:
                self._sleep(wait)
            yield
        finally:
            with self._changed:
                host.running -= 1
                if len(self._hosts) > _MAX_IDLE_HOSTS:  # forget hosts whose spacing is over
                    now = self._clock()
                    for key in [k for k, h in self._hosts.items() if _idle(h, now)]:
                        del self._hosts[key]
                self._changed.notify_all()


_MAX_IDLE_HOSTS = 10_000


def _idle(host: _Host, now: float) -> bool:
    return host.running == 0 and host.next_start <= now

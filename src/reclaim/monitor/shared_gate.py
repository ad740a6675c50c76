"""A host gate shared by every crawling worker on every machine, kept in Redis.

:class:`~reclaim.monitor.politeness.HostGate` keeps one process polite; workers on several
machines each with their own would together send a site several times the requests it
should see. This gate keeps the same two rules -- at most ``concurrency`` requests at once
per origin, starts at least the spacing apart -- in Redis, decided by one script run
atomically on the server against the server's clock (the machines' clocks may differ).

A turn is a lease, renewed by its worker while held (every third of the lease): a worker
killed while holding one loses it ``lease`` seconds later, so a crash never closes a site
for long, however long a fetch may take. While Redis is away (restarted, failing over), a worker
waits for it up to ``outage`` seconds, then raises
:class:`~reclaim.monitor.politeness.GateUnavailable`: the crawler puts the page back to be
visited later rather than count it failed. A turn that cannot be given back because Redis
went away meanwhile ends with its lease.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from reclaim.config import Settings
from reclaim.monitor.politeness import Gate, GateUnavailable, HostGate, origin

log = logging.getLogger(__name__)

_TAKE = """
local running, spacing_key = KEYS[1], KEYS[2]
local concurrency, spacing, lease, token = tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
if redis.call('ZCARD', running) >= concurrency then
  return -1
end
local next_start = tonumber(redis.call('GET', spacing_key) or '0')
local start = math.max(now, next_start)
redis.call('ZADD', running, start + lease, token)
redis.call('PEXPIRE', running, start - now + lease)
redis.call('SET', spacing_key, start + spacing, 'PX', start - now + spacing + 1000)
return start - now
"""
"""Take a turn if one is free: how many milliseconds to wait before starting, or -1."""

_RENEW = """
local lease = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local renewed = 0
for i, running in ipairs(KEYS) do
  if redis.call('ZADD', running, 'XX', 'GT', 'CH', now + lease, ARGV[i + 1]) == 1 then
    renewed = renewed + 1
  end
  if redis.call('PTTL', running) < lease then
    redis.call('PEXPIRE', running, lease)
  end
end
return renewed
"""
"""Extend the turns named (KEYS: their sites' running sets, ARGV: the lease, then each
turn's token) to ``lease`` from now; a turn already ended is not brought back."""


class SharedHostGate:
    """Like :class:`~reclaim.monitor.politeness.HostGate`, across processes and machines."""

    def __init__(
        self,
        client: Any,
        *,
        concurrency: int = 2,
        delay: float = 0.0,
        lease: float = 30.0,
        poll: float = 0.05,
        outage: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        prefix: str = "reclaim.gate",
    ) -> None:
        """``client`` is a ``redis.Redis``; ``lease``: how long a turn outlives its
        worker (renewed every third of it while held); ``outage``: how long to wait for
        Redis when it does not answer."""
        if concurrency < 1 or delay < 0 or lease <= 0 or outage < 0:
            raise ValueError("a gate needs concurrency >= 1, delay >= 0, outage >= 0 and a lease")
        self.concurrency = concurrency
        self.delay = delay
        self._client = client
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._lease_ms = int(lease * 1000)
        self._held: dict[str, str] = {}  # token -> its site's running set
        self._held_lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._poll = poll
        self._outage = outage
        self._sleep = sleep
        self._clock = clock
        self._prefix = prefix

    @contextmanager
    def turn(self, url: str, crawl_delay: float | None = None) -> Iterator[None]:
        """Wait for a turn at ``url``'s origin, hold it while the ``with`` block runs."""
        site = origin(url)
        keys = [f"{self._prefix}.running.{site}", f"{self._prefix}.next.{site}"]
        spacing_ms = int(max(self.delay, crawl_delay or 0.0) * 1000)
        token = secrets.token_hex(8)
        args = [self.concurrency, spacing_ms, self._lease_ms, token]
        while True:
            wait_ms = int(self._answer(lambda: self._take(keys=keys, args=args)))
            if wait_ms >= 0:
                break
            self._sleep(self._poll)
        self._hold(token, keys[0])
        try:
            if wait_ms > 0:
                self._sleep(wait_ms / 1000)
            yield
        finally:
            with self._held_lock:
                del self._held[token]
            try:
                self._answer(lambda: self._client.zrem(keys[0], token))
            except (GateUnavailable, RedisError) as error:  # never hide the turn's outcome
                log.warning(
                    "a turn at %s was not given back (%s): it ends with its lease", site, error
                )

    def _hold(self, token: str, running: str) -> None:
        """Keep the turn ``token`` renewed until it is given back."""
        with self._held_lock:
            self._held[token] = running
            if self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew_held, name="gate-renewer", daemon=True
                )
                self._renewer.start()

    def _renew_held(self) -> None:
        """Renew every turn held, every third of the lease, while there are some."""
        while True:
            time.sleep(self._lease_ms / 3000)
            with self._held_lock:
                if not self._held:
                    self._renewer = None
                    return
                held = list(self._held.items())
            try:
                self._renew(keys=[k for _, k in held], args=[self._lease_ms, *(t for t, _ in held)])
            except RedisError as error:  # tried again next time; a turn may lapse meanwhile
                log.warning("turns at sites not renewed (%s)", error)

    def _answer(self, ask: Callable[[], Any]) -> Any:
        """Redis's answer to ``ask``, waiting up to ``outage`` seconds while it is away."""
        deadline = self._clock() + self._outage
        pause = self._poll
        while True:
            try:
                return ask()
            except (RedisConnectionError, RedisTimeoutError) as error:
                if self._clock() >= deadline:
                    raise GateUnavailable(
                        f"the shared host gate (Redis) did not answer for "
                        f"{self._outage:g} s: {error}"
                    ) from error
                self._sleep(pause)
                pause = min(pause * 2, 1.0)


def host_gate(settings: Settings) -> Gate:
    """The gate of this process's crawls: shared through Redis when workers are spread
    over several machines (``RECLAIM_QUEUE_URL``), else this process's own."""
    if settings.queue_url is None:
        return HostGate(concurrency=settings.monitor_host_concurrency, delay=0.0)
    import redis

    return SharedHostGate(
        redis.Redis.from_url(settings.queue_url, health_check_interval=30),
        concurrency=settings.monitor_host_concurrency,
    )

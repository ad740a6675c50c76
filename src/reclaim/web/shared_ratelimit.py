"""Request limits shared by every web process on every machine, kept in Redis.

:class:`~reclaim.web.ratelimit.RateLimiter` counts in one process: behind a load balancer,
n processes would together allow n times the limit. With ``RECLAIM_QUEUE_URL`` set, the
same token bucket lives in Redis instead, updated by one script run atomically on the
server against the server's clock. Keys are stored hashed (an API key's id, or a client
address for the portal and the staff sign-in): Redis never holds an address. If Redis
cannot be reached, the limiter falls back to counting in this process -- the service stays
up, with per-process limits -- and says so in the log once per outage.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from reclaim.config import Settings
from reclaim.web.ratelimit import Limiter, RateLimiter

log = logging.getLogger(__name__)

_TAKE = """
local rate, capacity, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'at', string.format('%.3f', now))
redis.call('PEXPIRE', KEYS[1], ttl)
return string.format('%.3f', wait)
"""
"""Take a token: the milliseconds to wait (as text: Lua numbers return as integers)."""


class SharedRateLimiter:
    """Allows ``per_minute`` requests per key across every process, bursts up to as many."""

    def __init__(self, client: Any, per_minute: int, *, namespace: str) -> None:
        """``client`` is a ``redis.Redis``; ``namespace`` keeps limits of different kinds
        (api, portal, staff) apart."""
        self._client = client
        self._take = client.register_script(_TAKE)
        self._rate_per_ms = per_minute / 60_000.0
        self._capacity = float(per_minute)
        self._ttl_ms = 120_000  # a full bucket refills within a minute; forget it after two
        self._prefix = f"reclaim.rate.{namespace}."
        self._local = RateLimiter(per_minute)
        self._falling_back = False

    def take(self, key: str) -> float:
        """0 if the request may go ahead, else the seconds to wait before retrying."""
        hashed = hashlib.sha256(key.encode()).hexdigest()[:32]
        try:
            wait_ms = float(
                self._take(
                    keys=[self._prefix + hashed],
                    args=[self._rate_per_ms, self._capacity, self._ttl_ms],
                )
            )
        except Exception as error:  # redis.RedisError and connection failures alike
            if not self._falling_back:
                log.warning(
                    "shared rate limits unavailable (%s); counting in this process",
                    type(error).__name__,
                )
                self._falling_back = True
            return self._local.take(key)
        if self._falling_back:
            log.warning("shared rate limits available again")
            self._falling_back = False
        return wait_ms / 1000.0


def rate_limiter(settings: Settings, per_minute: int, namespace: str) -> Limiter:
    """The limiter for ``namespace``: in Redis when processes share ``RECLAIM_QUEUE_URL``,
    else this process's own."""
    if settings.queue_url is None:
        return RateLimiter(per_minute)
    import redis

    client = redis.Redis.from_url(
        settings.queue_url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )
    return SharedRateLimiter(client, per_minute, namespace=namespace)

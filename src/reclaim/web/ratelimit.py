"""A token bucket per key, in this process (:mod:`reclaim.web.shared_ratelimit` shares
limits across processes through Redis)."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Limiter(Protocol):
    def take(self, key: str) -> float:
        """0 if the request may go ahead, else the seconds to wait before retrying."""
        ...


class RateLimiter:
    """Allows ``per_minute`` requests per key, with bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if the request may go ahead, else the seconds to wait before retrying."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self._rate

"""The two clocks of a sweep: a deadline for the whole run and a rate limit shared by every
probe. Both are checked by the gate before a packet leaves, so no probe can forget them."""

from __future__ import annotations

import threading
import time

from reclaim.sweep.lan.errors import OutOfTime


class Deadline:
    """The end of the time budget, on the monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.budget = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def timeout(self, wanted: float) -> float:
        """``wanted`` seconds, or what is left of the budget if less; spent budget raises."""
        left = self.remaining()
        if left <= 0:
            raise OutOfTime(f"the time budget of {self.budget:g} s is spent")
        return min(wanted, left)

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class RateLimiter:
    """A token bucket: ``rate`` sends per second on average, bursts of at most a tenth of a
    second's worth. Thread-safe; waiting stops at the deadline."""

    def __init__(self, rate: float, deadline: Deadline) -> None:
        self._interval = 1.0 / rate
        self._burst = max(1.0, rate / 10)
        self._tokens = self._burst
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._deadline = deadline
        self.taken = 0

    def take(self) -> None:
        """Wait for one token (one packet), or raise :class:`OutOfTime`."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self._burst, self._tokens + (now - self._last) / self._interval)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    self.taken += 1
                    return
                wait = (1 - self._tokens) * self._interval
            if self._deadline.remaining() <= wait:
                raise OutOfTime(f"the time budget of {self._deadline.budget:g} s is spent")
            time.sleep(wait)

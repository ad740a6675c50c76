"""Who holds a claim on a row, and whether that holder is gone.

Workers mark what they take (a frontier URL, an outgoing mail) with ``host:pid`` and a
token of their own. After a crash, a claim by a process of this machine that no longer
runs is abandoned at once; a claim by another machine only once it is older than a lease,
because that process cannot be asked.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta


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

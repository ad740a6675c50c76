"""Tasks for the hasher's workers that crash them (module level: they are pickled)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from reclaim.signals.filehash import FileHashes, HashRequest, hash_file


def _count(request: HashRequest) -> int:
    """How many workers took this file before (kept beside it, as workers share no memory)."""
    tally = Path(request.path + ".attempts")
    seen = int(tally.read_text()) if tally.exists() else 0
    tally.write_text(str(seen + 1))
    return seen


def crashes_first(request: HashRequest) -> FileHashes:
    if _count(request) == 0:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
    return hash_file(request)


def always_crashes(request: HashRequest) -> FileHashes:
    _count(request)
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")

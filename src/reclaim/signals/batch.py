"""Hash many files in isolated worker processes, over all cores, in input order.

A file whose worker crashed is tried once more before the crash is reported: a crash can
come from the machine (the out-of-memory killer) rather than the file."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from reclaim.media.errors import MediaError
from reclaim.media.sandbox import IsolatedPool
from reclaim.signals.filehash import FileFailure, FileHashes, FileResult, HashRequest, hash_file

log = logging.getLogger(__name__)


def hash_many(
    requests: Iterable[HashRequest | MediaError],
    *,
    workers: int,
    task: Callable[[HashRequest], FileHashes] = hash_file,
) -> Iterator[FileResult]:
    """One result per request, in order. A :class:`MediaError` in the input (a path the
    walk could not use) passes straight through as a failure. ``task`` is what the
    workers run (a module-level function; tests give their own to crash a worker)."""
    items = list(requests)
    jobs = [item for item in items if isinstance(item, HashRequest)]
    if not jobs:
        for item in items:
            assert isinstance(item, MediaError)
            yield FileFailure(item.path, item)
        return
    limits = jobs[0].options.limits
    with IsolatedPool(
        task,
        workers=max(1, min(workers, len(jobs))),
        memory_bytes=limits.memory_bytes,
        timeout_seconds=limits.timeout_seconds,
        retry_crashed=True,
    ) as pool:
        results = pool.map(jobs)
        for item in items:
            if isinstance(item, MediaError):
                yield FileFailure(item.path, item)
                continue
            outcome = next(results)
            if isinstance(outcome, FileHashes):
                yield outcome
            else:
                log.info("file not hashed", extra={"kind": outcome.kind, "reason": outcome.reason})
                yield FileFailure(item.path, outcome)

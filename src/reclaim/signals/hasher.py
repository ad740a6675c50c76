"""Hash files one at a time in an isolated decoding worker, for long-running services.

The API's file matching and the monitor hash files that strangers chose: each is decoded in
a separate process with a memory cap and a time limit (:mod:`reclaim.media.sandbox`), so a
hostile file costs a worker, never the service. Queries get the extra regions and views
the robust matcher looks up.

A worker that crashes on a file is given that file once more, in a fresh worker, before
the crash is reported: what is reported is usually stored against the file's SHA-256 for
good (the monitor never hashes it again), and a crash can come from the machine (the
kernel's out-of-memory killer, a signal from outside) rather than from the file. A file
that crashes its decoder every time costs two workers, once.
"""

from __future__ import annotations

import queue
from collections.abc import Callable

from reclaim.config import Settings
from reclaim.media.errors import MediaError
from reclaim.media.frames import Sampling
from reclaim.media.limits import MediaLimits
from reclaim.media.sandbox import IsolatedPool
from reclaim.signals.filehash import FileHashes, HashRequest, hash_file
from reclaim.signals.source import HashOptions


class FileHasher:
    """Hashes files as queries in isolated decoding workers: up to ``workers`` files at
    once, each in a worker process of its own; callers beyond that wait their turn."""

    def __init__(
        self,
        settings: Settings,
        workers: int = 1,
        *,
        task: Callable[[HashRequest], FileHashes] = hash_file,
    ) -> None:
        """``task`` is what the workers run (a module-level function; tests give their
        own to make a worker crash)."""
        if workers < 1:
            raise ValueError("a hasher needs at least one worker")
        self._options = HashOptions(
            sampling=Sampling(fps=settings.video_sample_fps),
            limits=MediaLimits.from_settings(settings),
            query_regions=True,
        )
        self._pools: list[IsolatedPool[HashRequest, FileHashes]] = [
            IsolatedPool(
                task,
                workers=1,
                memory_bytes=self._options.limits.memory_bytes,
                timeout_seconds=self._options.limits.timeout_seconds,
                retry_crashed=True,
            )
            for _ in range(workers)
        ]
        self._free: queue.Queue[IsolatedPool[HashRequest, FileHashes]] = queue.Queue()
        for pool in self._pools:
            self._free.put(pool)

    def hash(self, path: str) -> FileHashes | MediaError:
        """The signals of the file at ``path``, or why it could not be hashed."""
        pool = self._free.get()  # one pool (one worker process) per file at a time
        try:
            return next(pool.map([HashRequest(path, self._options)]))
        finally:
            self._free.put(pool)

    def close(self) -> None:
        for pool in self._pools:
            pool.close()

"""Hash files one at a time in an isolated decoding worker, for long-running services.

The API's file matching and the monitor hash files that strangers chose: each is decoded in
a separate process with a memory cap and a time limit (:mod:`reclaim.media.sandbox`), so a
hostile file costs a worker, never the service. Queries get the extra regions and views
the robust matcher looks up.
"""

from __future__ import annotations

import threading

from reclaim.config import Settings
from reclaim.media.errors import MediaError
from reclaim.media.frames import Sampling
from reclaim.media.limits import MediaLimits
from reclaim.media.sandbox import IsolatedPool
from reclaim.signals.filehash import FileHashes, HashRequest, hash_file
from reclaim.signals.source import HashOptions


class FileHasher:
    """Hashes files as queries in an isolated decoding worker (one file at a time)."""

    def __init__(self, settings: Settings) -> None:
        self._options = HashOptions(
            sampling=Sampling(fps=settings.video_sample_fps),
            limits=MediaLimits.from_settings(settings),
            query_regions=True,
        )
        self._pool: IsolatedPool[HashRequest, FileHashes] = IsolatedPool(
            hash_file,
            workers=1,
            memory_bytes=self._options.limits.memory_bytes,
            timeout_seconds=self._options.limits.timeout_seconds,
        )
        self._lock = threading.Lock()

    def hash(self, path: str) -> FileHashes | MediaError:
        """The signals of the file at ``path``, or why it could not be hashed."""
        with self._lock:
            return next(self._pool.map([HashRequest(path, self._options)]))

    def close(self) -> None:
        self._pool.close()

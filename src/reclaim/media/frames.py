"""Frames sampled from videos and animations, and the rule that picks which ones."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from reclaim.media.errors import TooLarge
from reclaim.media.limits import MediaLimits


@dataclass(frozen=True, slots=True)
class Sampling:
    """Which frames to take: ``fps`` frames per second of media time, or every frame."""

    fps: float | None = 1.0
    keyframes_only: bool = False

    def __post_init__(self) -> None:
        if self.fps is not None and not 0 < self.fps <= 240:
            raise ValueError(f"sampling rate must be in (0, 240] frames per second, not {self.fps}")

    @classmethod
    def every_frame(cls) -> Sampling:
        return cls(fps=None)

    @property
    def interval(self) -> float:
        """Seconds between samples (0 for every frame)."""
        return 0.0 if self.fps is None else 1.0 / self.fps


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: its index in decode order, presentation time in seconds, pixels."""

    index: int
    ts: float
    rgb: npt.NDArray[np.uint8]


class Sampler:
    """Decides, frame by frame in presentation order, which frames a sampling takes.

    Targets are the times k / fps; a frame is taken when it is the first one at or after
    the next target, so a constant-rate video gives exactly the frames n * (rate / fps).
    """

    # Half a millisecond of slack absorbs rounding in container time bases.
    EPSILON = 0.0005

    def __init__(self, sampling: Sampling, limits: MediaLimits, path: Path) -> None:
        self._interval = sampling.interval
        self._limits = limits
        self._path = path
        self.next_target = 0.0
        self.taken = 0

    def wants(self, ts: float) -> bool:
        """Whether a frame at ``ts`` seconds is the next one to take."""
        if ts > self._limits.max_video_seconds:
            raise TooLarge(
                self._path,
                f"media runs past {self._limits.max_video_seconds:g} s, the longest accepted",
            )
        return not self._interval or ts + self.EPSILON >= self.next_target

    def take(self, ts: float) -> None:
        """Record that the frame at ``ts`` was taken and move to the next target."""
        self.taken += 1
        if self.taken > self._limits.max_frames:
            raise TooLarge(
                self._path, f"more than {self._limits.max_frames:,} frames would be hashed"
            )
        if self._interval:
            steps = int((ts + self.EPSILON - self.next_target) // self._interval) + 1
            self.next_target += steps * self._interval


_DONE = object()


def prefetch(frames: Iterator[Frame], depth: int = 2) -> Iterator[Frame]:
    """Run ``frames`` in a background thread, ``depth`` frames ahead of the consumer.

    Decoding (FFmpeg) and hashing (numba) both release the GIL, so the two overlap.
    Errors from the producer are re-raised in the consumer; if the consumer stops
    early, the producer is told to stop and its generator is closed in its own thread.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames:
                if not _put(items, stop, frame):
                    return
            _put(items, stop, _DONE)
        except BaseException as exc:
            _put(items, stop, exc)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="reclaim-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _put(items: queue.Queue[object], stop: threading.Event, item: object) -> bool:
    """Queue ``item`` unless the consumer has stopped; whether it was queued."""
    while not stop.is_set():
        try:
            items.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False

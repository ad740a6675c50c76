"""Read a flashlight sweep video and report the glints that behave like lenses.

:func:`analyse` runs the whole analysis in an isolated worker process (memory and time
limits from :class:`MediaLimits`), because the video may come from anywhere: a decoder
bug reached by a hostile file costs that worker, and the caller gets a typed
:class:`MediaError`. :func:`analyse_in_process` is the same work in the calling process,
for callers that already isolate (a queue worker) and for tests.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from reclaim.media.errors import (
    Corrupt,
    MediaError,
    NoFrames,
    TooLarge,
)
from reclaim.media.files import checked_file
from reclaim.media.frames import Frame, Sampling, prefetch
from reclaim.media.limits import MediaLimits
from reclaim.media.sandbox import IsolatedPool
from reclaim.media.sniff import MediaKind
from reclaim.media.video import VideoInfo, iter_video_frames, probe_video
from reclaim.sweep.optical.detect import RGB, find_glints
from reclaim.sweep.optical.findings import build_report
from reclaim.sweep.optical.motion import MotionEstimator
from reclaim.sweep.optical.options import GlintOptions
from reclaim.sweep.optical.score import score_alone
from reclaim.sweep.optical.track import Tracker
from reclaim.sweep.report import SweepReport, now

MIN_FPS = 4.0
"""Below this many frames per second a glint cannot be followed while the phone moves."""
DEFAULT_LIMITS = MediaLimits()
DEFAULT_OPTIONS = GlintOptions()


def analyse(
    path: Path, *, limits: MediaLimits = DEFAULT_LIMITS, options: GlintOptions = DEFAULT_OPTIONS
) -> SweepReport:
    """Find lens glints in the video at ``path``; raise the :class:`MediaError` that stopped
    it (not a video, corrupt, too large, too slow to decode, decoder crashed)."""
    request = _Request(str(path), limits, options)
    with IsolatedPool(
        _run,
        workers=1,
        memory_bytes=limits.memory_bytes,
        timeout_seconds=limits.timeout_seconds,
    ) as pool:
        result = next(pool.map([request]))
    if isinstance(result, MediaError):
        raise result
    return result


def analyse_in_process(
    path: Path, *, limits: MediaLimits = DEFAULT_LIMITS, options: GlintOptions = DEFAULT_OPTIONS
) -> SweepReport:
    """:func:`analyse` without the worker process: only where the caller is isolated."""
    started = now()
    fmt = checked_file(path, limits, want=MediaKind.VIDEO, purpose=": the sweep needs a video")
    with _decoder_errors(path):
        info = probe_video(path, fmt, limits)
    fps, notes = _rate(path, info, limits, options)
    sweep = _Sweep(options, fps)
    frames = _guarded(
        path, iter_video_frames(path, fmt, limits, Sampling(fps=fps), max_side=options.max_side)
    )
    try:
        for frame in prefetch(frames, depth=3):
            sweep.add(frame.ts, frame.rgb)
    except MediaError as error:
        if sweep.tracker is None:
            raise
        notes.append(
            f"the video could not be read past {sweep.last_ts:.1f} s ({error.reason}); "
            "the part before was analysed"
        )
    if sweep.tracker is None:  # iter_video_frames raises NoFrames first; kept for safety
        raise NoFrames(path, "no video frame could be decoded")
    notes += sweep.notes
    return build_report(
        target=path.name,
        started=started,
        info=info,
        fps=fps,
        tracker=sweep.tracker,
        options=options,
        notes=notes,
        parameters={"options": asdict(options), "frames_read": sweep.frames},
    )


@dataclass(frozen=True, slots=True)
class _Request:
    """What the worker process runs (picklable)."""

    path: str
    limits: MediaLimits
    options: GlintOptions


def _run(request: _Request) -> SweepReport:
    return analyse_in_process(Path(request.path), limits=request.limits, options=request.options)


class _Sweep:
    """The per-frame work: movement, glints, tracks."""

    def __init__(self, options: GlintOptions, fps: float) -> None:
        self.options = options
        self.fps = fps
        self.motion = MotionEstimator()
        self.tracker: Tracker | None = None
        self.frames = 0
        self.last_ts = 0.0
        self.skipped = 0

    def add(self, ts: float, rgb: RGB) -> None:
        height, width = rgb.shape[:2]
        if self.tracker is None:
            reach = self.options.reach(width)
            rank = functools.partial(
                score_alone, width=width, height=height, reach=reach, fps=self.fps
            )
            self.tracker = Tracker(self.options, width, height, rank)
        elif (width, height) != (self.tracker.width, self.tracker.height):
            self.skipped += 1  # a stream that changes size mid-way: keep to the first size
            return
        step = self.motion.step(rgb)
        self.tracker.add(ts, rgb, step, find_glints(rgb, self.options))
        self.frames += 1
        self.last_ts = ts

    @property
    def notes(self) -> list[str]:
        notes = []
        if self.skipped:
            notes.append(f"{self.skipped} frame(s) of a different size were skipped")
        return notes


@contextlib.contextmanager
def _decoder_errors(path: Path) -> Iterator[None]:
    """Any other exception out of the decoding layer is a file it could not cope with
    (fuzzing found PyAV streams without a codec context): a :class:`Corrupt`, not a crash."""
    try:
        yield
    except MediaError:
        raise
    except Exception as exc:
        raise Corrupt(path, f"the decoder failed on it ({type(exc).__name__}: {exc})") from exc


def _guarded(path: Path, frames: Iterator[Frame]) -> Iterator[Frame]:
    with _decoder_errors(path):
        yield from frames


def _rate(
    path: Path, info: VideoInfo, limits: MediaLimits, options: GlintOptions
) -> tuple[float, list[str]]:
    """Frames per second to read: the option, no more than the video has, and few enough
    to stay within the frame limit (down to :data:`MIN_FPS`)."""
    fps = min(options.fps, info.fps) if info.fps > 0 else options.fps
    notes: list[str] = []
    if fps < MIN_FPS:
        whose = "the video has" if fps < options.fps else "the options read"
        frames = "frame" if fps == 1 else "frames"
        notes.append(
            f"{whose} only {fps:.2g} {frames} a second: too few to follow a glint while the "
            f"phone moves (at least {MIN_FPS:g} are needed; film at 24-30)"
        )
    if info.duration and info.duration * fps > limits.max_frames:
        fitted = 0.98 * (limits.max_frames - 1) / info.duration  # a margin for rounding
        if fitted < MIN_FPS:
            raise TooLarge(
                path,
                f"the video lasts {info.duration:,.0f} s; at {MIN_FPS:g} frames a second that "
                f"is over the limit of {limits.max_frames:,} frames: sweep it in parts",
            )
        notes.append(f"a long video: read at {fitted:.1f} instead of {fps:g} frames a second")
        fps = fitted
    return fps, notes

"""Safe, streaming decoding of untrusted video with PyAV (FFmpeg).

FFmpeg is given exactly one demuxer (chosen by :mod:`reclaim.media.sniff`), may open local
files only (``protocol_whitelist=file``) and never follows MOV data references, so a
playlist or reference inside an upload cannot make it open a URL. Frames are decoded one at
a time; nothing holds the whole video in memory.

Sampling at a rate decodes only what the sample needs: packets are read a GOP (keyframe to
keyframe) at a time, and a GOP that holds no sampling target is never decoded; a GOP that
does is decoded only up to its last target.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from reclaim.media.errors import Corrupt, NoFrames, TooLarge
from reclaim.media.frames import Frame, Sampler, Sampling
from reclaim.media.limits import MediaLimits
from reclaim.media.sniff import MediaFormat

FFMPEG_OPTIONS = {"protocol_whitelist": "file", "enable_drefs": "0", "use_absolute_path": "0"}
# A GOP larger than this is decoded as it streams instead of being held back for skipping.
_MAX_GOP_BYTES = 64 * 1024 * 1024
_FFMPEG_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, OSError, ValueError)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the container says about its first video stream."""

    width: int
    height: int
    fps: float
    duration: float | None
    codec: str


@contextlib.contextmanager
def open_video(path: Path, fmt: MediaFormat, limits: MediaLimits) -> Iterator[tuple[Any, Any]]:
    """Open ``path`` with the demuxer for ``fmt``; yield ``(container, video_stream)``."""
    try:
        container = av.open(
            f"file:{path.resolve()}", mode="r", format=fmt.value, options=FFMPEG_OPTIONS
        )
    except _FFMPEG_ERRORS as exc:
        raise Corrupt(path, f"cannot open as {fmt.name} video: {_ffmpeg_reason(exc)}") from exc
    try:
        if not container.streams.video:
            raise NoFrames(path, "the container holds no video stream")
        stream = container.streams.video[0]
        _check_limits(path, stream, container, limits)
        yield container, stream
    finally:
        container.close()


def probe_video(path: Path, fmt: MediaFormat, limits: MediaLimits) -> VideoInfo:
    """Dimensions, frame rate, duration and codec, read from the headers only."""
    with open_video(path, fmt, limits) as (container, stream):
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=_frame_rate(stream),
            duration=_duration(container, stream),
            codec=stream.codec_context.name,
        )


def iter_video_frames(
    path: Path,
    fmt: MediaFormat,
    limits: MediaLimits,
    sampling: Sampling,
    *,
    max_side: int | None = None,
) -> Iterator[Frame]:
    """Decode the frames ``sampling`` asks for, as RGB, in presentation order.

    ``max_side`` scales frames (area averaging, in the same pass as the colour conversion)
    so that neither side exceeds it; ``None`` keeps the stored size, as the vPDQ reference.
    Raises :class:`NoFrames` when no frame decodes and :class:`Corrupt` when decoding breaks
    off; frames already yielded before such an error stay valid.
    """
    with open_video(path, fmt, limits) as (container, stream):
        clock = _Clock(stream)
        sampler = Sampler(sampling, limits, path)
        to_rgb = _rgb_converter(stream, max_side)
        # Frame threads pay off when every frame is decoded; when frames are skipped their
        # reordering delay and per-GOP drains cost more than they give (measured: 1080p at
        # 1 fps, 24x real time with slice threads against 16x with frame threads), and the
        # hashing thread keeps the second core busy instead.
        stream.thread_type = "AUTO" if sampling.fps is None else "SLICE"
        if sampling.keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        decoded = _decode(container, stream, sampler, clock, sampling)
        yielded = 0
        try:
            for index, frame in decoded:
                ts = clock.seconds(frame, index)
                if sampler.wants(ts):
                    sampler.take(ts)
                    yielded += 1
                    yield Frame(index=index, ts=ts, rgb=to_rgb(frame))
        except _FFMPEG_ERRORS as exc:
            raise Corrupt(path, f"video decoding failed: {_ffmpeg_reason(exc)}") from exc
        if yielded == 0:
            raise NoFrames(path, "no video frame could be decoded")
        _check_complete(path, stream, clock)


def _check_complete(path: Path, stream: Any, clock: _Clock) -> None:
    """A stream that ends well before the duration its own header declares was cut off.

    Only the video stream's own duration counts (a container's may include longer audio).
    """
    if stream.duration is None or stream.time_base is None or clock.last_packet is None:
        return
    declared = float(stream.duration * stream.time_base)
    if clock.last_packet + 1.0 + 2.0 / clock.fps < declared:
        raise Corrupt(
            path,
            f"the video stops at {clock.last_packet:.1f} s of the {declared:.1f} s its header "
            "declares (truncated download?)",
        )


def _decode(
    container: Any, stream: Any, sampler: Sampler, clock: _Clock, sampling: Sampling
) -> Iterator[tuple[int, Any]]:
    """Decoded frames with their decode index, skipping what the sampling does not need."""
    frames = (
        _decode_all(container, stream, clock)
        if sampling.fps is None or sampling.keyframes_only
        else _decode_sampled(container, stream, sampler, clock, sampling.interval)
    )
    yield from enumerate(frames)


def _decode_all(container: Any, stream: Any, clock: _Clock) -> Iterator[Any]:
    codec = stream.codec_context
    for packet in container.demux(stream):
        if packet.size:
            clock.packet_seconds(packet)
            yield from codec.decode(packet)
    yield from codec.decode(None)


def _decode_sampled(
    container: Any, stream: Any, sampler: Sampler, clock: _Clock, interval: float
) -> Iterator[Any]:
    """Read a GOP of packets at a time and decode only the frames the targets need.

    Within a GOP, the packet of each target (the first frame at or after it) is decoded
    normally; the packets before the last target are sent with ``skip_frame=NONREF``, so
    the decoder drops those that no later frame refers to; the packets after the last
    target are never decoded. A GOP with no target is skipped whole.
    """
    codec = stream.codec_context
    gop: list[Any] = []
    gop_bytes = 0
    for packet in container.demux(stream):
        if not packet.size:
            continue
        clock.packet_seconds(packet)
        if packet.is_keyframe and gop:
            yield from _decode_gop(
                codec, gop, clock, sampler, interval, clock.packet_seconds(packet)
            )
            gop, gop_bytes = [], 0
        gop.append(packet)
        gop_bytes += packet.size
        if gop_bytes > _MAX_GOP_BYTES:  # a pathological GOP: decode it all as it streams
            yield from _decode_gop(codec, gop, clock, sampler, 0.0, None)
            gop, gop_bytes = [], 0
    if gop:
        yield from _decode_gop(codec, gop, clock, sampler, interval, None)


def _decode_gop(
    codec: Any,
    gop: list[Any],
    clock: _Clock,
    sampler: Sampler,
    interval: float,
    gop_end: float | None,
) -> Iterator[Any]:
    needed = _needed_packets(gop, clock, sampler.next_target, interval, gop_end)
    if not needed:
        return
    last = max(needed)
    for position, packet in enumerate(gop[: last + 1]):
        codec.skip_frame = "DEFAULT" if position in needed else "NONREF"
        yield from codec.decode(packet)
    codec.skip_frame = "DEFAULT"
    yield from codec.decode(None)  # drain the frames still held for reordering
    codec.flush_buffers()


def _needed_packets(
    gop: list[Any], clock: _Clock, target: float, interval: float, gop_end: float | None
) -> set[int]:
    """Positions in ``gop`` of the packets whose frames the sampler will take."""
    times = [clock.packet_seconds(packet) for packet in gop]
    if not interval or any(t is None for t in times):
        return set(range(len(gop)))  # no timing to plan with: decode everything
    known = [t for t in times if t is not None]
    end = gop_end if gop_end is not None else max(known) + Sampler.EPSILON * 2
    needed: set[int] = set()
    while target + Sampler.EPSILON < end:
        candidates = [(t, i) for i, t in enumerate(known) if t + Sampler.EPSILON >= target]
        if not candidates:
            break
        ts, position = min(candidates)
        needed.add(position)
        target += (int((ts + Sampler.EPSILON - target) // interval) + 1) * interval
    return needed


class _Clock:
    """Presentation times in seconds from the stream's start, robust to missing timestamps."""

    def __init__(self, stream: Any) -> None:
        self._base: Fraction | None = stream.time_base
        self._origin: int | None = stream.start_time
        self.fps = _frame_rate(stream)
        self.last_packet: float | None = None  # the latest packet time seen

    def seconds(self, frame: Any, index: int) -> float:
        pts = frame.pts
        if pts is None or self._base is None:
            return index / self.fps
        if self._origin is None:
            self._origin = pts
        return max(0.0, float((pts - self._origin) * self._base))

    def packet_seconds(self, packet: Any) -> float | None:
        if packet.pts is None or self._base is None:
            return None
        if self._origin is None:
            self._origin = packet.pts
        seconds = float((packet.pts - self._origin) * self._base)
        if self.last_packet is None or seconds > self.last_packet:
            self.last_packet = seconds
        return seconds


def _rgb_converter(stream: Any, max_side: int | None) -> Callable[[Any], Any]:
    def convert(frame: Any) -> Any:
        width, height = frame.width, frame.height
        if max_side and max(width, height) > max_side:
            scale = max_side / max(width, height)
            width, height = max(1, round(width * scale)), max(1, round(height * scale))
        return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")

    return convert


def _check_limits(path: Path, stream: Any, container: Any, limits: MediaLimits) -> None:
    if stream.codec_context is None:  # a damaged header FFmpeg could open but not describe
        raise Corrupt(path, "the video stream has no decoder description")
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > limits.max_video_pixels:
        raise TooLarge(
            path,
            f"video frames are {width}x{height}, over the limit of "
            f"{limits.max_video_pixels:,} pixels",
        )
    duration = _duration(container, stream)
    if duration is not None and duration > limits.max_video_seconds:
        raise TooLarge(
            path,
            f"video lasts {duration:,.0f} s, over the limit of {limits.max_video_seconds:,.0f} s",
        )


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def _frame_rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0 and math.isfinite(float(rate)):
            return float(rate)
    return 30.0


def _ffmpeg_reason(exc: BaseException) -> str:
    strerror = getattr(exc, "strerror", None)
    return str(strerror or exc)

"""Streamed video: HLS playlists (``.m3u8``) and DASH manifests (``.mpd``).

A site that streams a video names a playlist, not a file. Reclaim reads the playlist,
picks one rendition (the smallest at least 360 pixels high: hashing needs no more),
fetches its first segments through the same guarded fetcher -- every segment URL is
checked like any other, so a playlist pointing at a private address gets nothing --, and
joins them into one file to hash: MPEG-TS segments join as they are, fragmented MP4
segments after their initialisation segment. What is fetched is bounded by a number of
segments, seconds of video and bytes. Encrypted streams (``#EXT-X-KEY`` other than
``NONE``, DASH ``ContentProtection``) are refused: their segments cannot be decoded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from reclaim.monitor.errors import DecodeFailed, FetchFailed, TooLarge

MAX_SEGMENTS = 40
MAX_SECONDS = 120.0
MAX_ENTRIES = 10_000
"""Lines or elements read from one manifest."""
MIN_HEIGHT = 360

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


class StreamRefused(FetchFailed):
    """A playlist that cannot give a video to hash (encrypted, empty, malformed, a loop)."""


@dataclass
class Rendition:
    """One version of the video: where its media playlist (or segments) are."""

    url: str
    bandwidth: int = 0
    height: int = 0


@dataclass
class Segments:
    """The parts of one rendition, in order, to be joined into one file."""

    init: str | None = None
    media: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)


def is_hls(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"#EXTM3U")


def is_dash(body: bytes) -> bool:
    head = body[:2048].lstrip()
    return head.startswith(b"<") and b"<MPD" in head


def choose(renditions: list[Rendition]) -> Rendition:
    """The smallest rendition at least ``MIN_HEIGHT`` high, else the largest there is."""
    tall = [r for r in renditions if r.height >= MIN_HEIGHT]
    if tall:
        return min(tall, key=lambda r: (r.height, r.bandwidth))
    return max(renditions, key=lambda r: (r.height, r.bandwidth))


# -- HLS ---------------------------------------------------------------------------------


def parse_hls(text: str, url: str) -> list[Rendition] | Segments:
    """A master playlist's renditions, or a media playlist's segments."""
    lines = [line.strip() for line in text.splitlines()[:MAX_ENTRIES] if line.strip()]
    if not lines or not lines[0].startswith("#EXTM3U"):
        raise StreamRefused(f"{url}: not an HLS playlist")
    renditions: list[Rendition] = []
    segments = Segments()
    pending_stream: dict[str, str] | None = None
    duration: float | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending_stream = _attributes(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-KEY:"):
            method = _attributes(line.split(":", 1)[1]).get("METHOD", "NONE")
            if method.upper() != "NONE":
                raise StreamRefused(f"{url}: the stream is encrypted ({method})")
        elif line.startswith("#EXT-X-MAP:"):
            uri = _attributes(line.split(":", 1)[1]).get("URI")
            if uri:
                segments.init = urljoin(url, uri)
        elif line.startswith("#EXTINF:"):
            try:
                duration = float(line.split(":", 1)[1].split(",", 1)[0])
            except ValueError:
                duration = None
        elif line.startswith("#"):
            continue
        elif pending_stream is not None:
            resolution = pending_stream.get("RESOLUTION", "")
            height = int(resolution.split("x")[-1]) if re.fullmatch(r"\d+x\d+", resolution) else 0
            bandwidth = pending_stream.get("BANDWIDTH", "0")
            renditions.append(
                Rendition(urljoin(url, line), int(bandwidth) if bandwidth.isdigit() else 0, height)
            )
            pending_stream = None
        else:
            segments.media.append(urljoin(url, line))
            segments.durations.append(duration if duration is not None and duration > 0 else 0.0)
            duration = None
    if renditions:
        return renditions
    if not segments.media:
        raise StreamRefused(f"{url}: the playlist lists no segments")
    return segments


def _attributes(text: str) -> dict[str, str]:
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(text)}


# -- DASH --------------------------------------------------------------------------------


def parse_dash(body: bytes, url: str) -> Segments:
    """The segments of the chosen video representation of a DASH manifest."""
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException, ValueError) as error:
        raise StreamRefused(f"{url}: not a readable DASH manifest: {error}") from None
    if _local(root.tag) != "MPD":
        raise StreamRefused(f"{url}: not a DASH manifest")
    if any(_local(e.tag) == "ContentProtection" for e in root.iter()):
        raise StreamRefused(f"{url}: the stream is encrypted (ContentProtection)")
    total = _duration(root.get("mediaPresentationDuration", ""))
    base = _base(root, url)
    candidates: list[tuple[Rendition, Segments]] = []
    for period in _children(root, "Period"):
        period_base = _base(period, base)
        for adaptation in _children(period, "AdaptationSet"):
            kind = adaptation.get("contentType") or adaptation.get("mimeType") or ""
            representations = _children(adaptation, "Representation")
            if "video" not in kind and not any(
                "video" in r.get("mimeType", "") for r in representations
            ):
                continue
            set_base = _base(adaptation, period_base)
            for representation in representations:
                rep_base = _base(representation, set_base)
                segments = _dash_segments(representation, adaptation, rep_base, total)
                height = representation.get("height", "0")
                bandwidth = representation.get("bandwidth", "0")
                rendition = Rendition(
                    rep_base,
                    int(bandwidth) if bandwidth.isdigit() else 0,
                    int(height) if height.isdigit() else 0,
                )
                if segments.media:
                    candidates.append((rendition, segments))
        break  # the first period is enough to identify the video
    if not candidates:
        raise StreamRefused(f"{url}: the manifest has no video segments Reclaim can read")
    chosen = choose([rendition for rendition, _ in candidates])
    return next(segments for rendition, segments in candidates if rendition is chosen)


def _dash_segments(
    representation: Element, adaptation: Element, base: str, total: float | None
) -> Segments:
    rep_id = representation.get("id", "")
    bandwidth = representation.get("bandwidth", "")
    listed = _inherited("SegmentList", representation, adaptation)
    if listed is not None:
        init = _child(listed, "Initialization")
        segments = Segments(
            init=urljoin(base, init.get("sourceURL", "")) if init is not None else None
        )
        for entry in _children(listed, "SegmentURL")[:MAX_ENTRIES]:
            if entry.get("media"):
                segments.media.append(urljoin(base, entry.get("media", "")))
                segments.durations.append(_segment_seconds(listed))
        return segments
    template = _inherited("SegmentTemplate", representation, adaptation)
    if template is None:  # one file holds the whole representation
        return Segments(media=[base], durations=[total or 0.0])

    def fill(pattern: str, number: int | None = None, time: int | None = None) -> str:
        out = pattern.replace("$RepresentationID$", rep_id).replace("$Bandwidth$", bandwidth)
        out = re.sub(r"\$Number(%0(\d)d)?\$", lambda m: _pad(number, m.group(2)), out)
        out = re.sub(r"\$Time(%0(\d)d)?\$", lambda m: _pad(time, m.group(2)), out)
        return urljoin(base, out.replace("$$", "$"))

    init_pattern = template.get("initialization")
    segments = Segments(init=fill(init_pattern) if init_pattern else None)
    media = template.get("media", "")
    if not media:
        return segments
    start = int(template.get("startNumber", "1") or 1)
    timescale = int(template.get("timescale", "1") or 1) or 1
    timeline = _child(template, "SegmentTimeline")
    if timeline is not None:
        time, number = 0, start
        for entry in _children(timeline, "S")[:MAX_ENTRIES]:
            time = int(entry.get("t", time))
            length = int(entry.get("d", "0"))
            for _ in range(int(entry.get("r", "0")) + 1):
                segments.media.append(fill(media, number, time))
                segments.durations.append(length / timescale)
                time, number = time + length, number + 1
                if len(segments.media) >= MAX_SEGMENTS:
                    return segments
        return segments
    seconds = int(template.get("duration", "0") or 0) / timescale
    count = int(total / seconds) + 1 if total and seconds > 0 else MAX_SEGMENTS
    for index in range(min(count, MAX_SEGMENTS)):
        segments.media.append(fill(media, start + index))
        segments.durations.append(seconds)
    return segments


def _pad(value: int | None, width: str | None) -> str:
    if value is None:
        return ""
    return str(value).zfill(int(width)) if width else str(value)


def _segment_seconds(listed: Element) -> float:
    timescale = int(listed.get("timescale", "1") or 1) or 1
    return int(listed.get("duration", "0") or 0) / timescale


def _duration(text: str) -> float | None:
    """Seconds of an ISO 8601 duration such as ``PT1M30.5S``."""
    match = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", text.strip())
    if not match or not text.strip():
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def _base(element: Element, base: str) -> str:
    child = _child(element, "BaseURL")
    return urljoin(base, (child.text or "").strip()) if child is not None else base


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _children(parent: Element, name: str) -> list[Element]:
    return [child for child in parent if _local(child.tag) == name]


def _child(parent: Element, name: str) -> Element | None:
    found = _children(parent, name)
    return found[0] if found else None


def _inherited(name: str, *levels: Element) -> Element | None:
    """The first ``name`` child along ``levels`` (a representation, then its set). Not
    ``or``: an element without children is false."""
    for level in levels:
        found = _child(level, name)
        if found is not None:
            return found
    return None


# -- joining segments ----------------------------------------------------------------------

Download = Callable[[str, Path], int]
"""Fetch a URL into a file (through the guarded fetcher); returns the bytes written."""


def assemble(
    manifest: bytes,
    url: str,
    target: Path,
    download: Download,
    *,
    max_bytes: int,
    fetch_text: Callable[[str], bytes],
) -> int:
    """Join the first segments of the stream described by ``manifest`` (fetched from
    ``url``) into ``target``; returns the number of segments joined."""
    if is_hls(manifest):
        parsed = parse_hls(manifest.decode("utf-8", "replace"), url)
        if isinstance(parsed, list):
            chosen = choose(parsed)
            parsed = parse_hls(fetch_text(chosen.url).decode("utf-8", "replace"), chosen.url)
            if isinstance(parsed, list):
                raise StreamRefused(f"{url}: a master playlist points at another master")
        segments = parsed
    elif is_dash(manifest):
        segments = parse_dash(manifest, url)
    else:
        raise DecodeFailed(f"{url}: neither an HLS playlist nor a DASH manifest")
    parts = ([segments.init] if segments.init else []) + _first(segments)
    written = 0
    scratch = target.with_name(target.name + ".part")
    with target.open("wb") as out:
        for part in parts:
            written += download(part, scratch)
            if written > max_bytes:
                raise TooLarge(f"{url}: the stream's segments exceed {max_bytes} bytes")
            with scratch.open("rb") as piece:
                while block := piece.read(1 << 20):
                    out.write(block)
    scratch.unlink(missing_ok=True)
    return len(parts) - (1 if segments.init else 0)


def _first(segments: Segments) -> list[str]:
    """The segments within ``MAX_SEGMENTS`` and ``MAX_SECONDS``."""
    chosen: list[str] = []
    seconds = 0.0
    for media, duration in zip(segments.media, segments.durations, strict=True):
        if len(chosen) >= MAX_SEGMENTS or seconds >= MAX_SECONDS:
            break
        chosen.append(media)
        seconds += duration
    return chosen

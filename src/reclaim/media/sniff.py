"""Identify a file's real format from its first bytes; names and Content-Types are ignored.

Only formats listed in :class:`MediaFormat` are ever handed to a decoder, and each is handed
to exactly one decoder (Pillow plugin or FFmpeg demuxer) chosen here, so that FFmpeg never
probes its way into a playlist, concat list or network protocol.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from reclaim.media.errors import EmptyFile, NotAFile, UnsupportedType

SNIFF_BYTES = 4096


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class MediaFormat(StrEnum):
    """Supported formats. The value is the Pillow plugin name or the FFmpeg demuxer name."""

    JPEG = "JPEG"
    PNG = "PNG"
    GIF = "GIF"
    WEBP = "WEBP"
    BMP = "BMP"
    TIFF = "TIFF"
    HEIF = "HEIF"
    MP4 = "mov"  # MP4, MOV, 3GP, M4V: one ISO-BMFF demuxer
    MATROSKA = "matroska"  # MKV and WebM
    AVI = "avi"
    MPEGTS = "mpegts"
    FLV = "flv"

    @property
    def kind(self) -> MediaKind:
        return MediaKind.IMAGE if self.value.isupper() else MediaKind.VIDEO


_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

# Things people (and attackers) send that are not media; named for a clearer message.
_NOT_MEDIA: tuple[tuple[bytes, str], ...] = (
    (b"#EXTM3U", "an HLS playlist (refused: it would make the decoder fetch other files)"),
    (b"ffconcat", "an FFmpeg concat list (refused: it names other files)"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ", "an xz archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "a Windows executable"),
    (b"<?xml", "an XML document"),
    (b"<svg", "an SVG drawing (vector images are not hashed)"),
)


def sniff_bytes(head: bytes, path: Path | str = "<bytes>") -> MediaFormat:
    """The format of a file that starts with ``head``; raise :class:`UnsupportedType` if none."""
    if not head:
        raise EmptyFile(path, "the file is empty")
    found = _match_media(head)
    if found is not None:
        return found
    raise UnsupportedType(path, f"not a supported image or video: looks like {_describe(head)}")


def sniff_file(path: Path) -> MediaFormat:
    """The format of the file at ``path`` (reads its first few kilobytes only)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise NotAFile(path, f"cannot read the file: {exc.strerror or exc}") from exc
    return sniff_bytes(head, path)


def _match_media(head: bytes) -> MediaFormat | None:
    if head.startswith(b"\xff\xd8\xff"):
        return MediaFormat.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaFormat.PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaFormat.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaFormat.WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return MediaFormat.AVI
    if head[:2] == b"BM" and len(head) >= 26 and head[14:15] in (b"\x0c", b"(", b"@", b"l", b"|"):
        return MediaFormat.BMP  # byte 14 is the DIB header size: 12, 40, 64, 108 or 124
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return MediaFormat.TIFF
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaFormat.MATROSKA
    if head[:3] == b"FLV" and len(head) > 3 and head[3] == 1:
        return MediaFormat.FLV
    if _is_mpegts(head):
        return MediaFormat.MPEGTS
    if len(head) >= 12 and head[4:8] in _ISO_BOXES:
        if head[4:8] == b"ftyp" and (head[8:12] in _HEIF_BRANDS or _heif_compatible(head)):
            return MediaFormat.HEIF
        return MediaFormat.MP4
    return None


def _heif_compatible(head: bytes) -> bool:
    """An ``ftyp`` box whose compatible brands mark a still image (e.g. major brand 'mif1')."""
    size = int.from_bytes(head[0:4], "big")
    brands = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    video_brands = {b"isom", b"mp41", b"mp42", b"avc1", b"iso2", b"qt  ", b"3gp4", b"3gp5"}
    return bool(brands & {b"heic", b"heix", b"mif1"}) and not brands & video_brands


def _is_mpegts(head: bytes) -> bool:
    for packet in (188, 192):
        offset = 0 if packet == 188 else 4
        if len(head) >= offset + 2 * packet + 1 and all(
            head[offset + i * packet] == 0x47 for i in range(3)
        ):
            return True
    return False


def _describe(head: bytes) -> str:
    for magic, description in _NOT_MEDIA:
        if head.startswith(magic):
            return description
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "an HTML page"
    if b"#extm3u" in text[:64] or b"#ext-x-" in text:
        return "an HLS playlist (refused: it would make the decoder fetch other files)"
    if _looks_textual(head):
        return "a text file"
    return "unrecognised binary data"


def _looks_textual(head: bytes) -> bool:
    sample = head[:1024]
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 13))
    return b"\x00" not in sample and controls * 20 < len(sample)

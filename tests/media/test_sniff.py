"""Type sniffing: the bytes decide, and non-media is named in the error."""

from __future__ import annotations

import pytest

from reclaim.media import EmptyFile, MediaFormat, UnsupportedType, sniff_bytes


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, MediaFormat.JPEG),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, MediaFormat.PNG),
        (b"GIF89a" + b"\x00" * 20, MediaFormat.GIF),
        (b"GIF87a" + b"\x00" * 20, MediaFormat.GIF),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", MediaFormat.WEBP),
        (b"RIFF\x00\x00\x00\x00AVI LIST", MediaFormat.AVI),
        (b"BM" + b"\x00" * 12 + b"(" + b"\x00" * 20, MediaFormat.BMP),
        (b"II*\x00" + b"\x00" * 20, MediaFormat.TIFF),
        (b"MM\x00*" + b"\x00" * 20, MediaFormat.TIFF),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", MediaFormat.HEIF),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", MediaFormat.HEIF),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", MediaFormat.MP4),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", MediaFormat.MP4),
        (b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x003gp4", MediaFormat.MP4),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 20, MediaFormat.MATROSKA),
        (b"FLV\x01\x05" + b"\x00" * 20, MediaFormat.FLV),
        ((b"\x47" + b"\x00" * 187) * 3, MediaFormat.MPEGTS),
    ],
)
def test_formats_by_magic(head: bytes, expected: MediaFormat) -> None:
    assert sniff_bytes(head) is expected


@pytest.mark.parametrize(
    ("head", "named"),
    [
        (b"#EXTM3U\n#EXTINF:10,\nhttp://169.254.169.254/\n", "HLS playlist"),
        (b"\n\n  #EXT-X-VERSION:3\n", "HLS playlist"),
        (b"ffconcat version 1.0\nfile 'http://x/'\n", "concat list"),
        (b"PK\x03\x04" + b"\x00" * 30, "ZIP archive"),
        (b"<!doctype html><html>", "HTML page"),
        (b"\xef\xbb\xbf<html>", "HTML page"),
        (b"%PDF-1.7", "PDF"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (b"hello, this is text\n", "text file"),
        (bytes(range(256)) * 4, "unrecognised binary"),
        (b"BM" + b"\x00" * 30, "unrecognised binary"),  # "BM" alone is not enough
    ],
)
def test_non_media_is_refused_and_named(head: bytes, named: str) -> None:
    with pytest.raises(UnsupportedType, match=named):
        sniff_bytes(head)


def test_empty_is_its_own_error() -> None:
    with pytest.raises(EmptyFile):
        sniff_bytes(b"")

"""The checks every reader of an untrusted file makes before decoding a byte of it."""

from __future__ import annotations

import stat
from pathlib import Path

from reclaim.media.errors import NotAFile, TooLarge, UnsupportedType
from reclaim.media.limits import MediaLimits
from reclaim.media.sniff import MediaFormat, MediaKind, sniff_file


def checked_file(
    path: Path, limits: MediaLimits, *, want: MediaKind | None = None, purpose: str = ""
) -> MediaFormat:
    """``path``'s format, once it is known to be a regular file of a kind Reclaim reads
    (``want``, if named: anything else is :class:`UnsupportedType`, saying ``purpose``) and
    within the byte limit for that kind."""
    try:
        info = path.stat()
    except OSError as exc:
        reason = "a symbolic link loop" if exc.errno == 40 else exc.strerror or str(exc)
        raise NotAFile(path, f"cannot read the file: {reason}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise NotAFile(path, "not a regular file (a directory, device or pipe)")
    fmt = sniff_file(path)
    if want is not None and fmt.kind is not want:
        raise UnsupportedType(path, f"a {fmt.name} {fmt.kind}, not a {want}{purpose}")
    limit = limits.max_image_bytes if fmt.kind is MediaKind.IMAGE else limits.max_video_bytes
    if info.st_size > limit:
        raise TooLarge(
            path, f"file is {info.st_size:,} bytes, over the {fmt.kind} limit of {limit:,}"
        )
    return fmt

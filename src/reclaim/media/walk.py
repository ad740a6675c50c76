"""Expand the paths a person names into the media files under them, safely.

Directories are walked recursively in a stable (sorted) order, following symbolic links
but never around a loop; hidden entries (names starting with ".") inside directories are
skipped, while a hidden file named explicitly is kept. Problems become
:class:`NotAFile` errors in the stream, so one bad entry never stops the walk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from reclaim.media.errors import NotAFile


def iter_files(paths: list[str]) -> Iterator[str | NotAFile]:
    """Each file under ``paths`` as a path string built from the argument as given."""
    for given in paths:
        path = Path(given)
        try:
            is_dir = path.is_dir()
        except OSError as exc:  # e.g. a symbolic link loop in the argument itself
            yield NotAFile(given, f"cannot read: {exc.strerror or exc}")
            continue
        if is_dir:
            yield from _walk(given, set())
        else:
            yield given


def _walk(directory: str, ancestors: set[tuple[int, int]]) -> Iterator[str | NotAFile]:
    try:
        info = os.stat(directory)
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        yield NotAFile(directory, f"cannot list the directory: {exc.strerror or exc}")
        return
    key = (info.st_dev, info.st_ino)
    if key in ancestors:
        yield NotAFile(directory, "symbolic link loop: this directory contains itself")
        return
    inner = ancestors | {key}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        child = os.path.join(directory, entry.name)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError as exc:
            yield NotAFile(child, f"cannot read: {exc.strerror or exc}")
            continue
        if is_dir:
            yield from _walk(child, inner)
        else:
            yield child

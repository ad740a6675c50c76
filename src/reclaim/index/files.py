"""An index on disk: a directory of ``.npy`` arrays under a JSON manifest, replaced atomically.

Layout::

    path/manifest.json          format name and version, metadata, and for each array its
                                 file name, dtype, shape, size and SHA-256
    path/data-<generation>/     the arrays of the version the manifest names

A save writes a new generation into ``path/.staging-<generation>``, fsyncs it, renames it
to ``path/data-<generation>`` and only then replaces ``manifest.json`` (write to a temporary
name, fsync, ``os.replace``): a crash at any point leaves the previous manifest and the
data it names intact, and the next save clears the debris. The old generation is deleted
after the switch; on Linux an index still reading it through ``mmap`` keeps working.

One process at a time may save to a directory. A load that races a save and finds the
generation it was reading deleted under it starts again once from the new manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from reclaim.index.errors import IndexCorrupt, NotAnIndex
from reclaim.store.digest import file_sha256

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_GENERATION = re.compile(r"data-[0-9a-f]{1,24}-[0-9a-f]{8}")
_ARRAY_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
_DEBRIS = re.compile(r"(\.staging-)?data-[0-9a-f]{1,24}-[0-9a-f]{8}|\.manifest-[0-9a-f]{8}\.json")

AnyArray = npt.NDArray[Any]


class _HashingWriter:
    """A file wrapper that hashes what ``np.save`` writes through it (no second read)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self._handle.write(data)


def write_arrays(
    path: Path, kind: str, meta: Mapping[str, Any], arrays: Mapping[str, AnyArray]
) -> None:
    """Save ``arrays`` and ``meta`` as index ``kind`` in directory ``path``, atomically."""
    path.mkdir(parents=True, exist_ok=True)
    # Debris of a save that crashed before its first manifest does not make a directory foreign.
    foreign = [entry for entry in path.iterdir() if not _DEBRIS.fullmatch(entry.name)]
    if not (path / MANIFEST).is_file() and foreign:
        raise NotAnIndex(f"refusing to save into {path}: it holds files but no index manifest")
    generation = f"data-{time.time_ns():x}-{secrets.token_hex(4)}"
    staging = path / f".staging-{generation}"
    staging.mkdir()
    committed = False
    try:
        files = {name: _write_array(staging, name, array) for name, array in arrays.items()}
        fsync_directory(staging)
        os.rename(staging, path / generation)
        manifest = {
            "format": kind,
            "version": FORMAT_VERSION,
            "data": generation,
            "meta": dict(meta),
            "files": files,
        }
        os.replace(_staged_manifest(path, manifest), path / MANIFEST)
        committed = True
        fsync_directory(path)
    finally:
        if not committed:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(path / generation, ignore_errors=True)
    _remove_debris(path, keep=generation)


def _write_array(directory: Path, name: str, array: AnyArray) -> dict[str, Any]:
    with (directory / f"{name}.npy").open("wb") as handle:
        writer = _HashingWriter(handle)
        np.save(writer, np.ascontiguousarray(array), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
        size = handle.tell()
    return {
        "dtype": np.dtype(array.dtype).str,
        "shape": list(array.shape),
        "bytes": size,
        "sha256": writer.digest.hexdigest(),
    }


def _staged_manifest(path: Path, manifest: Mapping[str, Any]) -> Path:
    """The manifest written and fsynced under a temporary name, ready for ``os.replace``."""
    temporary = path / f".manifest-{secrets.token_hex(4)}.json"
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    return temporary


def fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_debris(path: Path, keep: str) -> None:
    for entry in path.iterdir():
        if entry.name != keep and _DEBRIS.fullmatch(entry.name):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def read_manifest(path: Path, kind: str) -> dict[str, Any]:
    """The manifest of index ``kind`` in ``path``, checked; raises :class:`IndexCorrupt`."""
    if not path.is_dir() or not (path / MANIFEST).is_file():
        raise NotAnIndex(f"{path} is not an index directory (no {MANIFEST})")
    try:
        manifest = json.loads((path / MANIFEST).read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IndexCorrupt(f"{path / MANIFEST} is unreadable: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != kind:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise NotAnIndex(f"{path} holds {found!r}, not a {kind!r} index")
    if manifest.get("version") != FORMAT_VERSION:
        raise IndexCorrupt(f"{path}: unsupported format version {manifest.get('version')!r}")
    data, files, meta = manifest.get("data"), manifest.get("files"), manifest.get("meta")
    if not isinstance(data, str) or not _GENERATION.fullmatch(data):
        raise IndexCorrupt(f"{path}: bad data directory name {data!r}")
    if not isinstance(files, dict) or not isinstance(meta, dict):
        raise IndexCorrupt(f"{path}: manifest lacks its file list or metadata")
    return manifest


def read_arrays(
    path: Path, kind: str, names: Iterable[str], *, mmap: bool, verify: bool
) -> tuple[dict[str, Any], dict[str, AnyArray]]:
    """The metadata and the arrays ``names`` of index ``kind`` in ``path``, read-only.

    Large arrays are memory-mapped when ``mmap``; ``verify`` also checks SHA-256 sums.
    """
    manifest = read_manifest(path, kind)
    try:
        return manifest["meta"], _read_generation(path, manifest, names, mmap=mmap, verify=verify)
    except IndexCorrupt:
        latest = read_manifest(path, kind)
        if latest["data"] == manifest["data"]:
            raise
        # A save replaced the generation while we read it: read the new one.
        return latest["meta"], _read_generation(path, latest, names, mmap=mmap, verify=verify)


def _read_generation(
    path: Path, manifest: dict[str, Any], names: Iterable[str], *, mmap: bool, verify: bool
) -> dict[str, AnyArray]:
    data = path / manifest["data"]
    arrays = {}
    for name in names:
        entry = manifest["files"].get(name)
        if not isinstance(entry, dict) or not _ARRAY_NAME.fullmatch(name):
            raise IndexCorrupt(f"{path}: the manifest does not list array {name!r}")
        arrays[name] = _read_array(data / f"{name}.npy", entry, mmap=mmap, verify=verify)
    return arrays


def _read_array(file: Path, entry: Mapping[str, Any], *, mmap: bool, verify: bool) -> AnyArray:
    try:
        size = file.stat().st_size
    except OSError as error:
        raise IndexCorrupt(f"{file} is missing: {error}") from None
    if size != entry.get("bytes"):
        raise IndexCorrupt(f"{file} has {size} bytes, the manifest says {entry.get('bytes')}")
    if verify and file_sha256(file) != entry.get("sha256"):
        raise IndexCorrupt(f"{file} fails its SHA-256 check")
    try:
        array: AnyArray = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise IndexCorrupt(f"{file} is not a readable array: {error}") from None
    if array.dtype.str != entry.get("dtype") or list(array.shape) != entry.get("shape"):
        raise IndexCorrupt(f"{file} holds {array.dtype} {array.shape}, not what the manifest says")
    array = np.asarray(array)  # a plain ndarray over the map: numba does not take np.memmap
    array.flags.writeable = False
    return array

"""The media spool: files a fetch worker downloaded, waiting for the hash and match workers.

Each file is sealed (:mod:`reclaim.store.sealed`) with a key of its own, kept in the
database row of the work it belongs to (:class:`~reclaim.monitor.models.MediaWork`) and
deleted with it: a spool folder copied, or a file left behind by a crash, cannot be read.
On several machines the spool is shared storage, as the blob store is.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from reclaim.store.sealed import Unsealable, seal, unseal

MAGIC = b"RCLMSPOOL1\n"
_NAME = re.compile(r"[0-9a-f]{32}")


class SpoolError(Exception):
    """A spooled file that cannot be written or read (the message says why)."""


class SpoolFull(SpoolError):
    """The disk under the spool is full: nothing was spooled."""


@dataclass(frozen=True, slots=True)
class Spooled:
    """One file in the spool: its name, its key, and what it holds."""

    name: str
    key: bytes
    sha256: str
    size: int


class Spool:
    """Sealed files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, path: Path) -> Spooled:
        """Seal the file at ``path`` into the spool (written in full, or not at all)."""
        with path.open("rb") as source:
            return self._put(source)

    def put_bytes(self, data: bytes) -> Spooled:
        """Seal ``data`` into the spool."""
        return self._put(io.BytesIO(data))

    def read_bytes(self, spooled: Spooled) -> bytes:
        """A spooled entry's plaintext (for small ones: :meth:`opened` streams a file)."""
        return b"".join(self._plain(spooled))

    def _put(self, source: BinaryIO) -> Spooled:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = secrets.token_hex(16)
        key = AESGCM.generate_key(bit_length=256)
        target = self._path(name)
        partial = target.with_suffix(".partial")
        try:
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                sha256, size = seal(source, out, key=key, aad=_aad(name), magic=MAGIC)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(target)
        except OSError as error:
            partial.unlink(missing_ok=True)
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise SpoolFull(
                    f"the disk under the media spool ({self.root}) is full: nothing was spooled"
                ) from error
            raise SpoolError(f"cannot write to the media spool ({self.root}): {error}") from error
        return Spooled(name, key, sha256, size)

    @contextlib.contextmanager
    def opened(self, spooled: Spooled, scratch: Path) -> Iterator[Path]:
        """The spooled file's plaintext, in a file of its own under ``scratch`` (removed
        afterwards); :class:`SpoolError` if it is gone, altered or not what it should be."""
        scratch.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=scratch, prefix="media-")
        plain = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as out:
                for chunk in self._plain(spooled):
                    out.write(chunk)
            yield plain
        finally:
            plain.unlink(missing_ok=True)

    def _plain(self, spooled: Spooled) -> Iterator[bytes]:
        """The plaintext chunks of a spooled entry, checked against its SHA-256."""
        digest = hashlib.sha256()
        try:
            with self._path(spooled.name).open("rb") as sealed:
                for chunk in unseal(sealed, key=spooled.key, aad=_aad(spooled.name), magic=MAGIC):
                    digest.update(chunk)
                    yield chunk
        except FileNotFoundError:
            raise SpoolError(f"spooled file {spooled.name} is gone") from None
        except Unsealable as error:
            raise SpoolError(f"spooled file {spooled.name}: {error}") from None
        except OSError as error:
            raise SpoolError(f"cannot read spooled file {spooled.name}: {error}") from error
        if digest.hexdigest() != spooled.sha256:
            raise SpoolError(f"spooled file {spooled.name} does not hash to what was spooled")

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def remove(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def leftovers(self, keep: set[str], older_than: float) -> list[str]:
        """Spooled files (and half-written ones) no work names in ``keep``, untouched for
        ``older_than`` seconds: what a crash between spooling and recording left."""
        if not self.root.is_dir():
            return []
        cutoff = time.time() - older_than
        found = []
        for entry in os.scandir(self.root):
            name = entry.name.removesuffix(".partial")
            if not _NAME.fullmatch(name) or name in keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff:
                    found.append(entry.name)
        return found

    def discard(self, entry: str) -> None:
        """Remove a leftover named by :meth:`leftovers`."""
        if not _NAME.fullmatch(entry.removesuffix(".partial")):
            raise SpoolError(f"not a spool entry: {entry!r}")
        (self.root / entry).unlink(missing_ok=True)

    def _path(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise SpoolError(f"not a spooled file's name: {name!r}")
        return self.root / name


def _aad(name: str) -> bytes:
    return b"reclaim spool " + name.encode()

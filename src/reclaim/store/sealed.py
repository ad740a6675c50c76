"""Files sealed with AES-256-GCM in chunks: the format of blobs and of the media spool.

A sealed file is a magic line, an 8-byte random prefix, then the plaintext in chunks of
1 MiB, each encrypted with a nonce made of the prefix, the chunk's number and a flag on
the last one -- so chunks cannot be reordered, dropped or cut off unnoticed -- and bound
to a name (``aad``) so a file cannot be passed off as another.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNK = 1 << 20
TAG = 16
PREFIX = 8


class Unsealable(Exception):
    """A sealed file that is not one, was altered or was cut short."""


def seal(
    source: BinaryIO, out: BinaryIO, *, key: bytes, aad: bytes, magic: bytes
) -> tuple[str, int]:
    """Write ``source`` sealed with ``key`` to ``out``; its plaintext SHA-256 and size."""
    aead = AESGCM(key)
    digest, size = hashlib.sha256(), 0
    prefix = secrets.token_bytes(PREFIX)
    out.write(magic + prefix)
    chunk = source.read(CHUNK)
    index = 0
    while True:
        following = source.read(CHUNK)
        last = not following
        digest.update(chunk)
        size += len(chunk)
        out.write(aead.encrypt(_nonce(prefix, index, last), chunk, aad))
        if last:
            return digest.hexdigest(), size
        chunk, index = following, index + 1


def unseal(source: BinaryIO, *, key: bytes, aad: bytes, magic: bytes) -> Iterator[bytes]:
    """The plaintext chunks of the sealed ``source``; :class:`Unsealable` if it is not
    one, or was altered or cut short (the caller checks the plaintext's digest)."""
    aead = AESGCM(key)
    head = source.read(len(magic) + PREFIX)
    if len(head) < len(magic) + PREFIX or not head.startswith(magic):
        raise Unsealable("not a Reclaim sealed file")
    prefix = head[len(magic) :]
    index = 0
    sealed = source.read(CHUNK + TAG)
    if not sealed:
        raise Unsealable("was cut short")
    while sealed:
        following = source.read(CHUNK + TAG)
        try:
            yield aead.decrypt(_nonce(prefix, index, not following), sealed, aad)
        except InvalidTag:
            raise Unsealable("was altered or cut short") from None
        sealed, index = following, index + 1


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", (index << 1) | int(last))

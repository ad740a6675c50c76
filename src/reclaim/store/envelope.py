"""Secrets at rest: a master key that wraps other keys with AES-256-GCM.

The master key is 32 random bytes in a file readable by its owner only (``reclaim keys
init`` makes it). Everything secret that Reclaim stores -- the organisations' signing
keys, the per-case data keys of the blob store -- is kept *wrapped*: encrypted and
authenticated under the master key, bound by associated data to what it is (a signing key
of this organisation, the data key of that case), so a wrapped value copied elsewhere in
the database does not unwrap.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_SIZE = 32
NONCE_SIZE = 12
_MAGIC = b"RCLM1"


class KeyProblem(Exception):
    """Base of the key problems below."""


class MasterKeyMissing(KeyProblem):
    """No master key where the settings say it is."""


class MasterKeyInvalid(KeyProblem):
    """A master key file that is not one (wrong size, wrong permissions)."""


class UnwrapFailed(KeyProblem):
    """A wrapped value that this master key did not wrap (or that was altered)."""


class MasterKey:
    """The key that wraps the other keys."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise MasterKeyInvalid(f"a master key is {KEY_SIZE} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def create(cls, path: Path) -> MasterKey:
        """Make a new master key file at ``path`` (never over an existing one)."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(KEY_SIZE)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(_MAGIC + key)
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> MasterKey:
        """The master key in ``path``; refuses a file others may read."""
        if not path.is_file():
            raise MasterKeyMissing(f"no master key at {path}: run `reclaim keys init`")
        if os.name == "posix" and path.stat().st_mode & 0o077:
            raise MasterKeyInvalid(f"{path} may be read by others: chmod 600 it")
        data = path.read_bytes()
        if not data.startswith(_MAGIC) or len(data) != len(_MAGIC) + KEY_SIZE:
            raise MasterKeyInvalid(f"{path} is not a Reclaim master key")
        return cls(data[len(_MAGIC) :])

    def wrap(self, secret: bytes, purpose: str) -> bytes:
        """``secret`` encrypted and authenticated, bound to ``purpose``."""
        nonce = secrets.token_bytes(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, secret, purpose.encode())

    def unwrap(self, wrapped: bytes, purpose: str) -> bytes:
        """The secret of :meth:`wrap`; :class:`UnwrapFailed` if it was altered, wrapped
        by another master key or for another purpose."""
        try:
            return self._aead.decrypt(wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], purpose.encode())
        except (InvalidTag, ValueError):
            raise UnwrapFailed(f"the {purpose} does not unwrap with this master key") from None

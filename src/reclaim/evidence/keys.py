"""Each organisation's Ed25519 signing keys: made, rotated, used, and kept for checking.

An organisation has one active key; ``rotate`` retires it (it stays, public and wrapped,
so everything it signed can still be verified) and makes a new one. Private keys are
stored wrapped by the master key (:mod:`reclaim.store.envelope`), bound to the
organisation and key id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.cases.models import Organisation
from reclaim.evidence.models import SigningKey
from reclaim.store.base import utcnow
from reclaim.store.envelope import MasterKey


class NoSigningKey(LookupError):
    """The organisation has no active signing key (``reclaim keys init`` makes one)."""


class BadSignature(ValueError):
    """A signature that does not verify with the key it names."""


def key_id_of(public_key: bytes) -> str:
    """A key's id: the first 16 bytes of SHA-256 of its raw public key, in hex."""
    return hashlib.sha256(public_key).hexdigest()[:32]


def _purpose(org_id: int, key_id: str) -> str:
    return f"signing key {key_id} of organisation {org_id}"


@dataclass(frozen=True, slots=True)
class Signer:
    """An unwrapped private key, for as long as it is needed."""

    key_id: str
    private: Ed25519PrivateKey

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    @property
    def public_key(self) -> bytes:
        return raw_public(self.private.public_key())


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def create_key(session: Session, *, org: Organisation, master: MasterKey) -> SigningKey:
    """A new active key for ``org``; the one active before is retired."""
    private = Ed25519PrivateKey.generate()
    public = raw_public(private.public_key())
    key_id = key_id_of(public)
    raw_private = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    now = utcnow()
    for old in session.scalars(
        select(SigningKey).where(SigningKey.org_id == org.id, SigningKey.retired.is_(None))
    ):
        old.retired = now
    key = SigningKey(
        org_id=org.id,
        key_id=key_id,
        public_key=public,
        private_wrapped=master.wrap(raw_private, _purpose(org.id, key_id)),
        created=now,
    )
    session.add(key)
    session.flush()
    return key


def active_key(session: Session, *, org: Organisation) -> SigningKey:
    key = session.scalar(
        select(SigningKey)
        .where(SigningKey.org_id == org.id, SigningKey.retired.is_(None))
        .order_by(SigningKey.id.desc())
    )
    if key is None:
        raise NoSigningKey(f"organisation {org.slug} has no signing key: run `reclaim keys init`")
    return key


def signer(session: Session, *, org: Organisation, master: MasterKey) -> Signer:
    """The organisation's active key, unwrapped."""
    key = active_key(session, org=org)
    raw = master.unwrap(key.private_wrapped, _purpose(org.id, key.key_id))
    return Signer(key.key_id, Ed25519PrivateKey.from_private_bytes(raw))


def org_keys(session: Session, *, org: Organisation) -> list[SigningKey]:
    """All of the organisation's keys, oldest first (retired ones included)."""
    return list(
        session.scalars(
            select(SigningKey).where(SigningKey.org_id == org.id).order_by(SigningKey.id)
        )
    )


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Check an Ed25519 signature; :class:`BadSignature` if it does not hold."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise BadSignature("the signature does not verify with this key") from None

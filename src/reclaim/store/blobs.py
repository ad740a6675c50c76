"""The encrypted blob store: evidence files and media, encrypted at rest per case.

Each case (and each organisation, for what belongs to no case) has a **data key**, kept
wrapped by the master key (:mod:`reclaim.store.envelope`). A blob is written as a file
of AES-256-GCM chunks (1 MiB each; the nonce counts the chunks and the last chunk is
marked, so chunks cannot be reordered, dropped or cut off unnoticed), named by a random
id under ``DATA_DIR/blobs``; its plaintext SHA-256 and size are kept in the database.

**Crypto-shredding**: when a survivor withdraws, :func:`shred` destroys the case's data
key and removes its files -- whatever copies of the files remain (backups) can no longer
be read. A **legal hold** placed by a person (an open police case) stops that until it is
released; the hold, who placed it and why, are recorded.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from reclaim.store.base import Base, UtcDateTime, utcnow
from reclaim.store.envelope import KeyProblem, MasterKey
from reclaim.store.sealed import Unsealable, seal, unseal

MAGIC = b"RCLMBLOB1\n"


class BlobError(Exception):
    """A blob that cannot be stored or read (the message says why)."""


class StoreFull(BlobError):
    """The disk under the blob store is full (or over quota): nothing was stored."""


class Shredded(BlobError):
    """The blob's data key was destroyed: it can never be read again."""


class HoldActive(BlobError):
    """A legal hold stops the case's data from being destroyed."""


class DataKey(Base):
    __tablename__ = "data_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """None once shredded."""
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    shredded: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Blob(Base):
    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_keys.id"))
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LegalHold(Base):
    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    placed_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    placed: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    released: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


def _purpose(key: DataKey) -> str:
    return f"data key {key.id} of organisation {key.org_id}, case {key.case_id}"


class BlobStore:
    """Blobs on disk under ``root``, their keys and records in the database."""

    def __init__(self, root: Path, master: MasterKey | None) -> None:
        """Without a ``master`` key the store can only shred (a withdrawal must work even
        where no key was ever made); reading and writing need it."""
        self.root = root
        self._maybe_master = master

    @property
    def _master(self) -> MasterKey:
        if self._maybe_master is None:
            raise KeyProblem("stored files need the master key (`reclaim keys init`)")
        return self._maybe_master

    def put(
        self,
        session: Session,
        *,
        org_id: int,
        case_id: int | None,
        kind: str,
        data: bytes | BinaryIO,
    ) -> Blob:
        """Encrypt and store ``data``; the returned record names the blob."""
        key = self._data_key(session, org_id, case_id)
        if key.wrapped is None:
            raise Shredded("the case's data was destroyed at the survivor's request")
        data_key = self._master.unwrap(key.wrapped, _purpose(key))
        blob_id = secrets.token_hex(16)
        path = self._path(blob_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        source = io.BytesIO(data) if isinstance(data, bytes) else data
        partial = path.with_suffix(".partial")
        try:
            with partial.open("wb") as out:
                sha256, size = seal(source, out, key=data_key, aad=_aad(blob_id), magic=MAGIC)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(path)
        except OSError as error:
            partial.unlink(missing_ok=True)  # a half-written file is never left to be found
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StoreFull(
                    f"the disk under the blob store ({self.root}) is full: nothing was stored"
                ) from error
            raise BlobError(f"cannot write to the blob store ({self.root}): {error}") from error
        blob = Blob(
            id=blob_id,
            org_id=org_id,
            case_id=case_id,
            data_key_id=key.id,
            kind=kind,
            sha256=sha256,
            size=size,
        )
        session.add(blob)
        session.flush()
        return blob

    def read(self, session: Session, blob: Blob) -> bytes:
        """The blob's plaintext, checked against its recorded SHA-256."""
        return b"".join(self.chunks(session, blob))

    def chunks(self, session: Session, blob: Blob) -> Iterator[bytes]:
        key = session.get(DataKey, blob.data_key_id)
        if key is None or key.wrapped is None:
            raise Shredded(f"blob {blob.id} was destroyed at the survivor's request")
        data_key = self._master.unwrap(key.wrapped, _purpose(key))
        path = self._path(blob.id)
        if not path.is_file():
            raise BlobError(f"blob {blob.id} is missing from {self.root}")
        digest = hashlib.sha256()
        with path.open("rb") as source:
            try:
                for plain in unseal(source, key=data_key, aad=_aad(blob.id), magic=MAGIC):
                    digest.update(plain)
                    yield plain
            except Unsealable as error:
                raise BlobError(f"blob {blob.id}: {error}") from None
        if digest.hexdigest() != blob.sha256:
            raise BlobError(f"blob {blob.id} does not hash to what was stored")

    def shred(self, session: Session, *, case_id: int) -> int:
        """Destroy the case's data key and files (not under a legal hold); how many blobs."""
        if active_hold(session, case_id=case_id) is not None:
            raise HoldActive("a legal hold is placed on this case: its data is kept")
        now = utcnow()
        for key in session.scalars(select(DataKey).where(DataKey.case_id == case_id)):
            key.wrapped = None
            key.shredded = now
        blobs = list(session.scalars(select(Blob).where(Blob.case_id == case_id)))
        for blob in blobs:
            self._path(blob.id).unlink(missing_ok=True)
        session.flush()
        return len(blobs)

    def _data_key(self, session: Session, org_id: int, case_id: int | None) -> DataKey:
        same_case = DataKey.case_id == case_id if case_id is not None else DataKey.case_id.is_(None)
        key = session.scalar(
            select(DataKey).where(DataKey.org_id == org_id, same_case).order_by(DataKey.id)
        )
        if key is None:
            key = DataKey(org_id=org_id, case_id=case_id, wrapped=b"")
            session.add(key)
            session.flush()  # the id is part of what the wrapping is bound to
            key.wrapped = self._master.wrap(AESGCM.generate_key(bit_length=256), _purpose(key))
            session.flush()
        return key

    def _path(self, blob_id: str) -> Path:
        if len(blob_id) != 32 or not all(c in "0123456789abcdef" for c in blob_id):
            raise BlobError(f"not a blob id: {blob_id!r}")
        return self.root / blob_id[:2] / blob_id


def _aad(blob_id: str) -> bytes:
    return b"reclaim blob " + blob_id.encode()


def active_hold(session: Session, *, case_id: int) -> LegalHold | None:
    return session.scalar(
        select(LegalHold).where(LegalHold.case_id == case_id, LegalHold.released.is_(None))
    )


def place_hold(session: Session, *, case_id: int, actor: str, reason: str) -> LegalHold:
    """Keep the case's data despite a withdrawal (an open police case); ``reason`` is
    required and recorded."""
    if not reason.strip():
        raise ValueError("a legal hold needs its reason")
    existing = active_hold(session, case_id=case_id)
    if existing is not None:
        return existing
    hold = LegalHold(case_id=case_id, placed_by=actor, reason=reason.strip())
    session.add(hold)
    session.flush()
    return hold


def release_hold(session: Session, *, case_id: int, actor: str) -> LegalHold | None:
    hold = active_hold(session, case_id=case_id)
    if hold is not None:
        hold.released, hold.released_by = utcnow(), actor
        session.flush()
    return hold

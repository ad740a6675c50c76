"""Locks held until the transaction ends, for appends that must commit in order.

A log that readers follow by sequence number (the banks' change log behind sync and the
matchers) must never commit number 12 while 11 is still open: a reader that saw 12 moves
its cursor past 11 and never sees it. SQLite already lets one writer at a time hold the
whole database until it commits; on PostgreSQL the appender takes a transaction-level
advisory lock first, so appends take their numbers and commit one after the other.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def hold_until_commit(session: Session, name: str) -> None:
    """Serialise this transaction with every other that takes ``name``, until it ends."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"reclaim:{name}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

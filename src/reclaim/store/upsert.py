"""Inserts that tolerate a concurrent writer: ``INSERT ... ON CONFLICT DO NOTHING``.

Two crawl workers may meet the same new URL, file or sighting at once; reading first and
inserting after is a race one of them loses with an integrity error. These inserts let
the database decide: the first row wins and the other insert does nothing. SQLite and
PostgreSQL both support the statement; the dialect is taken from the session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reclaim.store.base import Base


def insert_ignoring_conflicts(
    session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert ``rows`` into ``model``'s table, skipping any that collide with an existing
    row on a unique key; how many were inserted."""
    if not rows:
        return 0
    table = cast(Table, model.__table__)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"no conflict-tolerant insert for {dialect}")
    # Counted from RETURNING: a driver may report no row count for a multi-row insert
    # (psycopg 3 through SQLAlchemy 2.1 says -1).
    key = next(iter(table.primary_key.columns))
    return len(session.execute(statement.values(list(rows)).returning(key)).all())

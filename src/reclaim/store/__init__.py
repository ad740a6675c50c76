"""The database (SQLAlchemy 2 + Alembic): engine, sessions, migrations, the shared base."""

from reclaim.store.base import Base, utcnow
from reclaim.store.db import Database, open_database

__all__ = ["Base", "Database", "open_database", "utcnow"]

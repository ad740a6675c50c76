"""Open the database, keep its schema current, and hand out transactional sessions.

SQLite (the embedded default) runs in WAL mode with foreign keys enforced; any other
SQLAlchemy URL (PostgreSQL for deployments) works with the same code and migrations.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from reclaim.config import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATING = threading.Lock()
"""Alembic keeps its migration context in module globals: one migration at a time per
process (the API and its in-process worker both open the database at start)."""
_LOCK_KEY = 0x5245434C41494D  # "RECLAIM": the advisory lock that serialises migrations


@dataclass(frozen=True, slots=True)
class Pool:
    """How many connections a process keeps to a server database (SQLite needs none)."""

    size: int = 5
    overflow: int = 10
    timeout: float = 30.0


class Database:
    """An engine and a session factory for one database URL."""

    def __init__(self, url: str, pool: Pool | None = None) -> None:
        self.url = url
        self.engine: Engine = _create_engine(url, pool or Pool())
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Apply pending migrations (up to ``revision``)."""
        if revision == "head" and self.current_revision() == _head_revision():
            return  # the usual case at start: nothing to load or lock
        with self._migrating() as connection:
            config = self.alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision`` ("base" empties the database)."""
        with self._migrating() as connection:
            config = self.alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, revision)

    @contextlib.contextmanager
    def _migrating(self) -> Iterator[Connection]:
        """A transaction holding the database's migration lock, so that processes starting
        together on several machines (PostgreSQL: an advisory lock, released when the
        migration commits) or on one (SQLite: a lock file beside the database, released
        after the commit) migrate one after the other and the later ones find nothing left
        to do."""
        path = self.engine.url.database
        local = self.engine.dialect.name == "sqlite" and path and path != ":memory:"
        with (
            _MIGRATING,
            open(f"{path}.migrating", "a+b") if local else contextlib.nullcontext() as lock,
        ):
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released on close, after the commit
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY}
                    )
                yield connection

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        return _head_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The configured database, with pending migrations applied when ``migrate``."""
    pool = Pool(
        size=settings.database_pool_size,
        overflow=settings.database_pool_overflow,
        timeout=settings.database_pool_timeout,
    )
    database = Database(settings.resolved_database_url, pool)
    if migrate:
        database.upgrade()
    return database


@functools.cache
def _head_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def _create_engine(url: str, pool: Pool) -> Engine:
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,  # a server restarted since: reconnect instead of failing once
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout,
        pool_recycle=1800,
    )


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    deadline = time.monotonic() + 30
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            # A new database turning to WAL while other connections open it at the same
            # moment: SQLite answers "locked" at once, without waiting (it would deadlock).
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()

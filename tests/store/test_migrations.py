"""Migrations: up, down, up again; and the models agree with the migrated schema."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import reclaim.banks.models
import reclaim.banks.platform_models
import reclaim.cases.access
import reclaim.cases.audit
import reclaim.cases.guards
import reclaim.cases.models
import reclaim.cases.notes
import reclaim.cases.sessions
import reclaim.cases.staff
import reclaim.cases.staff_sessions
import reclaim.evidence.models
import reclaim.evidence.requests
import reclaim.jobs.models
import reclaim.monitor.models
import reclaim.store.blobs
import reclaim.survivor.notify
import reclaim.takedown.models  # noqa: F401 - registers the tables on the metadata
from reclaim.store import Base


def test_upgrade_downgrade_upgrade(database) -> None:
    assert database.current_revision() == database.head_revision()
    tables = set(inspect(database.engine).get_table_names())
    assert {
        "organisations",
        "cases",
        "case_events",
        "banks",
        "bank_items",
        "item_signals",
        "change_log",
        "monitor_sources",
        "monitor_frontier",
        "monitor_media",
        "monitor_media_urls",
        "sightings",
    } <= tables
    database.downgrade("base")
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    database.upgrade()
    assert database.current_revision() == database.head_revision()


def test_models_match_the_migrations(database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


@pytest.mark.one_pass
def test_sqlite_runs_in_wal_mode_with_foreign_keys(database) -> None:
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrating_from_several_threads_at_once_is_safe(tmp_path) -> None:
    """The API and its in-process worker both open (and migrate) the database at start;
    Alembic's context is process-global, so migrations take turns."""
    import threading

    from reclaim.store.db import Database

    databases = [Database(f"sqlite:///{tmp_path / 'race.db'}") for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(databases))

    def upgrade(database: Database) -> None:
        start.wait()
        try:
            database.upgrade()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=upgrade, args=(d,)) for d in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert databases[0].current_revision() == databases[0].head_revision()
    for database in databases:
        database.dispose()


def _open(data_dir: str) -> str | None:
    from reclaim.config import Settings
    from reclaim.store import open_database

    database = open_database(Settings(data_dir=Path(data_dir)))
    try:
        return database.current_revision()
    finally:
        database.dispose()


def test_processes_starting_together_migrate_one_after_the_other(database, tmp_path: Path) -> None:
    """Workers on several machines start at once against an empty database: one migrates,
    the others wait for it and find nothing left to do."""
    head = database.head_revision()
    database.downgrade("base")
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        revisions = pool.map(_open, [str(tmp_path / "data")] * 3)
    assert revisions == [head] * 3
    assert database.current_revision() == head

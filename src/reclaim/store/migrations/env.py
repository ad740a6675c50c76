"""Alembic environment: runs migrations on the connection Reclaim hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, MetaData, engine_from_config, pool

from reclaim.store.base import Base


def _metadata() -> MetaData:
    # Every package's tables, for `alembic revision --autogenerate` during development.
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
    import reclaim.takedown.models  # noqa: F401

    return Base.metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=_metadata(),
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = engine_from_config(
        context.config.get_section(context.config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as own:
        _migrate(own)


run()

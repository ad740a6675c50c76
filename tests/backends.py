"""Run the tests that touch the database on SQLite (the default) or on PostgreSQL.

``pytest`` runs everything on the embedded SQLite and writes down which test modules opened
a database (in the test's own process, or as a ``reclaim.db`` a child process made in the
test's temporary folders; a module can also say so with ``pytestmark =
pytest.mark.database``). ``pytest --database=postgresql`` then runs those modules again
against a real PostgreSQL: a throwaway cluster in the session's temporary folder, one
migrated template, and a fresh copy of it for every module and every test, handed over
through ``RECLAIM_DATABASE_URL`` so that child processes (the CLI, servers) use it too.
``scripts/test`` runs both passes.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.services import PostgresCluster, postgres

if TYPE_CHECKING:
    from reclaim.store.db import Database

LIST = Path(__file__).resolve().parent.parent / "build" / "database-tests.txt"
"""The modules that touched the database in the last SQLite run, one node id a line."""
TEMPLATE = "reclaim_template"
_names = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="sqlite (everything, and note which modules touch the database) or "
        "postgresql (those modules again, on a temporary PostgreSQL cluster)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "database: the module touches the database (run it on PostgreSQL too)"
    )
    config.addinivalue_line(
        "markers", "sqlite_only: the test is about SQLite itself (not run on PostgreSQL)"
    )
    if config.getoption("database") == "sqlite":
        config.pluginmanager.register(_Recorder(config), "reclaim-database-recorder")
    else:
        config.pluginmanager.register(_Postgres(config), "reclaim-postgres")


def _module_id(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


class _Recorder:
    """SQLite pass: note each module that opens a database."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.touched: set[str] = set()
        self.current: str | None = None
        self.seen_files: set[Path] = set()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from reclaim.store import db

        original = db.Database.__init__
        recorder = self

        def init(database: db.Database, *args: Any, **kwargs: Any) -> None:
            if recorder.current is not None:
                recorder.touched.add(recorder.current)
            original(database, *args, **kwargs)

        db.Database.__init__ = init  # type: ignore[method-assign]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        self.current = _module_id(item)
        if item.get_closest_marker("database"):
            self.touched.add(self.current)
        try:
            return (yield)
        finally:
            if self.current not in self.touched and self._new_database_file(item):
                self.touched.add(self.current)
            self.current = None

    def _new_database_file(self, item: pytest.Item) -> bool:
        """Whether a child process left a new ``reclaim.db`` in the session's temp folder."""
        factory: pytest.TempPathFactory = item.config._tmp_path_factory  # type: ignore[attr-defined]
        files = set(factory.getbasetemp().rglob("reclaim.db"))
        new = files - self.seen_files
        self.seen_files = files
        return bool(new)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.testscollected == 0 or hasattr(self.config, "workerinput"):
            return
        # A run of some tests updates what it learnt about their modules and keeps the rest.
        ran = {_module_id(item) for item in session.items}
        known = set(LIST.read_text().split()) if LIST.exists() else set()
        listed = (known - ran) | self.touched
        LIST.parent.mkdir(parents=True, exist_ok=True)
        partial = LIST.with_suffix(f".{os.getpid()}")
        partial.write_text("".join(f"{module}\n" for module in sorted(listed)))
        partial.replace(LIST)


class _Postgres:
    """PostgreSQL pass: the modules the SQLite pass listed, each test on its own copy of a
    migrated database."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not LIST.exists():
            raise pytest.UsageError(f"no {LIST}: run the SQLite pass (plain pytest) first")
        modules = set(LIST.read_text().split())
        keep = [
            i
            for i in items
            if (_module_id(i) in modules or i.get_closest_marker("database"))
            and not i.get_closest_marker("sqlite_only")
        ]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A running throwaway PostgreSQL cluster with a migrated template database."""
    from reclaim.store.db import Database

    root = Path(tempfile.mkdtemp(prefix="reclaim-postgres-"))
    with postgres(root) as cluster:
        template = Database(cluster.create_database(TEMPLATE))
        template.upgrade()
        template.dispose()
        yield cluster


@pytest.fixture(scope="module", autouse=True)
def _module_database(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.config.getoption("database") != "postgresql":
        yield
        return
    yield from _fresh_database(request.getfixturevalue("postgres_cluster"), "m")


@pytest.fixture(autouse=True)
def _test_database(request: pytest.FixtureRequest, _module_database: None) -> Iterator[None]:
    if request.config.getoption("database") != "postgresql":
        yield
        return
    yield from _fresh_database(request.getfixturevalue("postgres_cluster"), "t")


def _fresh_database(cluster: PostgresCluster, prefix: str) -> Iterator[None]:
    name = f"{prefix}{next(_names)}"
    url = cluster.create_database(name, template=TEMPLATE)
    previous = os.environ.get("RECLAIM_DATABASE_URL")
    os.environ["RECLAIM_DATABASE_URL"] = url
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("RECLAIM_DATABASE_URL", None)
        else:
            os.environ["RECLAIM_DATABASE_URL"] = previous
        cluster.drop_database(name)


def stored_bytes(database: Database) -> bytes:
    """Everything ``database`` holds, as bytes to search for what must never be stored in
    the clear: SQLite's files themselves (free pages and the write-ahead log included), or
    every row of every table of another database."""
    from sqlalchemy import MetaData, select

    url = database.engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        files = [Path(url.database), Path(f"{url.database}-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    tables = MetaData()
    tables.reflect(database.engine)
    out = bytearray()
    with database.engine.connect() as connection:
        for table in tables.sorted_tables:
            for row in connection.execute(select(table)):
                for value in row:
                    out += value if isinstance(value, bytes) else str(value).encode()
                    out += b"\0"
    return bytes(out)

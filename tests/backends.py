"""Run the tests that touch the database on SQLite (the default) or on PostgreSQL.

``pytest`` runs everything on the embedded SQLite and writes down which tests opened a
database (in the test's own process or a fixture's, or as a ``reclaim.db`` a child process
made in the temporary folders; a test can also say so with ``pytest.mark.database``) in
``build/database-tests.txt``. ``pytest --database=postgresql`` then runs those against
a real PostgreSQL: a throwaway cluster in a temporary folder (Debian's server, a Unix
socket only), one migrated template, and a fresh copy of it for every module and every
test, handed over through ``RECLAIM_DATABASE_URL`` so that child processes (the CLI,
servers) use it too.
``scripts/test`` runs both passes, one after the other, each on every core (pytest-xdist:
the workers tell the controller what they found, and it writes the list).
"""

from __future__ import annotations

import itertools
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.services import PostgresCluster, postgres

if TYPE_CHECKING:
    from reclaim.store.db import Database

LIST = Path(__file__).resolve().parent.parent / "build" / "database-tests.txt"
"""The tests that touched the database in the last SQLite run, one node id a line."""
TEMPLATE = "reclaim_template"
_names = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="sqlite (everything, and note which tests touch the database) or "
        "postgresql (those tests again, on a temporary PostgreSQL cluster)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "database: the test touches the database (run it on PostgreSQL too)"
    )
    config.addinivalue_line(
        "markers",
        "one_pass: run in the SQLite pass only (the test is about SQLite itself, or it "
        "starts its own PostgreSQL)",
    )
    if config.getoption("database") == "sqlite":
        config.pluginmanager.register(_Recorder(config), "reclaim-database-recorder")
    else:
        config.pluginmanager.register(_Postgres(config), "reclaim-postgres")


class _Recorder:
    """SQLite pass: note each test that opens a database -- itself, through a fixture
    that did (by the fixture's name: module fixtures are made once, for their first
    test), or in a child process that left a ``reclaim.db`` in the temporary folders."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.touched: set[str] = set()
        self.opened = 0
        self.db_fixtures: set[str] = set()
        self.seen_files: set[Path] = set()
        self.previous: str | None = None
        self.ran: set[str] = set()  # tests run by xdist workers (the controller runs none)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from reclaim.store import db

        original = db.Database.__init__
        recorder = self

        def init(database: db.Database, *args: Any, **kwargs: Any) -> None:
            recorder.opened += 1
            original(database, *args, **kwargs)

        db.Database.__init__ = init  # type: ignore[method-assign]

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Iterator[Any]:
        before = self.opened
        shared = fixturedef.scope != "function"  # e.g. a server for a whole module
        if shared:
            self._settle(request.config)
        try:
            return (yield)
        finally:
            if self.opened > before or (shared and self._new_database_file(request.config)):
                self.db_fixtures.add(fixturedef.argname)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        self._settle(item.config)
        before = self.opened
        try:
            return (yield)
        finally:
            uses = set(getattr(item, "fixturenames", ())) & self.db_fixtures
            new_file = self._new_database_file(item.config)
            if self.opened > before or uses or new_file or item.get_closest_marker("database"):
                self.touched.add(item.nodeid)
            self.previous = item.nodeid

    def _settle(self, config: pytest.Config) -> None:
        """A file that appeared since the last test ended is that test's (its server made
        it late), not whatever starts next."""
        if self._new_database_file(config) and self.previous is not None:
            self.touched.add(self.previous)

    def _new_database_file(self, config: pytest.Config) -> bool:
        """Whether a child process left a new ``reclaim.db`` in the session's temp folder."""
        factory: pytest.TempPathFactory = config._tmp_path_factory  # type: ignore[attr-defined]
        files = set(factory.getbasetemp().rglob("reclaim.db"))
        new = files - self.seen_files
        self.seen_files = files
        return bool(new)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """pytest-xdist: a worker's findings, gathered by the controller."""
        output = getattr(node, "workeroutput", {})
        self.touched.update(output.get("database_tests", ()))
        self.ran.update(output.get("ran_tests", ()))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):  # an xdist worker: tell the controller
            self.config.workeroutput["database_tests"] = sorted(self.touched)  # type: ignore[attr-defined]
            self.config.workeroutput["ran_tests"] = [item.nodeid for item in session.items]  # type: ignore[attr-defined]
            return
        ran = self.ran | {item.nodeid for item in session.items}
        if not ran:
            return
        # What this run learnt about the tests it ran replaces what the list said of them.
        updated = (_listed() - ran) | self.touched
        LIST.parent.mkdir(parents=True, exist_ok=True)
        partial = LIST.with_suffix(f".{os.getpid()}")
        partial.write_text("".join(f"{nodeid}\n" for nodeid in sorted(updated)))
        partial.replace(LIST)


def _listed() -> set[str]:
    return set(LIST.read_text().splitlines()) - {""} if LIST.exists() else set()


class _Postgres:
    """PostgreSQL pass: the tests the SQLite pass listed, each on its own copy of a
    migrated database."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not LIST.exists():
            raise pytest.UsageError(f"no {LIST}: run the SQLite pass (plain pytest) first")
        listed = _listed()
        keep = [
            i
            for i in items
            if (i.nodeid in listed or i.get_closest_marker("database"))
            and not i.get_closest_marker("one_pass")
        ]
        kept = set(map(id, keep))
        dropped = [i for i in items if id(i) not in kept]
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


class _Spares:
    """Fresh copies of the template made ahead, and used ones dropped, on threads: the
    server copies and drops while the tests run, so a test rarely waits for either."""

    AHEAD = 3

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster
        self.ready: queue.Queue[str] = queue.Queue(maxsize=self.AHEAD)
        self.used: queue.Queue[str | None] = queue.Queue()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._make, name="spare-databases", daemon=True),
            threading.Thread(target=self._drop, name="used-databases", daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _make(self) -> None:
        while not self.stopping.is_set():
            name = f"t{next(_names)}"
            self.cluster.create_database(name, template=TEMPLATE)
            while not self.stopping.is_set():
                try:
                    self.ready.put(name, timeout=0.5)
                    break
                except queue.Full:
                    continue

    def _drop(self) -> None:
        while (name := self.used.get()) is not None:
            self.cluster.drop_database(name)

    def take(self) -> str:
        return self.ready.get(timeout=120)

    def give_back(self, name: str) -> None:
        self.used.put(name)

    def close(self) -> None:
        self.stopping.set()
        self.used.put(None)
        for thread in self.threads:
            thread.join(timeout=60)


@pytest.fixture(scope="session")
def _spare_databases(postgres_cluster: PostgresCluster) -> Iterator[_Spares]:
    spares = _Spares(postgres_cluster)
    yield spares
    spares.close()


@pytest.fixture(scope="module", autouse=True)
def _module_database(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.config.getoption("database") != "postgresql":
        yield
        return
    yield from _fresh_database(request.getfixturevalue("_spare_databases"))


@pytest.fixture(autouse=True)
def _test_database(request: pytest.FixtureRequest, _module_database: None) -> Iterator[None]:
    if request.config.getoption("database") != "postgresql":
        yield
        return
    yield from _fresh_database(request.getfixturevalue("_spare_databases"))


def _fresh_database(spares: _Spares) -> Iterator[None]:
    name = spares.take()
    previous = os.environ.get("RECLAIM_DATABASE_URL")
    os.environ["RECLAIM_DATABASE_URL"] = spares.cluster.url(name)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("RECLAIM_DATABASE_URL", None)
        else:
            os.environ["RECLAIM_DATABASE_URL"] = previous
        spares.give_back(name)


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

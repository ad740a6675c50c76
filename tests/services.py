"""Real database and queue servers for tests, started from Debian's packages in a temporary
folder and reachable only through a Unix socket there (no TCP port, no network).

PostgreSQL refuses to run as root; when the tests run as root (CI containers do), the
cluster is made and started as Debian's ``postgres`` user, which then owns the folder.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg


class ServiceMissing(RuntimeError):
    """The server's Debian package is not installed (scripts/setup installs it)."""


def postgres_bindir() -> Path:
    """The newest installed PostgreSQL's ``bin`` folder (Debian keeps one per version)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise ServiceMissing("PostgreSQL is not installed: run scripts/setup dev")
    return versions[-1].parent


class PostgresCluster:
    """A throwaway PostgreSQL cluster in ``root``: trust authentication for the superuser
    ``reclaim``, durability traded for speed (fsync off: the data is scratch)."""

    user = "reclaim"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.socket_dir = root
        self.bindir = postgres_bindir()
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        root.chmod(0o700)

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as, str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip()}\n{tail}")

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-c listen_addresses='' -k {self.socket_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` in this cluster."""
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir), user=self.user, dbname=database, autocommit=True
        )

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Make database ``name`` (a copy of ``template`` when given); its URL."""
        clause = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgres(root: Path) -> Iterator[PostgresCluster]:
    """A started cluster in the empty folder ``root`` (outside pytest's private temporary
    folders, which the ``postgres`` user cannot enter), stopped and removed afterwards."""
    cluster = PostgresCluster(root)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


class RedisServer:
    """A throwaway ``redis-server`` listening only on a Unix socket in ``root``; with
    ``durable``, every write is appended to a log first, so a restart loses nothing."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.socket = root / "redis.sock"
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise ServiceMissing("redis-server is not installed: run scripts/setup dev")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary, "--port", "0", "--unixsocket", str(self.socket),
            "--unixsocketperm", "700", "--dir", str(self.root), "--save", "",
            "--appendonly", "yes" if self.durable else "no", "--appendfsync", "always",
            "--logfile", str(self.root / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server did not start:\n{log}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket)).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def redis_server(root: Path, *, durable: bool = True) -> Iterator[RedisServer]:
    server = RedisServer(root, durable=durable)
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""A throwaway PostgreSQL server for tests: initdb into a temp dir, pg_ctl start on a free port.

The binaries come from the Debian package (``/usr/lib/postgresql/<version>/bin``; CI installs
``postgresql``). ``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` user (``runuser``), as the machine image's recipe does. Each test gets a database
of its own (:meth:`PostgresServer.new_database`). The tests' session fixture
(``postgres_server`` in tests/conftest.py) skips when :class:`PostgresUnavailable` is raised;
the benchmarks fall back to SQLite.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from cityledger.testing.processes import free_port

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVICE_USER = "postgres"


def find_postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory, if any has initdb and pg_ctl."""
    candidates = [
        path
        for path in Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/"))
        if (path / "initdb").exists() and (path / "pg_ctl").exists()
    ]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in path.parent.name.split(".") if p.isdigit())

    return max(candidates, key=version) if candidates else None


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data_dir(self) -> Path:
        return self.root / "pg"

    def _command(self, *args: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", SERVICE_USER, "--", *args]
        return list(args)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVICE_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        subprocess.run(
            self._command(
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            self._command(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "-l",
                str(self.root / "log"),
                "-w",
                "start",
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self) -> None:
        subprocess.run(
            self._command(
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"
            ),
            check=False,
            capture_output=True,
        )

    def new_database(self, prefix: str = "test") -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{next(self._names)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class PostgresUnavailable(RuntimeError):
    """This machine cannot run a throwaway server; the message says what is missing."""


def start_postgres() -> PostgresServer:
    """Start a server in a new temporary directory (:func:`stop_postgres` removes it).

    Raises :class:`PostgresUnavailable` if PostgreSQL is not installed, or if it cannot be run
    as the ``postgres`` user.
    """
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise PostgresUnavailable(
            f"PostgreSQL is not installed (no initdb/pg_ctl under {POSTGRES_BIN_GLOB}): "
            "apt-get install -y postgresql"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise PostgresUnavailable(
            "running as root needs runuser to start PostgreSQL as the postgres user"
        )
    root = Path(tempfile.mkdtemp(prefix="cityledger-pg-"))
    root.chmod(0o755)
    try:
        return PostgresServer(bin_dir, root, free_port()).start()
    except subprocess.CalledProcessError as exc:
        log = root / "log"
        detail = log.read_text() if log.exists() else exc.stderr.decode(errors="replace")
        raise RuntimeError(f"PostgreSQL did not start: {detail[-2000:]}") from exc


def stop_postgres(server: PostgresServer) -> None:
    """Stop a server made by :func:`start_postgres` and remove its directory."""
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)

"""The API's SQLite database: a commit of the API's own state is on disk when it returns
(``synchronous=FULL``: the WAL is synced at every commit, watched with strace), while the
index, which the chain can rebuild, keeps the cheaper ``NORMAL``; and the database file with
its WAL and shared-memory files is readable by its owner only, new or existing."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.db import make_engine as api_engine
from api.migrations import upgrade as upgrade_api
from cityledger.testing.processes import ROOT
from ledger.indexer.db import make_engine as index_engine
from ledger.indexer.db import upgrade as upgrade_index

COMMITS = 5

WRITER = """
import os
import sys
from sqlmodel import Session
from api.models import SiweNonce, utcnow
from {module} import make_engine
engine = make_engine(sys.argv[1])
for n in range({commits}):
    with Session(engine) as session:
        session.add(SiweNonce(nonce=f"{{sys.argv[2]}}-{{n}}", expires_at=utcnow()))
        session.commit()
os._exit(0)  # no closing checkpoint: only the commits' own syncs are counted
"""


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    upgrade_index(url)
    upgrade_api(url)
    return url


def _synchronous(engine: Engine) -> int:
    with engine.connect() as connection:
        value = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    engine.dispose()
    assert isinstance(value, int)
    return value


def _wal_syncs(url: str, module: str, tag: str, tmp_path: Path) -> int:
    """fsync/fdatasync calls on the WAL while ``module``'s engine commits COMMITS times."""
    trace = tmp_path / f"{tag}.strace"
    script = WRITER.format(module=module, commits=COMMITS)
    command = ["strace", "-f", "-y", "-e", "trace=fsync,fdatasync", "-o", str(trace)]
    subprocess.run([*command, sys.executable, "-c", script, url, tag], cwd=ROOT, check=True)
    return sum(1 for line in trace.read_text().splitlines() if "sync(" in line and "-wal>" in line)


def test_api_commits_are_synced_the_index_is_not(url: str, tmp_path: Path) -> None:
    assert _synchronous(api_engine(url)) == 2  # FULL
    assert _synchronous(index_engine(url)) == 1  # NORMAL
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed: the pragmas above are all that was checked")
    assert _wal_syncs(url, "api.db", "api", tmp_path) >= COMMITS
    assert _wal_syncs(url, "ledger.indexer.db", "index", tmp_path) == 0


def _modes(path: Path) -> dict[str, int]:
    return {
        side: os.stat(f"{path}{side}").st_mode & 0o777
        for side in ("", "-wal", "-shm")
        if os.path.exists(f"{path}{side}")
    }


@pytest.mark.parametrize("make_engine", [api_engine, index_engine], ids=["api", "index"])
def test_database_files_are_the_owners_only(make_engine: object, tmp_path: Path) -> None:
    assert callable(make_engine)
    fresh = tmp_path / "fresh.sqlite3"
    engine = make_engine(f"sqlite:///{fresh}")
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        connection.commit()
        assert _modes(fresh) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    engine.dispose()

    existing = tmp_path / "existing.sqlite3"  # as an earlier version left it: 0644
    legacy = sqlite3.connect(existing)
    legacy.execute("PRAGMA journal_mode=WAL")
    legacy.execute("CREATE TABLE t (x)")
    legacy.commit()
    for side in ("", "-wal", "-shm"):
        os.chmod(f"{existing}{side}", 0o644)
    engine = make_engine(f"sqlite:///{existing}")
    with engine.connect() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        connection.commit()
        assert _modes(existing) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    engine.dispose()
    legacy.close()

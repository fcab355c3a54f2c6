"""The database engine: the index's database, which also holds the API's tables.

SQLite keeps pysqlite's own transaction handling here (a transaction starts at the first
write), so a request that reads and then writes never holds a stale read snapshot that WAL
would refuse to upgrade; the indexer's engine (:mod:`ledger.indexer.db`) takes its write lock
up front instead. Both wait up to 30 s for the other's lock.

The API's connections run with ``synchronous=FULL``: its tables (keys, webhook endpoints and
secrets, idempotency records, the outbox) cannot be rebuilt from the chain, so a commit is on
disk before it is answered, power cut or not. The index keeps ``NORMAL`` (a crash of the
process loses nothing; a power cut may roll back its last batches, which it re-reads from the
chain). The file is the owner's only (0600, :func:`ledger.indexer.db.private_database_file`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from ledger.indexer.db import private_database_file


def make_engine(url: str, *, pool_size: int = 20, max_overflow: int = 40) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_database_file(parsed.database)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=max_overflow,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            if parsed.database and parsed.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
                # The WAL is fsynced at every commit: state only the API holds survives a
                # power cut, not just a crash of the process (see the module's docstring).
                cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(parsed, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)

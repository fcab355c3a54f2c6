"""The index database: an engine from a URL, write transactions, and migrations.

SQLite by default (``sqlite:///<data-dir>/index.sqlite3``: WAL, foreign keys, a busy timeout,
and ``BEGIN IMMEDIATE`` for the indexer's write transactions so a batch never interleaves with
another writer), PostgreSQL in production (``postgresql+psycopg://user:pass@host/db``; the
cursor row is locked ``FOR UPDATE`` by each batch).

The schema is managed by alembic migrations shipped inside the package
(``ledger/indexer/migrations``) with their own version table, ``alembic_version_index``, so the
API's migration tree can live in the same database beside them. :func:`upgrade` runs them
without any ``alembic.ini``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, delete, event, update
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import ledger.indexer.models  # noqa: F401  (registers the index tables)
from ledger.payments.states import InvoiceStatus

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_index"
INDEX_FILE = "index.sqlite3"

INDEX_TABLES = (
    "cursor",
    "block",
    "event",
    "account",
    "balance",
    "transfer",
    "invoice",
    "payment",
    "refund",
    "redemption",
    "supply",
)
"""The tables this package owns (the API's tables may share the database)."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
PRIVATE_MODE = 0o600
MIGRATION_LOCK = 0x43_4C_49_44_58
"""PostgreSQL advisory lock key held while the index migrations run ("CLIDX")."""


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / INDEX_FILE}"


def index_metadata() -> MetaData:
    """A MetaData holding only the index tables (SQLModel's global one may hold the API's)."""
    metadata = MetaData()
    for name in INDEX_TABLES:
        SQLModel.metadata.tables[name].to_metadata(metadata)
    return metadata


def include_object(
    obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any
) -> bool:
    """Alembic's filter: only the index tables (and their indexes) are this tree's business."""
    if type_ == "table":
        return name in INDEX_TABLES
    owner = getattr(obj, "table", None)
    return owner is None or owner.name in INDEX_TABLES


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def private_database_file(database: str) -> None:
    """Make a SQLite database file readable by its owner only: created 0600 (SQLite gives its
    ``-wal`` and ``-shm`` files the database's mode), and group and other access taken from an
    existing one and its side files. The database holds the API's keys and sealed secrets
    beside the index: no other user of the machine needs to read it."""
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    for candidate in (path, *(path.with_name(path.name + side) for side in SQLITE_SIDE_FILES)):
        try:
            mode = candidate.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(candidate, mode & 0o700)
        except FileNotFoundError:
            continue
        except PermissionError:
            warnings.warn(f"{candidate} is readable by others (not ours to chmod)", stacklevel=2)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get their directory created and the pragmas set."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        private_database_file(database)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own
        # transaction handling starts transactions late, after the first read).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: BEGIN IMMEDIATE on SQLite (the write lock from the start),
    committed on success, rolled back on any exception."""
    with engine.connect() as plain:
        connection = (
            plain.execution_options(sqlite_begin="IMMEDIATE")
            if engine.dialect.name == "sqlite"
            else plain
        )
        with connection.begin():
            yield connection


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Bring the index schema to ``revision`` (no alembic.ini needed)."""
    from alembic import command

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        # One migrator at a time: SQLite's write lock, a transaction-scoped lock on PostgreSQL.
        with write_transaction(engine) as connection:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            command.upgrade(_alembic_config(connection), revision)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def clear_index(engine: Engine) -> None:
    """Empty the index (``cityledger index --reset``) in one transaction.

    Every index table is emptied except the invoices the API created: those carry what only
    the API knows (salt, description, external id), so they stay, back to ``open``; the
    indexer fills their payment state in again as it re-reads the chain.
    """
    with write_transaction(engine) as connection:
        for name in INDEX_TABLES:
            if name != "invoice":
                connection.execute(delete(table(name)))
        reset_invoices(connection)


def reset_invoices(connection: Connection) -> None:
    """Forget what the indexer wrote into ``invoice``: delete the rows it created (no salt;
    the API always stores one) and give the API's rows their ``open`` state back."""
    invoice = table("invoice")
    connection.execute(delete(invoice).where(invoice.c.salt.is_(None)))
    connection.execute(
        update(invoice)
        .where(invoice.c.status.in_((InvoiceStatus.PAID, InvoiceStatus.CANCELLED)))
        .values(status=InvoiceStatus.OPEN, payer=None, paid_block=None, paid_tx=None)
    )

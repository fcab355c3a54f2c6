"""Bulk SQL the indexer writes with, on SQLite and PostgreSQL alike: inserts that ignore rows
already there (a batch replayed changes nothing), upserts, and reading rows by key in chunks.
SQLAlchemy Core ``executemany`` throughout: the ORM's ``add_all`` was ~17x slower at storing
event rows on this project's machines."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from ledger.indexer.errors import IndexerError

KEY_CHUNK = 2_000
"""Keys per ``IN (...)`` when loading rows to update (far below every backend's limit)."""


def dialect_insert(connection: Connection, target: Table) -> Any:
    """``INSERT`` with ON CONFLICT support for the connection's backend."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(target)
    if name == "sqlite":
        return sqlite.insert(target)
    raise IndexerError(f"the index supports SQLite and PostgreSQL, not {name}")


def insert_ignore(
    connection: Connection, target: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    if rows:
        statement = dialect_insert(connection, target).on_conflict_do_nothing(
            index_elements=list(keys)
        )
        connection.execute(statement, list(rows))


def upsert(
    connection: Connection,
    target: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    update: Callable[[Any], Mapping[str, Any]] | None = None,
) -> None:
    """Insert ``rows``, or on a key conflict set the columns ``update(statement)`` names
    (default: every non-key column to the new value)."""
    if not rows:
        return
    statement = dialect_insert(connection, target)
    set_ = (
        update(statement)
        if update is not None
        else {c.name: statement.excluded[c.name] for c in target.columns if c.name not in keys}
    )
    connection.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=set_), list(rows)
    )


def load_rows(
    connection: Connection, target: Table, key: str, keys: Iterable[Any]
) -> dict[Any, dict[str, Any]]:
    """The rows of ``target`` whose ``key`` is one of ``keys``, by key."""
    wanted = sorted(set(keys))
    rows: dict[Any, dict[str, Any]] = {}
    column = target.c[key]
    for start in range(0, len(wanted), KEY_CHUNK):
        chunk = wanted[start : start + KEY_CHUNK]
        for row in connection.execute(select(target).where(column.in_(chunk))):
            rows[row._mapping[key]] = dict(row._mapping)
    return rows

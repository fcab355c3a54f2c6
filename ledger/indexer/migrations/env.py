"""Alembic environment of the index schema (run through ``ledger.indexer.db.upgrade``).

The connection comes from ``config.attributes["connection"]``; without one (the alembic command
line, e.g. to autogenerate a revision) ``sqlalchemy.url`` of the config is used. Only the index
tables are compared and migrated: the API keeps its own tables, and its own version table, in
the same database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ledger.indexer.db import VERSION_TABLE, include_object, index_metadata, make_engine

config = context.config
target_metadata = index_metadata()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the index migrations run online only (ledger.indexer.db.upgrade)")
run_migrations_online()

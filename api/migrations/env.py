"""Alembic environment of the API's tables (only those: see ``include_name``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import api.models
from api.db import make_engine
from api.migrations import SEALED_ROWS, VERSION_TABLE


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Reflected tables: only the API's (the index's tree owns the rest)."""
    return type_ != "table" or name in api.models.API_TABLES


def _include_object(
    _item: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    """Model tables: only the API's (SQLModel's metadata also holds the index's)."""
    return type_ != "table" or name in api.models.API_TABLES


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        version_table=VERSION_TABLE,
        include_name=_include_name,
        include_object=_include_object,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if context.config.attributes.get(SEALED_ROWS) and connection.dialect.name == "sqlite":
        # Secrets were sealed: the clear text is overwritten in the database (secure_delete),
        # and its older copies in the WAL go with the log.
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def run() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=SQLModel.metadata,
            version_table=VERSION_TABLE,
            include_name=_include_name,
            include_object=_include_object,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    assert url is not None
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


run()

"""The API's migration tree: it creates exactly the API's tables (beside the index's, which it
never touches), matches the models (no autogenerate drift), and downgrades cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from api.db import make_engine
from api.migrations import VERSION_TABLE, downgrade, upgrade
from api.models import API_TABLES
from cityledger.testing.postgres import PostgresServer
from ledger.indexer.db import INDEX_TABLES
from ledger.indexer.db import upgrade as upgrade_index


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database("migrations")


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_tree_matches_the_models_and_leaves_the_index_alone(url: str) -> None:
    upgrade_index(url)
    upgrade(url)
    assert _tables(url) == {*API_TABLES, *INDEX_TABLES, VERSION_TABLE, "alembic_version_index"}
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "version_table": VERSION_TABLE,
                    "include_name": lambda name, kind, _: kind != "table" or name in API_TABLES,
                    "include_object": lambda _, name, kind, *__: (
                        kind != "table" or name in API_TABLES
                    ),
                    "compare_type": True,
                },
            )
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()
    downgrade(url, "base")
    assert _tables(url) == {*INDEX_TABLES, VERSION_TABLE, "alembic_version_index"}
    upgrade(url)  # and back
    assert set(API_TABLES) <= _tables(url)

"""Fixtures of the indexer suites: a database per test on SQLite AND PostgreSQL, more accounts.

``db_url`` is parametrized: every test that uses it runs once on a SQLite file and once on a
fresh database of the session's throwaway PostgreSQL server (cityledger/testing/postgres.py; the
PostgreSQL cases skip, saying why, only if the server binaries are not installed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from cityledger.testing.accounts import make_accounts
from cityledger.testing.postgres import PostgresServer
from ledger.indexer.db import make_engine, upgrade

INDEXER_SUITE_ACCOUNTS = 40
"""5 staff accounts + 35 people (residents and merchants) per deployed city."""


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    return make_accounts(INDEXER_SUITE_ACCOUNTS)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database("index")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty index database."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()

"""Index databases and the catch-up measurement (the indexer and payments workloads share it).

A catch-up indexes the whole chain from scratch into a new database with ``Indexer.run_once``
(JSON-RPC reads from the node, decoding, writing), then reconciles the index with the chain:
every balance, registration and the supply. An index that differs fails the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

from cityledger.testing.city import TestCity
from cityledger.testing.postgres import PostgresUnavailable, start_postgres, stop_postgres
from ledger.indexer.db import make_engine, upgrade
from ledger.indexer.reconcile import reconcile
from ledger.indexer.runner import Indexer, RunStats, manifest_contracts
from scripts.bench._utils import BenchmarkError
from scripts.bench._utils.reporting import step


def databases(root: Path, postgres: bool) -> Iterator[tuple[str, Callable[[], str]]]:
    """("SQLite", a new file's URL each call), then, if ``postgres`` and the server binaries
    are installed, ("PostgreSQL", a new database's URL each call) on a throwaway server that
    stops when the iteration ends."""
    files = count()
    yield "SQLite", lambda: f"sqlite:///{root / f'index{next(files)}.sqlite3'}"
    if not postgres:
        return
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        step(f"SQLite only: {exc}")
        return
    try:
        yield "PostgreSQL", lambda: server.new_database("bench")
    finally:
        stop_postgres(server)


def catch_up(city: TestCity, url: str, what: str, **options: Any) -> RunStats:
    """Index ``city``'s chain from scratch into the database at ``url`` (``options`` go to the
    :class:`~ledger.indexer.runner.Indexer`) and check the index against the chain."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Indexer.for_manifest(engine, city.url, city.city.manifest, **options) as indexer:
            stats = indexer.run_once()
        report = reconcile(engine, city.url, manifest_contracts(city.city.manifest))
    finally:
        engine.dispose()
    if not report.ok:
        raise BenchmarkError(f"{what}: the index differs from the chain: {report.differences[:5]}")
    return stats

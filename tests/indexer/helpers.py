"""What the indexer suites share: snapshots of the index, and checks against the chain."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from ledger.city import City
from ledger.indexer.db import INDEX_TABLES
from ledger.indexer.reconcile import reconcile
from ledger.indexer.runner import Indexer, manifest_contracts

SURROGATE = {"id"}
"""Columns that differ between two equal indexes (autoincrement ids), except natural ids."""
NATURAL_ID_TABLES = {"cursor", "redemption", "supply"}


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every index table's rows, sorted, without surrogate ids or the cursor's timestamp."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for name in INDEX_TABLES:
            table = SQLModel.metadata.tables[name]
            columns = [
                c
                for c in table.columns
                if (c.name not in SURROGATE or name in NATURAL_ID_TABLES) and c.name != "updated_at"
            ]
            rows = connection.execute(select(*columns)).all()
            tables[name] = sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)
    return tables


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        return json.loads(value)
    return value


def counts(engine: Engine) -> dict[str, int]:
    return {name: len(rows) for name, rows in snapshot(engine).items()}


def indexer(engine: Engine, city: City, **options: Any) -> Indexer:
    return Indexer.for_manifest(engine, city.chain.rpc_url, city.manifest, **options)


def index(engine: Engine, city: City, **options: Any) -> Any:
    with indexer(engine, city, **options) as run:
        return run.run_once()


def assert_matches_chain(engine: Engine, city: City) -> None:
    """Balances, registrations and supply equal the chain's (at the indexed block), and the
    transfer history equals the token's Transfer logs."""
    report = reconcile(engine, city.chain.rpc_url, manifest_contracts(city.manifest))
    assert report.differences == []
    start = city.manifest.deployment_block or 0
    logs = city.token.events("Transfer", from_block=start, to_block=report.block)
    expected = sorted(
        (
            e["blockNumber"],
            e["transactionHash"].to_0x_hex(),
            e["logIndex"],
            e["args"]["from"],
            e["args"]["to"],
            e["args"]["value"],
        )
        for e in logs
    )
    transfers = snapshot(engine)["transfer"]
    assert sorted((t[0], t[1], t[2], t[4], t[5], t[6]) for t in transfers) == expected

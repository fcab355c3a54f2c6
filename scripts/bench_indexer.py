"""Indexer ingest rate against the chain's own rate, measured in the same run.

    .venv/bin/python scripts/bench_indexer.py [--transfers 10000] [--batch-blocks 2000]

1. Starts an embedded node (block period 0.05 s, up to 500 transactions a block), deploys the
   city, registers and funds the senders.
2. Chain: floods N pre-signed CityToken transfers from 8 client threads and waits for every
   receipt (the node's ceiling for this workload, as scripts/bench_token.py's first row).
3. Indexes the whole chain from scratch with ``Indexer.run_once`` into a fresh SQLite file, and
   into a fresh PostgreSQL database if the server binaries are installed (a throwaway server,
   tests/support/postgres.py). End to end: JSON-RPC reads from the node, decoding, writing.
4. Also times the indexer's own share alone: decode + load of the same blocks already read,
   and decoding alone, next to web3.py's ``process_log`` decoding the same logs (what an
   indexer built on web3 would do; TOOLING.md measured ~1,900 logs/s for it).
5. Checks each index against the chain (reconcile: every balance, registration, the supply).

Target: end-to-end ingest >= 20x the chain's rate. Prints a table.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hexbytes import HexBytes
from rich.console import Console
from rich.table import Table

from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.city import TestCity, deploy_test_city
from cityledger.testing.postgres import PostgresServer, find_postgres_bin
from cityledger.testing.processes import NodeProcess, free_port
from cityledger.testing.token_flood import FloodResult, flood, fund_residents, presign_transfers
from ledger.contracts.base import city_artifact
from ledger.indexer.db import make_engine, upgrade
from ledger.indexer.decode import Decoder
from ledger.indexer.extract import Extractor, RawLog, RpcClient
from ledger.indexer.load import init_cursor, load_batch
from ledger.indexer.reconcile import reconcile
from ledger.indexer.runner import Indexer, manifest_contracts
from ledger.logging import configure_logging

TARGET = 20.0
SENDERS = 16


@dataclass(frozen=True)
class Row:
    what: str
    events: int
    blocks: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=10_000, help="transfers (10,000)")
    parser.add_argument("--batch-blocks", type=int, default=2_000, help="blocks per batch")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    configure_logging("warning")
    with tempfile.TemporaryDirectory(prefix="bench-indexer-") as work:
        root = Path(work)
        accounts = make_accounts(5 + SENDERS + 2, "bench-indexer")
        write_genesis(root / "genesis.json", accounts)
        node = NodeProcess(
            root / "genesis.json",
            root / "node",
            free_port(),
            ("--block-period", "0.05", "--no-fsync"),
        )
        node.start()
        try:
            city = deploy_test_city(node.url, accounts, root / "deployments" / "bench.json")
            fund_residents(city, city.people[:SENDERS], 1_000_000, "BENCH")
            raws = presign_transfers(city, city.people[:SENDERS], args.transfers)
            print(f"flooding {len(raws):,} transfers …", file=sys.stderr)
            chain = flood(city.url, raws)
            rows = _decode_rows(city)
            for name, database in _databases(root, args.no_postgres):
                print(f"indexing into {name} …", file=sys.stderr)
                rows.append(_index(city, database(), f"index → {name} (end to end)", args))
                rows.append(_load_only(city, database(), f"decode + load → {name}", args))
        finally:
            node.stop()
    _print(chain, rows)
    return 0


def _databases(root: Path, no_postgres: bool) -> Iterator[tuple[str, Callable[[], str]]]:
    files = iter(range(1_000))
    yield "SQLite", lambda: f"sqlite:///{root / f'index{next(files)}.sqlite3'}"
    if no_postgres:
        return
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        print("PostgreSQL is not installed: SQLite only", file=sys.stderr)
        return
    with _postgres(bin_dir) as server:
        yield "PostgreSQL", server.new_database


@contextmanager
def _postgres(bin_dir: Path) -> Iterator[PostgresServer]:
    server_root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    server_root.chmod(0o755)
    server = PostgresServer(bin_dir, server_root, free_port()).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server_root, ignore_errors=True)


def _index(city: TestCity, url: str, what: str, args: argparse.Namespace) -> Row:
    engine = make_engine(url)
    upgrade(engine)
    with Indexer.for_manifest(
        engine, city.url, city.city.manifest, batch_blocks=args.batch_blocks
    ) as indexer:
        stats = indexer.run_once()
    report = reconcile(engine, city.url, manifest_contracts(city.city.manifest))
    if not report.ok:
        raise SystemExit(f"{what}: the index differs from the chain: {report.differences[:5]}")
    engine.dispose()
    return Row(what, stats.events, stats.blocks, stats.seconds)


def _load_only(city: TestCity, url: str, what: str, args: argparse.Namespace) -> Row:
    """The indexer's own work on blocks already read: decode and load, batch by batch."""
    engine = make_engine(url)
    upgrade(engine)
    contracts = manifest_contracts(city.city.manifest)
    start = city.city.manifest.deployment_block or 0
    with RpcClient(city.url) as rpc:
        extractor = Extractor(rpc, contracts)
        head = extractor.head()
        before = extractor.header(start - 1) if start > 0 else None
        cursor = init_cursor(engine, extractor.chain_id(), _hash(extractor, 0), before)
        batches = [
            extractor.fetch(s, min(s + args.batch_blocks - 1, head))
            for s in range(start, head + 1, args.batch_blocks)
        ]
    decoder = Decoder(contracts)
    events = blocks = 0
    started = time.perf_counter()
    for batch in batches:
        result = load_batch(engine, batch, decoder.decode_all(batch.logs), expected=cursor)
        cursor = result.cursor
        events += result.events
        blocks += result.blocks
    seconds = time.perf_counter() - started
    engine.dispose()
    return Row(what, events, blocks, seconds)


def _decode_rows(city: TestCity, web3_sample: int = 2_000) -> list[Row]:
    """Decoding alone: the indexer's decoder over every CityToken log, and web3.py's
    ``process_log`` over the first ``web3_sample`` of them (it is far slower)."""
    token = city.city.token
    logs = token.raw_logs([])
    raw = [RawLog.from_json(entry) for entry in logs]
    decoder = Decoder({token.address.lower(): "CityToken"})
    started = time.perf_counter()
    decoded = decoder.decode_all(raw)
    ours = Row("decode only: ledger.indexer.decode", len(decoded), 0, time.perf_counter() - started)
    names = [str(e["name"]) for e in city_artifact("CityToken").abi if e.get("type") == "event"]
    events = {name: getattr(token.contract.events, name) for name in names}
    topic0 = {token.topic0(name): name for name in events}
    sample = [
        {**entry, "topics": [HexBytes(t) for t in entry["topics"]], "data": HexBytes(entry["data"])}
        for entry in logs[:web3_sample]
    ]
    started = time.perf_counter()
    for entry in sample:
        events[topic0[entry["topics"][0].to_0x_hex()]]().process_log(entry)
    theirs = Row("decode only: web3.py process_log", len(sample), 0, time.perf_counter() - started)
    return [ours, theirs]


def _hash(extractor: Extractor, number: int) -> str:
    header = extractor.header(number)
    assert header is not None
    return header.hash


def _print(chain: FloodResult, rows: list[Row]) -> None:
    table = Table(title="CityLedger indexer: ingest vs the chain (embedded node, same run)")
    for column in ("what", "events / txs", "blocks", "seconds", "per second", "x chain", "target"):
        table.add_column(column, justify="left" if column == "what" else "right")
    table.add_row(
        "chain: CityToken transfers (8 clients)",
        f"{chain.transfers:,}",
        f"{chain.blocks:,}",
        f"{chain.seconds:,.1f}",
        f"{chain.tx_per_second:,.0f} tx/s",
        "1.0",
        "",
    )
    for row in rows:
        ratio = row.rate / chain.tx_per_second
        verdict = "" if "decode" in row.what else ("ok" if ratio >= TARGET else "BELOW")
        table.add_row(
            row.what,
            f"{row.events:,}",
            f"{row.blocks:,}" if row.blocks else "",
            f"{row.seconds:,.2f}",
            f"{row.rate:,.0f} events/s",
            f"{ratio:,.1f}",
            verdict,
        )
    console = Console(width=max(Console().width, 110))
    console.print(table)
    console.print(
        f"[dim]target: end-to-end ingest >= {TARGET:.0f}x the chain's rate; 'decode + load' "
        "excludes the node's JSON-RPC work (the blocks were read beforehand)[/dim]"
    )


if __name__ == "__main__":
    raise SystemExit(main())

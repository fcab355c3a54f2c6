"""Indexer ingest rate against the chain's own rate, measured in the same run.

    python -m scripts.bench indexer [--transfers 10000] [--batch-blocks 2000] [--no-postgres]

1. Starts an embedded node (block period 0.05 s, up to 500 transactions a block), deploys the
   city, registers and funds the senders.
2. Chain: floods N pre-signed CityToken transfers from 8 client threads and waits for every
   receipt (the node's ceiling for this workload, as the token workload's first row).
3. Indexes the whole chain from scratch with ``Indexer.run_once`` into a fresh SQLite file, and
   into a fresh PostgreSQL database if the server binaries are installed (a throwaway server,
   cityledger/testing/postgres.py). End to end: JSON-RPC reads from the node, decoding, writing.
4. Also times the indexer's own share alone: decode + load of the same blocks already read,
   and decoding alone, next to web3.py's ``process_log`` decoding the same logs (what an
   indexer built on web3 would do: about 1,900 logs/s a core on this machine kind).
5. Checks each index against the chain (reconcile: every balance, registration, the supply).

Target: end-to-end ingest >= 20x the chain's rate. Prints a table. ``--quick``: 1,000
transfers, SQLite only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hexbytes import HexBytes

from cityledger.testing.city import TestCity
from cityledger.testing.token_flood import fund_residents, presign_transfers
from ledger.contracts.base import city_artifact
from ledger.indexer.db import make_engine, upgrade
from ledger.indexer.decode import Decoder
from ledger.indexer.extract import Extractor, RawLog, RpcClient
from ledger.indexer.load import init_cursor, load_batch
from ledger.indexer.runner import manifest_contracts
from scripts.bench._utils.chain_plumbing import city_on_node, flood
from scripts.bench._utils.indexing import catch_up, databases
from scripts.bench._utils.meters import RunStats, rate
from scripts.bench._utils.reporting import Report, notes, print_table, step

TARGET = 20.0
SENDERS = 16
CLIENTS = 8


@dataclass(frozen=True)
class Row:
    what: str
    events: int
    blocks: int
    seconds: float

    @property
    def rate(self) -> float:
        return rate(self.events, self.seconds)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transfers", type=int, help="transfers (10,000; quick 1,000)")
    parser.add_argument("--batch-blocks", type=int, default=2_000, help="blocks per batch")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")


def run(args: argparse.Namespace) -> Report:
    transfers = args.transfers or (1_000 if args.quick else 10_000)
    with tempfile.TemporaryDirectory(prefix="bench-indexer-") as work:
        root = Path(work)
        node_args = ("--block-period", "0.05", "--no-fsync")
        with city_on_node(root, "bench-indexer", SENDERS, node_args) as (_, city):
            fund_residents(city, city.people[:SENDERS], 1_000_000, "BENCH")
            raws = presign_transfers(city, city.people[:SENDERS], transfers)
            step(f"flooding {len(raws):,} transfers")
            chain = flood(city.url, raws, clients=CLIENTS)
            rows = _decode_rows(city)
            for name, database in databases(root, not (args.no_postgres or args.quick)):
                step(f"indexing into {name}")
                what = f"index → {name} (end to end)"
                stats = catch_up(city, database(), what, batch_blocks=args.batch_blocks)
                rows.append(Row(what, stats.events, stats.blocks, stats.seconds))
                rows.append(
                    _load_only(city, database(), f"decode + load → {name}", args.batch_blocks)
                )
    _print(chain, rows)
    return Report(
        {
            "chain": {"transfers": chain.txs, "blocks": chain.blocks, "seconds": chain.seconds},
            "rows": [{**asdict(row), "rate": row.rate} for row in rows],
        }
    )


def _load_only(city: TestCity, url: str, what: str, batch_blocks: int) -> Row:
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
            extractor.fetch(s, min(s + batch_blocks - 1, head))
            for s in range(start, head + 1, batch_blocks)
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


def _print(chain: RunStats, rows: list[Row]) -> None:
    table = [
        (
            f"chain: CityToken transfers ({CLIENTS} clients)",
            f"{chain.txs:,}",
            f"{chain.blocks:,}",
            f"{chain.seconds:,.1f}",
            f"{chain.tps:,.0f} tx/s",
            "1.0",
            "",
        )
    ]
    for row in rows:
        ratio = row.rate / chain.tps
        verdict = "" if "decode" in row.what else ("ok" if ratio >= TARGET else "BELOW")
        table.append(
            (
                row.what,
                f"{row.events:,}",
                f"{row.blocks:,}" if row.blocks else "",
                f"{row.seconds:,.2f}",
                f"{row.rate:,.0f} events/s",
                f"{ratio:,.1f}",
                verdict,
            )
        )
    print_table(
        "CityLedger indexer: ingest vs the chain (embedded node, same run)",
        ("what", "events / txs", "blocks", "seconds", "per second", "x chain", "target"),
        table,
    )
    notes(
        [
            f"target: end-to-end ingest >= {TARGET:.0f}x the chain's rate; 'decode + load' "
            "excludes the node's JSON-RPC work (the blocks were read beforehand)"
        ]
    )

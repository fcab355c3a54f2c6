"""Token transfers per second through each layer a payment can take, on the embedded node.

    python -m scripts.bench token [--txs 400] [--threads 8]

Rows, all CityToken.transfer between registered residents on one fresh node:
  node, pre-signed flood   raw JSON-RPC batches from 8 threads: the node's own ceiling
  ledger wrapper, 1 / N    CityToken.transfer (dry run, estimate, sign, send, wait) per call
  wallet send (in process) the `wallet send --yes` command path, keystore unlock included
  wallet send (process)    a new `python -m wallet_cli` per payment, as a shell user runs it

``--quick``: 80 transfers a row, 3 wallet processes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from cityledger.testing.city import TestCity
from cityledger.testing.token_flood import fund_residents
from cityledger.testing.web3tx import presign
from ledger.keys import KeyStore
from scripts.bench._utils import BenchmarkError
from scripts.bench._utils.chain_plumbing import city_on_node, flood
from scripts.bench._utils.district import PAYMENT_MEDIAN_KRW, covers
from scripts.bench._utils.meters import RunStats, time_command
from scripts.bench._utils.reporting import Report, fmt, notes, print_table, step
from wallet_cli.main import app as wallet_app

FAST_SCRYPT = 2**4
PASSWORD = "pw"
TRANSFER_GAS = 80_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--txs", type=int, help="transfers per row (400; quick 80)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent senders (8)")


def run(args: argparse.Namespace) -> Report:
    txs = args.txs or (80 if args.quick else 400)
    processes = 3 if args.quick else 10
    with tempfile.TemporaryDirectory(prefix="bench-token-") as work:
        root = Path(work)
        node_args = ("--block-period", "0.05")
        with city_on_node(root, "bench-token", 2 * args.threads - 2, node_args) as (_, city):
            senders = city.people
            fund_residents(city, senders, 1_000_000, "BENCH")
            step(f"flooding {txs:,} pre-signed transfers")
            rows = [("node, pre-signed flood", _flood(city, senders, txs, args.threads))]
            step("the ledger wrapper, 1 thread, then many")
            rows.append(("ledger wrapper, 1 thread", _wrapper(city, senders[:1], txs // 4)))
            rows.append(
                (
                    f"ledger wrapper, {args.threads} threads",
                    _wrapper(city, senders[: args.threads], txs),
                )
            )
            step("wallet send, in this process, then a process each")
            rows.append(("wallet send (in process)", _wallet(city, senders[0], root, txs // 8)))
            rows.append(
                ("wallet send (new process)", _wallet_process(city, senders[0], root, processes))
            )
    _print(rows)
    return Report(
        {
            "rows": [
                {
                    "path": name,
                    "txs": stats.txs,
                    "tps": stats.tps,
                    "p50_ms": stats.latency.p50,
                    "p95_ms": stats.latency.p95,
                }
                for name, stats in rows
            ]
        }
    )


def _flood(city: TestCity, senders: list[LocalAccount], txs: int, threads: int) -> RunStats:
    transfer = city.city.token.contract.functions.transfer
    calls = [
        (senders[i % len(senders)], transfer(senders[(i + 1) % len(senders)].address, 15_000))
        for i in range(txs)
    ]
    return flood(city.url, presign(city.city.chain.w3, calls, gas=TRANSFER_GAS), clients=threads)


def _timed(work: Sequence[Callable[[], object]], repeat: int) -> RunStats:
    """Each of ``work`` called ``repeat`` times in a thread of its own, every call timed."""

    def calls(one: Callable[[], object]) -> list[float]:
        latencies = []
        for _ in range(repeat):
            started = time.perf_counter()
            one()
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(len(work)) as pool:
        latencies = [ms for part in pool.map(calls, work) for ms in part]
    return RunStats(len(latencies), time.perf_counter() - started, latencies)


def _wrapper(city: TestCity, senders: list[LocalAccount], txs: int) -> RunStats:
    """``CityToken.transfer`` per call, each sender in a thread of its own."""
    token, receiver = city.city.token, city.people[-1].address
    work = [partial(token.transfer, sender, receiver, 1_000) for sender in senders]
    return _timed(work, max(1, txs // len(senders)))


def _wallet_options(city: TestCity, sender: LocalAccount, root: Path) -> list[str]:
    """The payer's key in a keystore (fast scrypt) and the options that point at the city."""
    keys = KeyStore(root / "wallet")
    if "payer" not in keys.aliases():
        keys.import_private_key("payer", sender.key.hex(), PASSWORD, scrypt_n=FAST_SCRYPT)
    return [
        "--rpc-url",
        city.url,
        "--keystore-dir",
        str(root / "wallet"),
        "--network",
        city.manifest_path.stem,
        "--deployments-dir",
        str(city.manifest_path.parent),
    ]


def _wallet(city: TestCity, sender: LocalAccount, root: Path, txs: int) -> RunStats:
    options = _wallet_options(city, sender, root)
    runner = CliRunner()
    argv = ["send", "payer", city.people[-1].address, "1000", "--yes", *options]

    def one() -> None:
        result = runner.invoke(wallet_app, argv, env={"CITYLEDGER_WALLET_PASSWORD": PASSWORD})
        if result.exit_code != 0:
            raise BenchmarkError(f"wallet send failed: {result.output}")

    return _timed([one], txs)


def _wallet_process(city: TestCity, sender: LocalAccount, root: Path, txs: int) -> RunStats:
    options = _wallet_options(city, sender, root)
    argv = [sys.executable, "-m", "wallet_cli", "send", "payer", city.people[-1].address]
    started = time.perf_counter()
    seconds = time_command(
        [*argv, str(PAYMENT_MEDIAN_KRW), "--yes", *options],
        runs=txs,
        warmup=0,
        env={"CITYLEDGER_WALLET_PASSWORD": PASSWORD},
    )
    return RunStats(len(seconds), time.perf_counter() - started, [s * 1000 for s in seconds])


def _print(rows: list[tuple[str, RunStats]]) -> None:
    ceiling = rows[0][1].tps
    table = []
    for name, stats in rows:
        life, city = covers(stats.tps)
        table.append(
            (
                name,
                str(stats.txs),
                f"{stats.tps:,.1f}",
                fmt(stats.latency.p50),
                fmt(stats.latency.p95),
                f"{stats.tps / ceiling:.2f}",
                f"{life:,.0f}x",
                f"{city:,.1f}x",
            )
        )
    print_table(
        "CityToken transfers on the embedded node",
        (
            "path",
            "txs",
            "tx/s",
            "p50 ms",
            "p95 ms",
            "x node ceiling",
            "x life-zone peak",
            "x city peak",
        ),
        table,
    )
    notes(
        [
            f"keystores use scrypt n={FAST_SCRYPT} here; at the standard n=2**18 each wallet "
            "payment adds one unlock (~0.5-1 s)"
        ]
    )

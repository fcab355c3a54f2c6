"""Token transfers per second through each layer a payment can take, on the embedded node.

    .venv/bin/python scripts/bench_token.py [--txs 400] [--threads 8]

Rows, all CityToken.transfer between registered residents on one fresh node:
  node, pre-signed flood   raw JSON-RPC batches from 8 threads: the node's own ceiling
  ledger wrapper, 1 / N    CityToken.transfer (dry run, estimate, sign, send, wait) per call
  wallet send (in process) the `wallet send --yes` command path, keystore unlock included
  wallet send (process)    a new `python -m wallet_cli` per payment, as a shell user runs it
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.city import TestCity, deploy_test_city
from cityledger.testing.processes import NodeProcess, free_port, rpc_batch
from ledger.keys import KeyStore
from ledger.types import AccountKind
from wallet_cli.main import app as wallet_app

LIFE_ZONE_PEAK_TPS = 0.5
CITY_PEAK_TPS = 10.0
FAST_SCRYPT = 2**4


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=400, help="transfers per row (400)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent senders (8)")
    args = parser.parse_args()
    people = 5 + args.threads * 2
    with tempfile.TemporaryDirectory(prefix="bench-token-") as work:
        root = Path(work)
        accounts = make_accounts(people, "bench-token")
        write_genesis(root / "genesis.json", accounts)
        node = NodeProcess(
            root / "genesis.json", root / "node", free_port(), ("--block-period", "0.05")
        )
        node.start()
        try:
            city = deploy_test_city(node.url, accounts, root / "deployments" / "bench.json")
            senders = _fund(city, city.people)
            rows = [
                ("node, pre-signed flood", *_flood(city, senders, args.txs, args.threads)),
                ("ledger wrapper, 1 thread", *_wrapper(city, senders[:1], args.txs // 4)),
                (
                    f"ledger wrapper, {args.threads} threads",
                    *_wrapper(city, senders[: args.threads], args.txs),
                ),
                ("wallet send (in process)", *_wallet(city, senders[0], root, args.txs // 8)),
                ("wallet send (new process)", *_wallet_process(city, senders[0], root, 10)),
            ]
        finally:
            node.stop()
    _print(rows)
    return 0


def _fund(city: TestCity, people: list[LocalAccount]) -> list[LocalAccount]:
    for number, person in enumerate(people):
        city.city.registry.register(
            city.registrar, person.address, AccountKind.RESIDENT, 5101, bytes([number + 1]) * 32
        )
        city.city.token.mint(city.treasury, person.address, 1_000_000, f"BENCH-{number}")
    return people


def _timed(run: Callable[[], list[float]], count: int) -> tuple[float, float, float, int]:
    started = time.perf_counter()
    latencies = run()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0
    return count / elapsed, statistics.median(ordered) * 1000 if ordered else 0.0, p95 * 1000, count


def _flood(
    city: TestCity, senders: list[LocalAccount], txs: int, threads: int
) -> tuple[float, float, float, int]:
    token = city.city.token
    nonces = {
        s.address: city.city.chain.w3.eth.get_transaction_count(s.address, "pending")
        for s in senders
    }
    raws: list[str] = []
    for i in range(txs):
        sender, receiver = senders[i % len(senders)], senders[(i + 1) % len(senders)]
        tx = token.contract.functions.transfer(receiver.address, 15_000).build_transaction(
            {
                "from": sender.address,
                "nonce": nonces[sender.address],
                "gas": 80_000,
                "maxFeePerGas": 0,
                "maxPriorityFeePerGas": 0,
                "chainId": 44051,
            }
        )
        nonces[sender.address] += 1
        raws.append("0x" + bytes(sender.sign_transaction(tx).raw_transaction).hex())
    chunks = [raws[i : i + 25] for i in range(0, len(raws), 25)]

    def run() -> list[float]:
        submitted: dict[str, float] = {}

        def submit(chunk: list[str]) -> None:
            now = time.perf_counter()
            for tx_hash in rpc_batch(city.url, [("eth_sendRawTransaction", [r]) for r in chunk]):
                submitted[str(tx_hash)] = now

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(submit, chunks))
        latencies, waiting = [], list(submitted)
        while waiting:
            receipts = rpc_batch(city.url, [("eth_getTransactionReceipt", [h]) for h in waiting])
            now = time.perf_counter()
            still = []
            for tx_hash, receipt in zip(waiting, receipts, strict=True):
                if receipt is None:
                    still.append(tx_hash)
                else:
                    assert receipt["status"] == "0x1", receipt  # type: ignore[index]
                    latencies.append(now - submitted[tx_hash])
            waiting = still
            time.sleep(0.01)
        return latencies

    return _timed(run, txs)


def _wrapper(
    city: TestCity, senders: list[LocalAccount], txs: int
) -> tuple[float, float, float, int]:
    token = city.city.token
    per_sender = max(1, txs // len(senders))

    def one_sender(sender: LocalAccount) -> list[float]:
        latencies = []
        receiver = city.people[-1]
        for _ in range(per_sender):
            started = time.perf_counter()
            token.transfer(sender, receiver.address, 1_000)
            latencies.append(time.perf_counter() - started)
        return latencies

    def run() -> list[float]:
        with ThreadPoolExecutor(len(senders)) as pool:
            return [lat for chunk in pool.map(one_sender, senders) for lat in chunk]

    return _timed(run, per_sender * len(senders))


def _wallet_env(
    city: TestCity, sender: LocalAccount, root: Path
) -> tuple[list[str], dict[str, str]]:
    keys = KeyStore(root / "wallet")
    if "payer" not in keys.aliases():
        keys.import_private_key("payer", sender.key.hex(), "pw", scrypt_n=FAST_SCRYPT)
    options = [
        "--rpc-url",
        city.url,
        "--keystore-dir",
        str(root / "wallet"),
        "--network",
        city.manifest_path.stem,
        "--deployments-dir",
        str(city.manifest_path.parent),
    ]
    return options, {"CITYLEDGER_WALLET_PASSWORD": "pw"}


def _wallet(
    city: TestCity, sender: LocalAccount, root: Path, txs: int
) -> tuple[float, float, float, int]:
    options, env = _wallet_env(city, sender, root)
    runner = CliRunner()

    def run() -> list[float]:
        latencies = []
        for _ in range(txs):
            started = time.perf_counter()
            result = runner.invoke(
                wallet_app,
                ["send", "payer", city.people[-1].address, "1000", "--yes", *options],
                env=env,
            )
            assert result.exit_code == 0, result.output
            latencies.append(time.perf_counter() - started)
        return latencies

    return _timed(run, txs)


def _wallet_process(
    city: TestCity, sender: LocalAccount, root: Path, txs: int
) -> tuple[float, float, float, int]:
    options, env = _wallet_env(city, sender, root)
    import os

    def run() -> list[float]:
        latencies = []
        for _ in range(txs):
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "wallet_cli",
                    "send",
                    "payer",
                    city.people[-1].address,
                    "15000",
                    "--yes",
                    *options,
                ],
                env={**os.environ, **env},
                check=True,
                capture_output=True,
            )
            latencies.append(time.perf_counter() - started)
        return latencies

    return _timed(run, txs)


def _print(rows: list[tuple[str, float, float, float, int]]) -> None:
    ceiling = rows[0][1]
    table = Table(title="CityToken transfers on the embedded node")
    for column in (
        "path",
        "txs",
        "tx/s",
        "p50 ms",
        "p95 ms",
        "x node ceiling",
        "x life-zone peak",
        "x city peak",
    ):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, tps, p50, p95, count in rows:
        table.add_row(
            name,
            str(count),
            f"{tps:,.1f}",
            f"{p50:,.0f}",
            f"{p95:,.0f}",
            f"{tps / ceiling:.2f}",
            f"{tps / LIFE_ZONE_PEAK_TPS:,.0f}x",
            f"{tps / CITY_PEAK_TPS:,.1f}x",
        )
    Console().print(table)
    Console().print(
        f"[dim]keystores use scrypt n={FAST_SCRYPT} here; at the standard n=2**18 each wallet "
        "payment adds one unlock (~0.5-1 s)[/dim]"
    )


if __name__ == "__main__":
    raise SystemExit(main())

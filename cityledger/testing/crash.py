"""Crash-consistency drill: stream signed transactions at a node and kill -9 it, repeatedly.

After every restart, each transaction whose receipt the node had served must still have the
same receipt, nonces must continue where the chain says they are, and the node must serve.
Used by tests/node/test_durability.py (20 kills) and scripts/crash_drill.py (any number).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.inprocess import transfer
from cityledger.testing.processes import NodeProcess, free_port, rpc, rpc_batch

SENDERS = 6


@dataclass
class CrashReport:
    kills: int = 0
    confirmed: int = 0
    """Receipts served before some crash and checked after it."""
    lost: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    head: int = 0


class _Streamer(threading.Thread):
    """Sends transfers from every sender, each waiting for its receipt, until stopped."""

    def __init__(self, url: str, accounts: list[LocalAccount], seen: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.accounts = accounts
        self.seen = seen
        self.stop = threading.Event()
        self.client = httpx.Client(timeout=2)

    def _rpc(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        document = self.client.post(self.url, json=body).json()
        if "error" in document:
            raise RuntimeError(document["error"]["message"])
        return document["result"]

    def run(self) -> None:
        try:
            nonces = {
                a.address: int(self._rpc("eth_getTransactionCount", a.address, "pending"), 16)
                for a in self.accounts
            }
            while not self.stop.is_set():
                hashes = []
                for account in self.accounts:
                    raw = transfer(account, self.accounts[0].address, 1, nonces[account.address])
                    hashes.append(self._rpc("eth_sendRawTransaction", "0x" + raw.hex()))
                    nonces[account.address] += 1
                for tx_hash in hashes:
                    while (receipt := self._rpc("eth_getTransactionReceipt", tx_hash)) is None:
                        time.sleep(0.002)
                    self.seen[tx_hash] = receipt
        except (httpx.HTTPError, RuntimeError, ValueError):
            return  # the node went away under us: that is the point
        finally:
            self.client.close()


def run_crash_drill(workdir: Path, kills: int, *, seed: int = 7) -> CrashReport:
    accounts = make_accounts(SENDERS, "crash")
    write_genesis(workdir / "genesis.json", accounts)
    node = NodeProcess(
        workdir / "genesis.json", workdir / "node", free_port(), ("--block-period", "0")
    )
    rng = random.Random(seed)
    served: dict[str, Any] = {}
    report = CrashReport()
    node.start()
    try:
        for _ in range(kills):
            streamer = _Streamer(node.url, accounts, served)
            streamer.start()
            time.sleep(rng.uniform(0.2, 0.6))
            snapshot = dict(served)  # everything served up to the moment of the kill
            node.kill9()
            streamer.stop.set()
            streamer.join(10)
            report.kills += 1
            node.start()
            _check(node.url, snapshot, report)
            served = dict(snapshot)
            served.update(streamer.seen)
        report.head = int(str(rpc(node.url, "eth_blockNumber")), 16)
    finally:
        node.stop()
    return report


def _check(url: str, served: dict[str, Any], report: CrashReport) -> None:
    hashes = list(served)
    receipts = rpc_batch(url, [("eth_getTransactionReceipt", [h]) for h in hashes])
    for tx_hash, now in zip(hashes, receipts, strict=True):
        receipt = served[tx_hash]
        if now is None:
            report.lost.append(tx_hash)
        elif now != receipt:
            report.changed.append(tx_hash)
        else:
            report.confirmed += 1

"""Many CityToken transfers, pre-signed and sent in JSON-RPC batches: a backlog to index.

Used by the indexer's crash drill (tests/indexer/test_crash.py) and its benchmark
(scripts/bench_indexer.py).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from cityledger.testing.city import TestCity
from cityledger.testing.processes import rpc_batch
from cityledger.testing.web3tx import presign
from ledger.types import AccountKind

TRANSFER_GAS = 120_000


@dataclass(frozen=True)
class FloodResult:
    transfers: int
    blocks: int
    seconds: float

    @property
    def tx_per_second(self) -> float:
        return self.transfers / self.seconds


def fund_residents(city: TestCity, people: list[LocalAccount], amount: int, label: str) -> None:
    """Register ``people`` as residents and mint ``amount`` to each."""
    for number, person in enumerate(people):
        city.city.registry.register(
            city.registrar,
            person.address,
            AccountKind.RESIDENT,
            5101,
            (number + 1).to_bytes(32, "big"),
        )
        city.city.token.mint(city.treasury, person.address, amount, f"{label}-{number}")


def presign_transfers(city: TestCity, senders: list[LocalAccount], count: int) -> list[str]:
    """``count`` transfers of 1..97 tokens, round-robin over ``senders`` to the next one."""
    transfer = city.city.token.contract.functions.transfer
    calls = [
        (senders[i % len(senders)], transfer(senders[(i + 1) % len(senders)].address, 1 + i % 97))
        for i in range(count)
    ]
    return presign(city.city.chain.w3, calls, gas=TRANSFER_GAS)


def send_and_wait(url: str, raws: list[str], *, chunk: int = 50) -> FloodResult:
    """Send ``raws`` in batches of ``chunk`` (each waits for its receipts, so every chunk lands
    in its own block or blocks); returns the chain's rate for them."""
    started = time.perf_counter()
    blocks: set[str] = set()
    for start in range(0, len(raws), chunk):
        hashes = [
            str(h)
            for h in rpc_batch(
                url, [("eth_sendRawTransaction", [r]) for r in raws[start : start + chunk]]
            )
        ]
        waiting = hashes
        while waiting:
            receipts = rpc_batch(url, [("eth_getTransactionReceipt", [h]) for h in waiting])
            still = []
            for tx_hash, receipt in zip(waiting, receipts, strict=True):
                if receipt is None:
                    still.append(tx_hash)
                    continue
                assert isinstance(receipt, dict)
                if receipt["status"] != "0x1":
                    raise RuntimeError(f"transfer {tx_hash} failed: {receipt}")
                blocks.add(receipt["blockHash"])
            waiting = still
            if waiting:
                time.sleep(0.005)
    return FloodResult(len(raws), len(blocks), time.perf_counter() - started)


def flood(url: str, raws: list[str], *, threads: int = 8, per_request: int = 25) -> FloodResult:
    """Submit ``raws`` from ``threads`` clients at once (``per_request`` per JSON-RPC batch) and
    wait for every receipt: the node's own ceiling for these transfers."""
    started = time.perf_counter()
    chunks = [raws[i : i + per_request] for i in range(0, len(raws), per_request)]
    hashes: list[str] = []

    def submit(chunk: list[str]) -> list[str]:
        return [str(h) for h in rpc_batch(url, [("eth_sendRawTransaction", [r]) for r in chunk])]

    with ThreadPoolExecutor(threads) as pool:
        for sent in pool.map(submit, chunks):
            hashes.extend(sent)
    blocks: set[str] = set()
    waiting = hashes
    while waiting:
        still = []
        for start in range(0, len(waiting), 500):
            part = waiting[start : start + 500]
            receipts = rpc_batch(url, [("eth_getTransactionReceipt", [h]) for h in part])
            for tx_hash, receipt in zip(part, receipts, strict=True):
                if receipt is None:
                    still.append(tx_hash)
                    continue
                assert isinstance(receipt, dict)
                if receipt["status"] != "0x1":
                    raise RuntimeError(f"transfer {tx_hash} failed: {receipt}")
                blocks.add(receipt["blockHash"])
        waiting = still
        if waiting:
            time.sleep(0.02)
    return FloodResult(len(raws), len(blocks), time.perf_counter() - started)

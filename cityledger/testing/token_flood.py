"""Many CityToken transfers, pre-signed and sent in JSON-RPC batches: a backlog to index.

Used by the indexer's crash drill (tests/indexer/test_crash.py) and the benchmarks (which time
their floods with ``scripts.bench._utils.chain_plumbing.send_all``).
"""

from __future__ import annotations

import time
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

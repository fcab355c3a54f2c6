"""Pending transactions: admission rules and the order in which the sealer takes them.

A sender's transactions run strictly in nonce order, so the pool keeps, per sender, the nonces it
holds. A run of nonces that starts at the account's nonce is *executable*; a transaction after a
gap is *queued* until the gap is filled (clients that submit from several connections can arrive
out of order), but only within ``max_nonce_gap`` of the account's nonce.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from eth.abc import SignedTransactionAPI
from eth_typing import Address, Hash32

from ledger.node.errors import RejectReason, TransactionRejected


@dataclass(frozen=True, slots=True)
class PooledTx:
    """A decoded, signature-checked transaction with what the pool needs to order it."""

    tx: SignedTransactionAPI
    sender: Address
    hash: Hash32
    nonce: int
    cost: int
    """The most it can take from the sender: value + gas x max fee per gas."""
    seq: int = field(compare=False)
    """Arrival order, so that the sealer serves senders first come, first served."""


@dataclass(frozen=True, slots=True)
class AccountView:
    """The sender's account at the chain head, as admission sees it."""

    nonce: int
    balance: int


class TxPool:
    """Thread-safe pool; callers take :attr:`lock` to make a read-then-admit step atomic."""

    def __init__(self, *, max_size: int, max_nonce_gap: int) -> None:
        self.lock = threading.RLock()
        self.has_work = threading.Condition(self.lock)
        self._max_size = max_size
        self._max_nonce_gap = max_nonce_gap
        self._by_hash: dict[Hash32, PooledTx] = {}
        self._by_sender: dict[Address, dict[int, PooledTx]] = {}
        self._in_flight: set[Hash32] = set()
        self._seq = itertools.count()
        self._version = 0

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, tx_hash: Hash32) -> PooledTx | None:
        return self._by_hash.get(tx_hash)

    def next_nonce(self, sender: Address, account_nonce: int) -> int:
        """The nonce a new transaction from ``sender`` should carry (the "pending" count)."""
        with self.lock:
            held = self._by_sender.get(sender, {})
            nonce = account_nonce
            while nonce in held:
                nonce += 1
            return nonce

    def add(self, tx: SignedTransactionAPI, sender: Address, account: AccountView) -> PooledTx:
        """Admit ``tx`` or raise :class:`TransactionRejected` saying why; the pool is unchanged
        on rejection. Call with :attr:`lock` held so ``account`` is the current head's view."""
        with self.lock:
            tx_hash = Hash32(tx.hash)
            if tx_hash in self._by_hash:
                raise TransactionRejected(RejectReason.ALREADY_KNOWN, "already known")
            nonce = tx.nonce
            if nonce < account.nonce:
                raise TransactionRejected(
                    RejectReason.NONCE_TOO_LOW,
                    f"nonce too low: next nonce {account.nonce}, tx nonce {nonce}",
                )
            held = self._by_sender.get(sender, {})
            if nonce in held:
                raise TransactionRejected(
                    RejectReason.REPLACEMENT_NOT_SUPPORTED,
                    f"replacement transaction not supported: nonce {nonce} is already pending",
                )
            expected = account.nonce
            while expected in held:
                expected += 1
            if nonce > expected + self._max_nonce_gap:
                raise TransactionRejected(
                    RejectReason.NONCE_TOO_HIGH,
                    f"nonce too high: next nonce {expected}, tx nonce {nonce} "
                    f"(gaps of more than {self._max_nonce_gap} are refused)",
                )
            cost = tx.value + tx.gas * _max_fee_per_gas(tx)
            committed = sum(p.cost for p in held.values())
            if committed + cost > account.balance:
                raise TransactionRejected(
                    RejectReason.INSUFFICIENT_FUNDS,
                    f"insufficient funds for gas * price + value: balance {account.balance}, "
                    f"pending {committed}, tx cost {cost}",
                )
            if len(self._by_hash) >= self._max_size:
                raise TransactionRejected(RejectReason.POOL_FULL, "txpool is full")
            pooled = PooledTx(tx, sender, tx_hash, nonce, cost, next(self._seq))
            self._by_hash[tx_hash] = pooled
            self._by_sender.setdefault(sender, {})[nonce] = pooled
            self._version += 1
            self.has_work.notify_all()
            return pooled

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until a transaction arrived since version ``seen`` (or ``timeout`` passed);
        return the current version. ``seen=-1`` returns at once."""
        with self.has_work:
            if seen == self._version:
                self.has_work.wait(timeout)
            return self._version

    def take_batch(self, limit: int, account_nonce: dict[Address, int]) -> list[PooledTx]:
        """Mark up to ``limit`` executable transactions in flight and return them in block order.

        Each sender's run starts at its head nonce (``account_nonce``, default 0 for senders the
        caller did not look up) and continues past transactions already in flight.
        """
        with self.lock:
            runs: list[list[PooledTx]] = []
            for sender, held in self._by_sender.items():
                nonce = account_nonce.get(sender, 0)
                run: list[PooledTx] = []
                while (pooled := held.get(nonce)) is not None:
                    if pooled.hash not in self._in_flight:
                        run.append(pooled)
                    nonce += 1
                if run:
                    runs.append(run)
            batch = list(itertools.islice(_merge_by_arrival(runs), limit))
            self._in_flight.update(p.hash for p in batch)
            return batch

    def senders(self) -> list[Address]:
        with self.lock:
            return list(self._by_sender)

    def remove(self, hashes: Iterable[Hash32]) -> None:
        """Forget sealed or dropped transactions."""
        with self.lock:
            for tx_hash in hashes:
                self._in_flight.discard(tx_hash)
                pooled = self._by_hash.pop(tx_hash, None)
                if pooled is None:
                    continue
                held = self._by_sender[pooled.sender]
                del held[pooled.nonce]
                if not held:
                    del self._by_sender[pooled.sender]

    def release(self, hashes: Iterable[Hash32]) -> None:
        """Return in-flight transactions that did not fit in the block to the waiting set."""
        with self.lock:
            self._in_flight.difference_update(hashes)

    def stale(self, sender: Address, account_nonce: int) -> list[Hash32]:
        """Hashes of ``sender``'s transactions whose nonce the chain has already used."""
        with self.lock:
            held = self._by_sender.get(sender, {})
            return [p.hash for n, p in held.items() if n < account_nonce]

    def pending(self) -> list[PooledTx]:
        with self.lock:
            return sorted(self._by_hash.values(), key=lambda p: p.seq)


def _max_fee_per_gas(tx: SignedTransactionAPI) -> int:
    """Legacy and access-list transactions carry a gas price; 1559 and later a max fee."""
    try:
        return int(tx.max_fee_per_gas)
    except AttributeError:
        return int(tx.gas_price)


def _merge_by_arrival(runs: list[list[PooledTx]]) -> Iterable[PooledTx]:
    """Interleave per-sender runs by arrival, keeping each run's nonce order."""
    heap = [(run[0].seq, i, 0) for i, run in enumerate(runs)]
    heapq.heapify(heap)
    while heap:
        _, i, j = heapq.heappop(heap)
        yield runs[i][j]
        if j + 1 < len(runs[i]):
            heapq.heappush(heap, (runs[i][j + 1].seq, i, j + 1))

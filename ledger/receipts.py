"""Waiting for receipts by following blocks, not by polling each transaction.

A caller that waits for its receipt with web3's ``wait_for_transaction_receipt`` asks the node
for that one receipt every poll interval until it is mined. Sixteen API threads relaying at
once then send hundreds of receipt requests a second, nearly all answered "not yet", and both
processes spend their CPU on them. Here one thread per endpoint follows the head instead
(``eth_blockNumber`` every poll interval) and reads each new block's receipts once
(``eth_getBlockReceipts``, as Besu, Geth, anvil and the embedded node serve it), handing every
waiting caller its own. A node without ``eth_getBlockReceipts`` gets one batch of
``eth_getTransactionReceipt`` per new block for the hashes still awaited.

The thread runs only while someone waits, so a CLI that sends one transaction leaves nothing
behind. Like the HTTP sessions under it (whose locks a fork can copy mid-request), a watcher
belongs to the process that made it: a forked child makes its own ``Chain``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import structlog
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import MethodUnavailable, TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

log = structlog.get_logger("cityledger.receipts")

POLL_INTERVAL = 0.02
"""Seconds between looks at the head (the embedded node seals every 0.05-1 s)."""
_RPC_METHOD_NOT_FOUND = -32601


@dataclass
class _Awaited:
    """One awaited transaction; several callers may wait for the same hash (a retried request)."""

    mined: threading.Event = field(default_factory=threading.Event)
    receipt: TxReceipt | None = None
    waiters: int = 0


class ReceiptWatcher:
    """Hands waiting callers their receipts as the blocks holding them appear."""

    def __init__(self, w3: Web3, *, poll_interval: float = POLL_INTERVAL) -> None:
        self._w3 = w3
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._awaited: dict[bytes, _Awaited] = {}
        self._thread: threading.Thread | None = None
        self._block_receipts = True
        """Whether the node serves ``eth_getBlockReceipts`` (assumed until it says not)."""

    def wait(self, tx_hash: bytes, timeout: float) -> TxReceipt | None:
        """The transaction's receipt once mined, or ``None`` after ``timeout`` seconds.

        Transport errors of the first look propagate (the caller maps them); later ones are
        the follower's, which keeps trying until the waiter's time is up.
        """
        key = bytes(tx_hash)
        awaited = self._register(key)
        try:
            # Registered first, then looked up once: a block sealed before the follower's last
            # look at the head is covered by this look, any later block by the follower.
            receipt = self._receipt_of(key)
            if receipt is not None:
                return receipt
            if awaited.mined.wait(timeout):
                return awaited.receipt
            return None
        finally:
            self._unregister(key, awaited)

    def _register(self, key: bytes) -> _Awaited:
        with self._lock:
            awaited = self._awaited.setdefault(key, _Awaited())
            awaited.waiters += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._follow, name="receipt-watcher", daemon=True
                )
                self._thread.start()
            return awaited

    def _unregister(self, key: bytes, awaited: _Awaited) -> None:
        with self._lock:
            awaited.waiters -= 1
            if awaited.waiters == 0 and self._awaited.get(key) is awaited:
                del self._awaited[key]

    def _receipt_of(self, key: bytes) -> TxReceipt | None:
        try:
            return self._w3.eth.get_transaction_receipt(HexBytes(key))
        except TransactionNotFound:
            return None

    def _follow(self) -> None:
        """Read every new block's receipts while anyone waits; exit when nobody does."""
        seen: int | None = None
        while True:
            with self._lock:
                if not self._awaited:
                    self._thread = None
                    return
            try:
                head = self._w3.eth.block_number
                if seen is None:
                    # A waiter that registered before this head was read may have looked for
                    # its receipt before its block was sealed: look once more for each.
                    self._deliver(self._awaited_receipts())
                    seen = head
                for number in range(seen + 1, head + 1):
                    self._deliver(self._receipts_in(number))
                    seen = number
            except Exception as exc:  # a node restart or a timeout: keep following
                log.warning("receipt_watcher_error", error=str(exc))
                time.sleep(max(self._poll_interval, 0.5))
                continue
            time.sleep(self._poll_interval)

    def _deliver(self, receipts: list[TxReceipt]) -> None:
        for receipt in receipts:
            with self._lock:
                awaited = self._awaited.get(bytes(receipt["transactionHash"]))
            if awaited is not None and not awaited.mined.is_set():
                awaited.receipt = receipt
                awaited.mined.set()

    def _receipts_in(self, number: int) -> list[TxReceipt]:
        if self._block_receipts:
            try:
                return list(self._w3.eth.get_block_receipts(number))
            except (MethodUnavailable, Web3RPCError) as exc:
                if not _method_missing(exc):
                    raise
                self._block_receipts = False
                log.info("receipt_watcher_fallback", reason="no eth_getBlockReceipts")
        return self._awaited_receipts()

    def _awaited_receipts(self) -> list[TxReceipt]:
        """The receipts of every awaited transaction already mined, looked up one by one."""
        with self._lock:
            keys = [key for key, awaited in self._awaited.items() if not awaited.mined.is_set()]
        found = (self._receipt_of(key) for key in keys)
        return [receipt for receipt in found if receipt is not None]


def _method_missing(exc: Web3RPCError) -> bool:
    if isinstance(exc, MethodUnavailable):
        return True
    response = exc.rpc_response or {}
    error = response.get("error") if isinstance(response, dict) else None
    return isinstance(error, dict) and error.get("code") == _RPC_METHOD_NOT_FOUND

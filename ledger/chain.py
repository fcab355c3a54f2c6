"""One JSON-RPC endpoint, used the way a careful wallet does: sign locally, simulate before
sending so a revert is explained in words, keep nonces straight, wait for the receipt.

A node keeps unmined transactions only in memory (the embedded node, geth and Besu alike): a
crash before sealing forgets them. So a Chain keeps the signed bytes of what it sent (or
relayed) until it has seen the receipt, and while it waits it resends them whenever the node no
longer knows the transaction; the caller never resends by hand.

Nothing else in CityLedger builds or sends a transaction: wrappers in ``ledger.contracts`` call
:meth:`Chain.transact` and :meth:`Chain.call`, so every caller gets the same error handling.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any, TypedDict, Unpack

import requests
import structlog
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import Nonce, RPCEndpoint, TxParams, TxReceipt, Wei

from ledger.contracts.errors import ErrorTable, default_table
from ledger.exceptions import (
    ChainError,
    ChainUnavailableError,
    ReceiptTimeoutError,
    TransactionFailedError,
    TransactionRefusedError,
    WrongChainError,
)
from ledger.receipts import ReceiptWatcher

log = structlog.get_logger("cityledger.chain")

RPC_BATCH = 500
"""JSON-RPC requests per batch (the embedded node accepts 1,000, Besu 1,024 by default)."""
GAS_MARGIN_PERCENT = 10
"""Head-room over eth_estimateGas: gas is free on the city chain, a failed send is not."""
FREE_GAS_CALL_LIMIT = 1_000_000
"""Gas limit of contract calls on a free-gas chain (Besu's zero base fee, the embedded node).

There the limit costs nothing, so one ``eth_call`` dry run under it replaces
``eth_estimateGas``, whose bisection executes the call about three times; the city's contract
calls use a fifth of it. Deployments are still estimated."""

_NONCE_TAKEN = ("nonce too low", "already known", "known transaction", "replacement transaction")
"""How nodes say a nonce is used already (geth/anvil/embedded node, and Besu's wording)."""
_ALREADY_KNOWN = ("already known", "known transaction", "already imported")
RESEND_CHECK = 2.0
"""Seconds between looks, while waiting for a receipt, at whether the node still knows the
transaction (and the signed bytes are resent if not)."""
IN_FLIGHT_LIMIT = 10_000
"""Signed transactions kept for resending at most (the oldest are forgotten first)."""


class TransactionFields(TypedDict, total=False):
    """What :meth:`Chain.send` takes besides the signer and a contract function."""

    to: str | None
    value: int
    data: bytes
    gas: int | None


class Chain:
    """web3.py over one HTTP endpoint, with CityLedger's signing and error rules."""

    def __init__(
        self,
        rpc_url: str,
        *,
        chain_id: int | None = None,
        receipt_timeout: float = 60.0,
        errors: ErrorTable | None = None,
    ) -> None:
        self.rpc_url = rpc_url
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        # web3's validation layer asks the node for its chain id before every call it checks
        # (one extra request each); this class checks the chain id once, and signs with it.
        # ENS does not exist on a city chain.
        self.w3.middleware_onion.remove("validation")
        self.w3.middleware_onion.remove("ens_name_to_address")
        self._expected_chain_id = chain_id
        self._receipt_timeout = receipt_timeout
        self.errors = errors or default_table()
        self._nonce_lock = threading.Lock()
        self._nonces: dict[str, int] = {}
        self._receipts = ReceiptWatcher(self.w3)
        self._in_flight: OrderedDict[bytes, bytes] = OrderedDict()
        """Hash → signed bytes of what this Chain sent and has not seen mined yet."""
        self._in_flight_lock = threading.Lock()
        self._reached = False
        """Whether the node ever answered: a node gone after that is restarting, so a wait for
        a receipt rides it out; one that never answered is refused at once."""

    @contextmanager
    def rpc_errors(self) -> Iterator[None]:
        """Turn transport failures into ChainUnavailableError, reverts into domain errors."""
        try:
            yield
            self._reached = True
        except requests.exceptions.ConnectionError as exc:
            raise ChainUnavailableError(
                f"cannot reach the chain node at {self.rpc_url} (is it running?)"
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise ChainUnavailableError(f"the chain node at {self.rpc_url} timed out") from exc
        except ContractLogicError as exc:
            raise self._revert(exc) from exc

    def _revert(self, exc: ContractLogicError) -> Exception:
        data = exc.data if isinstance(exc.data, str) else None
        if data and data.startswith("0x"):
            return self.errors.exception(bytes.fromhex(data[2:]))
        return TransactionFailedError(str(exc.message or exc))

    @cached_property
    def chain_id(self) -> int:
        """The node's chain id, checked against the configured one on first use."""
        with self.rpc_errors():
            actual = self.w3.eth.chain_id
        if self._expected_chain_id is not None and actual != self._expected_chain_id:
            raise WrongChainError(
                f"{self.rpc_url} serves chain {actual}, expected {self._expected_chain_id}"
            )
        return actual

    def contract(self, address: str, abi: list[dict[str, Any]]) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)

    def call(self, function: ContractFunction, *, sender: str | None = None) -> Any:
        """Read through ``eth_call``; a revert raises its domain exception."""
        params: TxParams = {"from": Web3.to_checksum_address(sender)} if sender else {}
        with self.rpc_errors():
            return function.call(params)

    def batch(self, calls: Sequence[tuple[str, list[Any]]], what: str) -> list[dict[str, Any]]:
        """The JSON-RPC answers to ``calls``, in order, sent in batches of ``RPC_BATCH`` (one
        round trip each). Each answer holds its ``result`` or ``error``; ``what`` names the
        reads in the error raised when the node refuses a whole batch."""
        provider = self.w3.provider
        if not isinstance(provider, HTTPProvider):
            raise ChainError(f"batched {what} need an HTTP provider")
        answers: list[dict[str, Any]] = []
        for at in range(0, len(calls), RPC_BATCH):
            chunk = [(RPCEndpoint(method), params) for method, params in calls[at : at + RPC_BATCH]]
            with self.rpc_errors():
                answered = provider.make_batch_request(chunk)
            if not isinstance(answered, list):
                raise ChainError(f"the node refused a batch of {what}: {answered}")
            answers.extend(dict(answer) for answer in answered)
        return answers

    def block_number(self) -> int:
        with self.rpc_errors():
            return self.w3.eth.block_number

    def latest_timestamp(self) -> int:
        """The latest block's timestamp: the chain's "now", which contracts compare against."""
        with self.rpc_errors():
            return int(self.w3.eth.get_block("latest")["timestamp"])

    def next_block_time(self) -> int:
        """The earliest stamp the next block can have: the time a transaction sent now is
        judged at (an idle chain's latest block can be minutes old)."""
        return max(self.latest_timestamp() + 1, int(time.time()))

    def transact(
        self,
        signer: LocalAccount,
        function: ContractFunction | None = None,
        **fields: Unpack[TransactionFields],
    ) -> TxReceipt:
        """Simulate, sign, send and wait; raise the contract's own error if it would revert."""
        tx_hash = self.send(signer, function, **fields)
        try:
            return self.wait(tx_hash)
        except ReceiptTimeoutError:
            # Perhaps dropped: the counted nonce may now be ahead of the node's, so re-read it.
            self._forget_nonce(signer.address)
            raise

    def send(
        self,
        signer: LocalAccount,
        function: ContractFunction | None = None,
        *,
        to: str | None = None,
        value: int = 0,
        data: bytes = b"",
        gas: int | None = None,
    ) -> HexBytes:
        """Simulate, sign and send (without waiting); the hash of the sent transaction."""
        tx: TxParams = {"from": signer.address, "value": value}  # type: ignore[typeddict-item]
        if function is not None:
            tx["to"] = function.address
            tx["data"] = HexBytes(function._encode_transaction_data())
        else:
            if to is not None:
                tx["to"] = Web3.to_checksum_address(to)
            tx["data"] = HexBytes(data)
        self.chain_id  # noqa: B018 - verify the network before anything is signed
        if gas is None and "to" in tx and self.free_gas:
            gas = FREE_GAS_CALL_LIMIT
        if gas is None:
            # eth_estimateGas executes the call too, so it doubles as the dry run.
            with self.rpc_errors():
                tx["gas"] = self.w3.eth.estimate_gas(tx) * (100 + GAS_MARGIN_PERCENT) // 100
        else:
            tx["gas"] = gas
            self.dry_run(tx)
        return self._sign_and_send(signer, tx)

    def dry_run(self, tx: TxParams) -> None:
        """Execute ``tx`` without sending it; a revert raises here, with its reason.

        It runs at "pending", in the next block's context, as eth_estimateGas does, so a
        deadline or a voting window is judged by the time the transaction will see.
        """
        with self.rpc_errors():
            self.w3.eth.call(tx, "pending")

    @cached_property
    def free_gas(self) -> bool:
        """Whether the chain charges nothing for gas (asked once per Chain)."""
        with self.rpc_errors():
            return int(self.w3.eth.gas_price) == 0

    def _sign_and_send(self, signer: LocalAccount, tx: TxParams) -> HexBytes:
        tip, base_fee = Wei(0), 0
        if not self.free_gas:
            with self.rpc_errors():
                tip = self.w3.eth.max_priority_fee
                base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
        tx.update(
            {
                "chainId": self.chain_id,
                "maxPriorityFeePerGas": tip,
                "maxFeePerGas": Wei(2 * base_fee + tip),
            }
        )
        for attempt in range(2):
            tx["nonce"] = Nonce(self._next_nonce(signer.address, resync=attempt > 0))
            raw = signer.sign_transaction(dict(tx)).raw_transaction  # type: ignore[arg-type]
            try:
                with self.rpc_errors():
                    tx_hash = HexBytes(self.w3.eth.send_raw_transaction(raw))
                self._keep(tx_hash, bytes(raw))
                return tx_hash
            except Web3RPCError as exc:
                message = str(exc.message or exc)
                taken = any(refusal in message.lower() for refusal in _NONCE_TAKEN)
                if taken and attempt == 0:
                    # Someone else sent for this account, perhaps these very bytes (the same
                    # call at the same nonce): that transaction is theirs, so re-read the nonce.
                    continue
                self._forget_nonce(signer.address)
                raise TransactionRefusedError(
                    f"the node refused the transaction: {message}"
                ) from exc
        raise AssertionError("unreachable")

    def send_raw(self, raw: bytes) -> HexBytes:
        """Relay a transaction someone else signed (the API's non-custodial path)."""
        try:
            with self.rpc_errors():
                tx_hash = HexBytes(self.w3.eth.send_raw_transaction(raw))
        except Web3RPCError as exc:
            raise TransactionRefusedError(
                f"the node refused the transaction: {exc.message}"
            ) from exc
        self._keep(tx_hash, raw)
        return tx_hash

    def _keep(self, tx_hash: HexBytes, raw: bytes) -> None:
        with self._in_flight_lock:
            self._in_flight[bytes(tx_hash)] = raw
            if len(self._in_flight) > IN_FLIGHT_LIMIT:
                self._in_flight.popitem(last=False)

    def _mined(self, tx_hash: HexBytes) -> None:
        with self._in_flight_lock:
            self._in_flight.pop(bytes(tx_hash), None)

    def in_flight(self, tx_hash: HexBytes) -> bool:
        """Whether this Chain holds the signed bytes of ``tx_hash`` (sent, not yet seen mined)."""
        with self._in_flight_lock:
            return bytes(tx_hash) in self._in_flight

    def resend_if_forgotten(self, tx_hash: HexBytes) -> bool:
        """Send the kept bytes of ``tx_hash`` again if the node does not know it (its pool was
        lost in a crash); returns whether it resent. A transaction whose nonce another one took
        meanwhile can never be mined: that raises :class:`TransactionFailedError`."""
        with self._in_flight_lock:
            raw = self._in_flight.get(bytes(tx_hash))
        if raw is None:
            return False
        if self.knows(tx_hash):
            return False
        try:
            with self.rpc_errors():
                self.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            message = str(exc.message or exc).lower()
            if any(known in message for known in _ALREADY_KNOWN):
                return False
            self._mined(tx_hash)
            if "nonce too low" in message:
                raise TransactionFailedError(
                    f"transaction {tx_hash.to_0x_hex()} was dropped by the node and its nonce "
                    "was used by another transaction: it will never be mined"
                ) from exc
            raise TransactionRefusedError(
                f"the node refused to take transaction {tx_hash.to_0x_hex()} back: {message}"
            ) from exc
        log.info("transaction_resent", tx_hash=tx_hash.to_0x_hex())
        return True

    def knows(self, tx_hash: HexBytes) -> bool:
        """Whether the node has the transaction, pending or mined."""
        from web3.exceptions import TransactionNotFound

        try:
            with self.rpc_errors():
                self.w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            return False
        return True

    def wait(self, tx_hash: HexBytes) -> TxReceipt:
        """The receipt, or the reason the transaction failed."""
        receipt = self.settled(tx_hash, self._receipt_timeout)
        if receipt is None:
            raise ReceiptTimeoutError(
                f"no receipt for {tx_hash.to_0x_hex()} after {self._receipt_timeout:.0f} s"
            )
        return receipt

    def settled(self, tx_hash: HexBytes, timeout: float) -> TxReceipt | None:
        """The receipt once mined, ``None`` while still pending after ``timeout`` seconds;
        a transaction mined as failed raises its reason.

        While it waits, it resends the kept bytes if the node forgot the transaction, and it
        rides out a node that is restarting (an unreachable node raises only when the wait is
        over, or at once if it was unreachable from the start)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                with self.rpc_errors():
                    receipt = self._receipts.wait(
                        bytes(tx_hash), max(0.0, min(remaining, RESEND_CHECK))
                    )
                if receipt is not None:
                    self._mined(tx_hash)
                    return self.succeeded(receipt)
                self.resend_if_forgotten(tx_hash)
                if remaining <= RESEND_CHECK:
                    return None
            except ChainUnavailableError:
                if not self._reached or deadline - time.monotonic() <= 0:
                    raise
                time.sleep(min(RESEND_CHECK, max(0.0, deadline - time.monotonic())))

    def succeeded(self, receipt: TxReceipt) -> TxReceipt:
        """``receipt`` if its transaction succeeded; a failed one raises its reason."""
        if receipt["status"] != 1:
            raise self._failure(receipt)
        return receipt

    def _failure(self, receipt: TxReceipt) -> Exception:
        """Replay a failed transaction to recover the revert reason: on the state before its
        block, then on the state after it. The second look explains a transaction that an
        earlier one of the same block made fail (two payments of one invoice, or of one
        balance), which passes on the state before."""
        with self.rpc_errors():
            tx = self.w3.eth.get_transaction(receipt["transactionHash"])
        replay: TxParams = {
            "from": tx["from"],
            "to": tx["to"],
            "data": tx["input"],
            "value": tx["value"],
        }
        for block in (receipt["blockNumber"] - 1, receipt["blockNumber"]):
            try:
                with self.rpc_errors():
                    self.w3.eth.call(replay, block)
            except Exception as exc:  # the replay's revert is the best explanation we have
                return exc
        return TransactionFailedError(
            f"transaction {receipt['transactionHash'].to_0x_hex()} failed (status 0)"
        )

    def _next_nonce(self, address: ChecksumAddress, *, resync: bool = False) -> int:
        """The signer's next nonce: read from the node once, then counted here.

        This Chain is the account's only sender in the normal case, so asking the node before
        every transaction only costs a round trip; when something else did send for it, the
        node answers "nonce too low" and :meth:`_sign_and_send` re-reads it (``resync``).
        """
        with self._nonce_lock:
            known = None if resync else self._nonces.get(address)
            if known is None:
                with self.rpc_errors():
                    known = self.w3.eth.get_transaction_count(address, "pending")
            self._nonces[address] = known + 1
            return known

    def _forget_nonce(self, address: ChecksumAddress) -> None:
        with self._nonce_lock:
            self._nonces.pop(address, None)

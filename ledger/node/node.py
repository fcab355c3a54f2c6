"""The node: one chain in one data directory, its pool, sealer and allowlist, and the reads
that JSON-RPC serves.

Threads: the sealer thread is the only writer. RPC reads run on other threads without a lock:
each read pins the committed head header first and reads state by that header's root, and trie
nodes are never rewritten, so a block being sealed cannot change what a read sees. Reads never
look past the committed head, so nothing is served that a crash could take back.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, BlockHeaderAPI, ComputationAPI, ReceiptAPI, SignedTransactionAPI
from eth.chains.base import Chain
from eth.db.account import AccountDB
from eth.exceptions import BlockNotFound, HeaderNotFound, TransactionNotFound
from eth.vm.forks.london.constants import ELASTICITY_MULTIPLIER
from eth.vm.spoof import SpoofTransaction
from eth_keys.exceptions import BadSignature
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import ValidationError, encode_hex, to_canonical_address

from ledger.node.config import GenesisConfig, NodeOptions
from ledger.node.errors import (
    ExecutionFailed,
    QueryLimitExceeded,
    RejectReason,
    TransactionRejected,
    describe,
)
from ledger.node.genesis import META_HEAD, open_chain
from ledger.node.permissioning import AccountAllowlist
from ledger.node.ratelimit import SenderRateLimiter
from ledger.node.rlp_shape import check_rlp_shape
from ledger.node.sealer import SealedBlock, Sealer, build_block
from ledger.node.store import LevelStore
from ledger.node.txpool import AccountView, PooledTx, TxPool
from ledger.node.vm import calldata_floor_gas, minimum_gas

log = structlog.get_logger("cityledger.node")

_BLOB_TX_TYPE = 3
_SHORT_LIST_PREFIX = 0xC0
"""EIP-2718: a first byte below this is a transaction type; from it on, a legacy RLP list."""
_CONTEXT_CACHE_BLOCKS = 256
_DROPPED_MEMORY = 10_000


@dataclass(frozen=True, slots=True)
class CallMessage:
    """The fields of an ``eth_call`` / ``eth_estimateGas`` request, already decoded."""

    sender: Address
    to: Address | None
    gas: int | None
    value: int
    data: bytes


@dataclass(frozen=True, slots=True)
class LogFilter:
    """``eth_getLogs`` filter: topics[i] is ``None`` (any) or a set of accepted values."""

    from_block: int
    to_block: int
    addresses: frozenset[bytes]
    topics: tuple[frozenset[bytes] | None, ...]
    block_hash: Hash32 | None = None


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a mined transaction sits, with what a receipt needs from its neighbours."""

    header: BlockHeaderAPI
    index: int
    tx: SignedTransactionAPI
    sender: Address
    receipt: ReceiptAPI
    gas_used: int
    first_log_index: int
    contract_address: Address | None


@dataclass(frozen=True, slots=True)
class BlockContext:
    """A block's transactions and receipts, decoded once and cached (receipt polling is hot)."""

    header: BlockHeaderAPI
    block: BlockAPI
    receipts: tuple[ReceiptAPI, ...]
    senders: tuple[Address, ...]
    log_offsets: tuple[int, ...]
    """Block-wide index of each transaction's first log."""

    def locate(self, index: int) -> TxLocation:
        tx = self.block.transactions[index]
        receipt = self.receipts[index]
        previous = self.receipts[index - 1].gas_used if index else 0
        sender = self.senders[index]
        created = Address(generate_contract_address(sender, tx.nonce)) if not tx.to else None
        return TxLocation(
            self.header,
            index,
            tx,
            sender,
            receipt,
            receipt.gas_used - previous,
            self.log_offsets[index],
            created,
        )


@dataclass(frozen=True, slots=True)
class MatchedLog:
    header: BlockHeaderAPI
    tx_hash: Hash32
    tx_index: int
    log_index: int
    address: bytes
    topics: tuple[int, ...]
    data: bytes


class Node:
    """The embedded chain node. Build with :meth:`open`; call :meth:`start` to seal blocks."""

    def __init__(
        self,
        genesis: GenesisConfig,
        options: NodeOptions,
        store: LevelStore,
        chain: Chain,
        head: BlockHeaderAPI,
        allowlist: AccountAllowlist,
    ) -> None:
        self.genesis = genesis
        self.options = options
        self.chain_id = genesis.config.chain_id
        self.allowlist = allowlist
        self._store = store
        self._chain = chain
        self._head = head
        self._head_accounts = AccountDB(chain.chaindb.db, head.state_root)
        self._pool = TxPool(max_size=options.max_pool_size, max_nonce_gap=options.max_nonce_gap)
        self._sender_rate = SenderRateLimiter(
            rate=options.sender_bytes_per_second, burst=options.sender_burst_bytes
        )
        self._contexts: OrderedDict[Hash32, BlockContext] = OrderedDict()
        self._contexts_lock = threading.Lock()
        self._dropped: OrderedDict[Hash32, str] = OrderedDict()
        self._sealer: Sealer | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        genesis: GenesisConfig,
        options: NodeOptions,
        report: Callable[[int, int], None] | None = None,
    ) -> Node:
        """Open (or create) the chain in ``options.data_dir``; raises NodeError if unusable.
        ``report(accounts_done, accounts)`` hears how far a new chain's genesis state is built
        (minutes for a city's 400,000 accounts)."""
        data_dir = options.data_dir
        store = LevelStore(data_dir / "chain", sync=options.fsync)
        try:
            chain, head = open_chain(store, genesis, report)
            allowlist = AccountAllowlist.open(data_dir, genesis.allowlist)
        except BaseException:
            store.close()
            raise
        log.info(
            "chain_opened",
            data_dir=str(data_dir),
            chain_id=genesis.config.chain_id,
            head=head.block_number,
            head_hash=encode_hex(head.hash),
        )
        return cls(genesis, options, store, chain, head, allowlist)

    def start(self, on_failure: Callable[[BaseException], None] | None = None) -> None:
        """Start sealing. The node is crash-only: if a block cannot be written, admission stops
        at once and ``on_failure`` is told, so that the process can exit and its supervisor
        restart it on a store that reopens cleanly (LevelDB keeps refusing writes after a
        failed sync, and retrying in place could append past a half-written record). What
        was pooled but not sealed is gone then, as after kill -9: clients resend it."""
        self._sealer = Sealer(
            wait_for_change=self._pool.wait_for_change,
            seal_once=self.seal_once,
            block_period=self.options.block_period,
            on_failure=on_failure,
        )
        self._sealer.start()

    def close(self) -> None:
        """Seal what is executable, stop the sealer and close the store (idempotent)."""
        if self._closed:
            return
        if self._sealer is not None:
            self._sealer.stop()
            self._sealer.join()
        self._closed = True
        self._store.close()
        log.info("node_stopped", head=self._head.block_number)

    @property
    def healthy(self) -> bool:
        return self.failure is None

    @property
    def failure(self) -> BaseException | None:
        """Why the sealer stopped, if it did (then the node only serves reads until it exits)."""
        return None if self._sealer is None else self._sealer.failure

    # -- writing -------------------------------------------------------------------------------

    def submit_raw_transaction(self, raw: bytes) -> Hash32:
        """Decode, check and pool a signed transaction; raises TransactionRejected.

        The cheap refusals come first: size before decoding, the allowlist before the pool.
        """
        if (failure := self.failure) is not None:
            raise TransactionRejected(
                RejectReason.NODE_STOPPING,
                f"node is stopping: it could not write a block ({describe(failure)}); "
                "send the transaction again once it has restarted",
            )
        if len(raw) > self.options.max_tx_size:
            raise TransactionRejected(
                RejectReason.OVERSIZED,
                f"oversized data: transaction of {len(raw)} bytes exceeds the limit of "
                f"{self.options.max_tx_size}",
            )
        tx = self._decode_transaction(raw)
        sender = self._recover_sender(tx)
        if not sender_allowed(self.allowlist, sender):
            raise TransactionRejected(
                RejectReason.SENDER_NOT_AUTHORIZED,
                f"sender account {encode_hex(sender)} is not authorized to send transactions",
            )
        gas_target = self._head.gas_limit // ELASTICITY_MULTIPLIER
        if tx.gas > gas_target:
            raise TransactionRejected(
                RejectReason.EXCEEDS_BLOCK_GAS_LIMIT,
                f"exceeds block gas limit: tx gas {tx.gas}, limit {gas_target}",
            )
        if tx.gas < (needed := minimum_gas(tx)):
            raise TransactionRejected(
                RejectReason.INTRINSIC_GAS_TOO_LOW,
                f"intrinsic gas too low: have {tx.gas}, want {needed} "
                "(intrinsic gas or the EIP-7623 calldata floor)",
            )
        with self._pool.lock:
            if self._is_mined(Hash32(tx.hash)):
                raise TransactionRejected(RejectReason.ALREADY_KNOWN, "already known")
            wait = self._sender_rate.wait_needed(sender, len(raw))
            if wait:
                raise TransactionRejected(
                    RejectReason.SENDER_RATE_LIMITED,
                    f"sender rate limit: {encode_hex(sender)} may add "
                    f"{self._sender_rate.rate} bytes a second (burst "
                    f"{self._sender_rate.burst}); this {len(raw)}-byte transaction fits in "
                    f"{wait:.2f} s",
                )
            account = AccountView(
                nonce=self._head_accounts.get_nonce(sender),
                balance=self._head_accounts.get_balance(sender),
            )
            pooled = self._pool.add(tx, sender, account)
            self._sender_rate.charge(sender, len(raw))
        return pooled.hash

    def _decode_transaction(self, raw: bytes) -> SignedTransactionAPI:
        if not raw:
            raise TransactionRejected(RejectReason.INVALID_ENCODING, "empty transaction")
        if raw[0] == _BLOB_TX_TYPE:
            raise TransactionRejected(
                RejectReason.UNSUPPORTED_TYPE, "blob transactions are not supported on this chain"
            )
        builder = self._chain.get_vm_class_for_block_number(
            BlockNumber(self._head.block_number + 1)
        )
        try:
            # Typed transactions are a type byte, then one RLP list; legacy ones a list.
            check_rlp_shape(raw[1:] if raw[0] < _SHORT_LIST_PREFIX else raw)
            tx = builder.get_transaction_builder().decode(raw)
        except Exception as exc:  # whatever decoding untrusted bytes raises, the bytes are bad
            raise TransactionRejected(
                RejectReason.INVALID_ENCODING, f"invalid transaction encoding: {exc}"
            ) from exc
        return tx

    def _recover_sender(self, tx: SignedTransactionAPI) -> Address:
        chain_id = getattr(tx, "chain_id", None)
        if chain_id is None:
            raise TransactionRejected(
                RejectReason.UNPROTECTED,
                "unprotected transactions (without EIP-155 chain id) are not accepted",
            )
        if chain_id != self.chain_id:
            raise TransactionRejected(
                RejectReason.WRONG_CHAIN,
                f"invalid chain id: transaction is for chain {chain_id}, this is {self.chain_id}",
            )
        try:
            tx.validate()  # field ranges, including the signature's (low s, v parity)
            # One recovery: py-evm caches ``sender`` on the object, which the sealer reuses.
            return Address(tx.sender)
        except (ValidationError, ValueError, BadSignature) as exc:
            raise TransactionRejected(
                RejectReason.INVALID_SIGNATURE, f"invalid transaction signature: {exc}"
            ) from exc

    def seal_once(self) -> int:
        """Seal one block from the pool; return how many transactions were taken (0 = idle).

        Runs on the sealer thread (tests may call it directly on a node they did not start).
        """
        parent = self._head
        ahead = parent.timestamp + 1 - time.time() - self.options.max_clock_drift
        if ahead > 0:
            # Block stamps must grow by a second each; under a burst of small blocks the
            # chain's clock would run ahead of the wall clock. Wait instead (the batch grows).
            time.sleep(ahead)
        with self._pool.lock:
            nonces = {s: self._head_accounts.get_nonce(s) for s in self._pool.senders()}
        batch = self._pool.take_batch(self.options.max_batch_size, nonces)
        if not batch:
            return 0
        timestamp = max(int(time.time()), parent.timestamp + 1)
        try:
            sealed = build_block(
                self._chain,
                parent,
                batch,
                timestamp=timestamp,
                coinbase=to_canonical_address(self.genesis.coinbase),
            )
            if sealed.block is not None:
                self._store[META_HEAD] = sealed.block.hash
            self._store.commit()
        except BaseException:
            self._store.discard()
            self._pool.release(p.hash for p in batch)
            raise
        self._adopt(sealed)
        return len(batch)

    def _adopt(self, sealed: SealedBlock) -> None:
        """Make a committed block the head and settle its batch in the pool."""
        if sealed.block is not None:
            # Receipts are polled right after sealing: serve them from what we just built
            # instead of decoding the block again and recovering every sender.
            self._cache_context(
                _context(
                    sealed.block,
                    sealed.receipts,
                    tuple(p.sender for p in sealed.included),
                )
            )
        with self._pool.lock:
            if sealed.block is not None:
                self._head = sealed.block.header
                self._head_accounts = AccountDB(self._chain.chaindb.db, self._head.state_root)
            self._pool.remove(p.hash for p in sealed.included)
            self._pool.remove(p.hash for p, _ in sealed.dropped)
            self._pool.release(p.hash for p in sealed.deferred)
            for pooled, _ in sealed.dropped:
                self._pool.remove(
                    self._pool.stale(pooled.sender, self._head_accounts.get_nonce(pooled.sender))
                )
        for pooled, reason in sealed.dropped:
            self._dropped[pooled.hash] = reason
            log.warning("transaction_dropped", tx=encode_hex(pooled.hash), reason=reason)
        while len(self._dropped) > _DROPPED_MEMORY:
            self._dropped.popitem(last=False)
        if sealed.block is not None:
            log.debug(
                "block_sealed",
                number=sealed.block.number,
                txs=len(sealed.included),
                gas_used=sealed.block.header.gas_used,
            )

    # -- reading: heads, blocks, accounts -----------------------------------------------------

    @property
    def head(self) -> BlockHeaderAPI:
        return self._head

    def header_by_number(self, number: int) -> BlockHeaderAPI | None:
        head = self._head
        if number < 0 or number > head.block_number:
            return None
        if number == head.block_number:
            return head
        return self._chain.chaindb.get_canonical_block_header_by_number(number)  # type: ignore[arg-type]

    def header_by_hash(self, block_hash: Hash32) -> BlockHeaderAPI | None:
        try:
            header = self._chain.chaindb.get_block_header_by_hash(block_hash)
        except HeaderNotFound:
            return None
        found = self.header_by_number(header.block_number)
        return header if found is not None and found.hash == header.hash else None

    def block_context(self, header: BlockHeaderAPI) -> BlockContext:
        with self._contexts_lock:
            cached = self._contexts.get(header.hash)
            if cached is not None:
                self._contexts.move_to_end(header.hash)
                return cached
        block = self._chain.get_block_by_header(header)
        receipts = block.get_receipts(self._chain.chaindb)
        senders = tuple(Address(tx.sender) for tx in block.transactions)
        context = _context(block, receipts, senders)
        self._cache_context(context)
        return context

    def _cache_context(self, context: BlockContext) -> None:
        with self._contexts_lock:
            self._contexts[context.header.hash] = context
            while len(self._contexts) > _CONTEXT_CACHE_BLOCKS:
                self._contexts.popitem(last=False)

    def accounts_at(self, header: BlockHeaderAPI) -> AccountDB:
        return AccountDB(self._chain.chaindb.db, header.state_root)

    def pending_nonce(self, address: Address) -> int:
        with self._pool.lock:
            return self._pool.next_nonce(address, self._head_accounts.get_nonce(address))

    # -- reading: transactions ----------------------------------------------------------------

    def _is_mined(self, tx_hash: Hash32) -> bool:
        return self.locate_transaction(tx_hash) is not None

    def locate_transaction(self, tx_hash: Hash32) -> TxLocation | None:
        try:
            number, index = self._chain.chaindb.get_transaction_index(tx_hash)
        except (TransactionNotFound, KeyError):
            return None
        header = self.header_by_number(number)
        if header is None:
            return None
        context = self.block_context(header)
        if index >= len(context.block.transactions):
            return None
        if context.block.transactions[index].hash != tx_hash:
            return None
        return context.locate(index)

    def pending_transaction(self, tx_hash: Hash32) -> PooledTx | None:
        return self._pool.get(tx_hash)

    def pending_transactions(self) -> list[PooledTx]:
        return self._pool.pending()

    def dropped_reason(self, tx_hash: Hash32) -> str | None:
        return self._dropped.get(tx_hash)

    # -- reading: execution -------------------------------------------------------------------

    def call(self, message: CallMessage, header: BlockHeaderAPI) -> bytes:
        """Execute without committing (``eth_call``); raises ExecutionFailed on failure."""
        gas = min(message.gas or self.options.rpc_gas_cap, self.options.rpc_gas_cap)
        computation = self._execute(message, header, gas)
        _raise_if_failed(computation)
        return bytes(computation.output)

    def estimate_gas(self, message: CallMessage, header: BlockHeaderAPI) -> int:
        """The least gas with which ``message`` succeeds, within 1.5% (as geth does).

        It runs in the context of a block on top of ``header`` (next number, current time), as
        the transaction will: code that stores ``block.timestamp`` costs more when the stamp
        is not zero, so estimating on a genesis stamped 0 would come out short.
        """
        header = self.pending_header(header)
        cap = min(message.gas or self.options.rpc_gas_cap, self.options.rpc_gas_cap)
        computation = self._execute(message, header, cap)
        _raise_if_failed(computation)
        consumed = cap - computation.get_gas_remaining()
        low, high = consumed - 1, cap
        optimistic = min(high, (consumed + computation.get_gas_refund() + 2_300) * 64 // 63)
        if self._succeeds(message, header, optimistic):
            high = optimistic
        else:
            low = optimistic
        while high - low > 1 and (high - low) * 1000 > high * 15:
            middle = (low + high) // 2
            if self._succeeds(message, header, middle):
                high = middle
            else:
                low = middle
        return max(high, calldata_floor_gas(message.data))

    def pending_header(self, parent: BlockHeaderAPI) -> BlockHeaderAPI:
        """The header of a block on top of ``parent`` sealed now (``pending`` calls and gas
        estimates run in it, so time-dependent code sees the time the transaction will)."""
        return self._chain.create_header_from_parent(
            parent,
            timestamp=max(int(time.time()), parent.timestamp + 1),
            gas_limit=parent.gas_limit,
            coinbase=to_canonical_address(self.genesis.coinbase),
        )

    def _succeeds(self, message: CallMessage, header: BlockHeaderAPI, gas: int) -> bool:
        try:
            return not self._execute(message, header, gas).is_error
        except ExecutionFailed:
            return False

    def _execute(self, message: CallMessage, header: BlockHeaderAPI, gas: int) -> ComputationAPI:
        vm = self._chain.get_vm(header)
        state = vm.state
        unsigned = vm.create_unsigned_transaction(
            nonce=state.get_nonce(message.sender),
            gas_price=0,
            gas=gas,
            to=message.to or b"",  # type: ignore[arg-type]
            value=message.value,
            data=message.data,
        )
        spoofed = SpoofTransaction(unsigned, from_=message.sender)
        if spoofed.intrinsic_gas > gas:
            raise ExecutionFailed(
                f"intrinsic gas too low: have {gas}, want {spoofed.intrinsic_gas}"
            )
        snapshot = state.snapshot()
        try:
            return state.apply_transaction(spoofed)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise ExecutionFailed(str(exc)) from exc
        finally:
            state.revert(snapshot)

    # -- reading: logs ------------------------------------------------------------------------

    def logs(self, query: LogFilter) -> list[MatchedLog]:
        matched: list[MatchedLog] = []
        for header in self._headers_for(query):
            if not _bloom_may_match(header, query):
                continue
            context = self.block_context(header)
            for tx_index, receipt in enumerate(context.receipts):
                tx_hash = Hash32(context.block.transactions[tx_index].hash)
                for offset, entry in enumerate(receipt.logs):
                    if _log_matches(entry.address, entry.topics, query):
                        matched.append(
                            MatchedLog(
                                header,
                                tx_hash,
                                tx_index,
                                context.log_offsets[tx_index] + offset,
                                entry.address,
                                tuple(entry.topics),
                                entry.data,
                            )
                        )
                        if len(matched) > self.options.max_log_results:
                            raise QueryLimitExceeded(
                                f"query returned more than {self.options.max_log_results} "
                                "results; narrow the block range or the filter"
                            )
        return matched

    def _headers_for(self, query: LogFilter) -> Iterator[BlockHeaderAPI]:
        if query.block_hash is not None:
            header = self.header_by_hash(query.block_hash)
            if header is None:
                raise BlockNotFound(f"unknown block {encode_hex(query.block_hash)}")
            yield header
            return
        span = query.to_block - query.from_block + 1
        if span > self.options.max_log_block_range:
            raise QueryLimitExceeded(
                f"block range of {span} exceeds the limit of {self.options.max_log_block_range}"
            )
        for number in range(query.from_block, query.to_block + 1):
            header = self.header_by_number(number)
            if header is None:
                return
            yield header


def _context(
    block: BlockAPI, receipts: Sequence[ReceiptAPI], senders: tuple[Address, ...]
) -> BlockContext:
    offsets, running = [], 0
    for receipt in receipts:
        offsets.append(running)
        running += len(receipt.logs)
    return BlockContext(block.header, block, tuple(receipts), senders, tuple(offsets))


def sender_allowed(allowlist: AccountAllowlist, sender: Address) -> bool:
    return encode_hex(sender) in allowlist


def _raise_if_failed(computation: ComputationAPI) -> None:
    if not computation.is_error:
        return
    error = computation.error
    output = bytes(computation.output)
    if output or type(error).__name__ == "Revert":
        raise ExecutionFailed("execution reverted", output)
    raise ExecutionFailed(f"execution failed: {error}")


def _bloom_may_match(header: BlockHeaderAPI, query: LogFilter) -> bool:
    from eth_bloom import BloomFilter

    bloom = BloomFilter(header.bloom)
    if query.addresses and not any(a in bloom for a in query.addresses):
        return False
    return all(
        accepted is None or any(value in bloom for value in accepted) for accepted in query.topics
    )


def _log_matches(address: bytes, topics: Sequence[int], query: LogFilter) -> bool:
    if query.addresses and address not in query.addresses:
        return False
    if len(query.topics) > len(topics):
        return False
    return all(
        accepted is None or topic.to_bytes(32, "big") in accepted
        for accepted, topic in zip(query.topics, topics, strict=False)
    )


def data_dir_exists(path: Path) -> bool:
    return (path / "chain" / "CURRENT").exists()

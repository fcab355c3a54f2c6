"""The JSON-RPC methods, one class per namespace (as trinity's ``rpc/modules``).

A method is a plain function of decoded JSON params returning JSON. ``@rpc`` names it and says
whether it may run long (then the server runs it on a worker thread), whether it executes EVM
code (then it runs under a time budget) and whether it needs the admin token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eth.abc import BlockHeaderAPI
from eth.exceptions import BlockNotFound
from eth_typing import Address
from eth_utils import keccak

from ledger.node.errors import (
    ExecutionFailed,
    ExecutionTimeout,
    QueryLimitExceeded,
    TransactionRejected,
)
from ledger.node.node import CallMessage, LogFilter, Node
from ledger.node.rpc import codes
from ledger.node.rpc import format as fmt
from ledger.node.rpc import params as p
from ledger.node.rpc.errors import InvalidParams, RpcError, rejection

CLIENT_VERSION = "CityLedger/embedded-py-evm/0.1.0"
_ZERO_ADDRESS = Address(b"\x00" * 20)
_MAX_FEE_HISTORY = 1024

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class MethodInfo:
    name: str
    blocking: bool
    admin: bool
    executes: bool


def rpc(
    name: str, *, blocking: bool = False, admin: bool = False, executes: bool = False
) -> Callable[[F], F]:
    """Mark a module method as the JSON-RPC method ``name`` (``executes`` implies blocking)."""

    def mark(function: F) -> F:
        info = MethodInfo(name, blocking or executes, admin, executes)
        function.__rpc__ = info  # type: ignore[attr-defined]
        return function

    return mark


class Module:
    def __init__(self, node: Node) -> None:
        self.node = node

    def _header(self, ref: p.BlockRef) -> BlockHeaderAPI:
        """The header a state query runs at; an unknown block is an error, not null."""
        header = self._maybe_header(ref)
        if header is None:
            raise RpcError(codes.RESOURCE_NOT_FOUND, "header not found")
        return header

    def _maybe_header(self, ref: p.BlockRef) -> BlockHeaderAPI | None:
        if ref.hash is not None:
            return self.node.header_by_hash(ref.hash)
        if ref.number is not None:
            return self.node.header_by_number(ref.number)
        if ref.tag == "earliest":
            return self.node.header_by_number(0)
        return self.node.head


class Web3Module(Module):
    @rpc("web3_clientVersion")
    def client_version(self) -> str:
        return CLIENT_VERSION

    @rpc("web3_sha3")
    def sha3(self, value: Any) -> str:
        return fmt.hex_bytes(keccak(p.data(value)))


class NetModule(Module):
    @rpc("net_version")
    def version(self) -> str:
        return str(self.node.chain_id)

    @rpc("net_listening")
    def listening(self) -> bool:
        return True

    @rpc("net_peerCount")
    def peer_count(self) -> str:
        return "0x0"


class EthModule(Module):
    @rpc("eth_chainId")
    def chain_id(self) -> str:
        return fmt.hex_int(self.node.chain_id)

    @rpc("eth_blockNumber")
    def block_number(self) -> str:
        return fmt.hex_int(self.node.head.block_number)

    @rpc("eth_syncing")
    def syncing(self) -> bool:
        return False

    @rpc("eth_mining")
    def mining(self) -> bool:
        return True

    @rpc("eth_hashrate")
    def hashrate(self) -> str:
        return "0x0"

    @rpc("eth_coinbase")
    def coinbase(self) -> str:
        return fmt.checksum(self.node.head.coinbase)

    @rpc("eth_accounts")
    def accounts(self) -> list[str]:
        """The node holds no keys: clients sign locally."""
        return []

    @rpc("eth_protocolVersion")
    def protocol_version(self) -> str:
        return "0x44"

    @rpc("eth_gasPrice")
    def gas_price(self) -> str:
        return fmt.hex_int(fmt.base_fee(self.node.head))

    @rpc("eth_maxPriorityFeePerGas")
    def max_priority_fee(self) -> str:
        return "0x0"

    @rpc("eth_blobBaseFee")
    def blob_base_fee(self) -> str:
        return "0x1"

    @rpc("eth_feeHistory")
    def fee_history(self, block_count: Any, newest: Any, percentiles: Any = None) -> dict[str, Any]:
        if isinstance(block_count, int) and not isinstance(block_count, bool):
            count = block_count  # some clients send a JSON number here
        else:
            count = p.quantity(block_count, "blockCount")
        if count < 0:
            raise InvalidParams("blockCount: must not be negative")
        newest_header = self._header(p.block_ref(newest, "newestBlock"))
        rewards = [] if percentiles is None else _percentiles(percentiles)
        count = min(count, _MAX_FEE_HISTORY, newest_header.block_number + 1)
        oldest = newest_header.block_number - count + 1
        headers = [self.node.header_by_number(n) for n in range(oldest, oldest + count)]
        result: dict[str, Any] = {
            "oldestBlock": fmt.hex_int(oldest),
            "baseFeePerGas": [fmt.hex_int(fmt.base_fee(h)) for h in headers if h] + ["0x0"],
            "gasUsedRatio": [h.gas_used / h.gas_limit for h in headers if h],
            "baseFeePerBlobGas": ["0x1"] * (count + 1),
            "blobGasUsedRatio": [0.0] * count,
        }
        if percentiles is not None:
            result["reward"] = [["0x0"] * len(rewards) for _ in range(count)]
        return result

    @rpc("eth_getBalance")
    def get_balance(self, account: Any, block: Any = None) -> str:
        header = self._header(p.block_ref(block))
        return fmt.hex_int(self.node.accounts_at(header).get_balance(p.address(account)))

    @rpc("eth_getTransactionCount")
    def get_transaction_count(self, account: Any, block: Any = None) -> str:
        address = p.address(account)
        ref = p.block_ref(block)
        if ref.tag == "pending":
            return fmt.hex_int(self.node.pending_nonce(address))
        return fmt.hex_int(self.node.accounts_at(self._header(ref)).get_nonce(address))

    @rpc("eth_getCode")
    def get_code(self, account: Any, block: Any = None) -> str:
        header = self._header(p.block_ref(block))
        return fmt.hex_bytes(self.node.accounts_at(header).get_code(p.address(account)))

    @rpc("eth_getStorageAt")
    def get_storage_at(self, account: Any, slot: Any, block: Any = None) -> str:
        header = self._header(p.block_ref(block))
        value = self.node.accounts_at(header).get_storage(
            p.address(account), p.quantity(slot, "slot")
        )
        return fmt.hex_bytes(value.to_bytes(32, "big"))

    @rpc("eth_call", executes=True)
    def call(self, transaction: Any, block: Any = None, overrides: Any = None) -> str:
        if overrides is not None:
            raise InvalidParams("state overrides are not supported")
        ref = p.block_ref(block)
        header = self._header(ref)
        if ref.tag == "pending":  # as the next block would run it: its number, the current time
            header = self.node.pending_header(header)
        return fmt.hex_bytes(_execution(lambda: self.node.call(_call_message(transaction), header)))

    @rpc("eth_estimateGas", executes=True)
    def estimate_gas(self, transaction: Any, block: Any = None) -> str:
        header = self._header(p.block_ref(block))
        message = _call_message(transaction)
        return fmt.hex_int(_execution(lambda: self.node.estimate_gas(message, header)))

    @rpc("eth_sendRawTransaction")
    def send_raw_transaction(self, raw: Any) -> str:
        try:
            return fmt.hex_bytes(self.node.submit_raw_transaction(p.data(raw, "transaction")))
        except TransactionRejected as exc:
            raise rejection(exc) from exc

    @rpc("eth_sendTransaction")
    def send_transaction(self, _transaction: Any) -> str:
        raise RpcError(
            codes.METHOD_NOT_FOUND,
            "eth_sendTransaction is not available: the node holds no keys; sign the transaction "
            "and use eth_sendRawTransaction",
        )

    @rpc("eth_getTransactionByHash")
    def get_transaction_by_hash(self, tx_hash: Any) -> dict[str, Any] | None:
        wanted = p.hash32(tx_hash, "transaction hash")
        location = self.node.locate_transaction(wanted)
        if location is not None:
            return fmt.transaction_json(
                location.tx, location.sender, location.header, location.index
            )
        pooled = self.node.pending_transaction(wanted)
        return fmt.pending_json(pooled) if pooled is not None else None

    @rpc("eth_getTransactionReceipt")
    def get_transaction_receipt(self, tx_hash: Any) -> dict[str, Any] | None:
        location = self.node.locate_transaction(p.hash32(tx_hash, "transaction hash"))
        return fmt.receipt_json(location) if location is not None else None

    @rpc("eth_getBlockByNumber", blocking=True)
    def get_block_by_number(self, block: Any, full: Any = False) -> dict[str, Any] | None:
        return self._block(self._maybe_header(p.block_ref(block)), p.boolean(full, "full"))

    @rpc("eth_getBlockByHash", blocking=True)
    def get_block_by_hash(self, block_hash: Any, full: Any = False) -> dict[str, Any] | None:
        header = self.node.header_by_hash(p.hash32(block_hash, "block hash"))
        return self._block(header, p.boolean(full, "full"))

    def _block(self, header: BlockHeaderAPI | None, full: bool) -> dict[str, Any] | None:
        if header is None:
            return None
        context = self.node.block_context(header)
        return fmt.block_json(context.block, context.senders, full_transactions=full)

    @rpc("eth_getBlockReceipts", blocking=True)
    def get_block_receipts(self, block: Any) -> list[dict[str, Any]] | None:
        header = self._maybe_header(p.block_ref(block))
        if header is None:
            return None
        context = self.node.block_context(header)
        return [fmt.receipt_json(context.locate(i)) for i in range(len(context.receipts))]

    @rpc("eth_getBlockTransactionCountByNumber")
    def transaction_count_by_number(self, block: Any) -> str | None:
        header = self._maybe_header(p.block_ref(block))
        return self._transaction_count(header)

    @rpc("eth_getBlockTransactionCountByHash")
    def transaction_count_by_hash(self, block_hash: Any) -> str | None:
        return self._transaction_count(self.node.header_by_hash(p.hash32(block_hash)))

    def _transaction_count(self, header: BlockHeaderAPI | None) -> str | None:
        if header is None:
            return None
        return fmt.hex_int(len(self.node.block_context(header).block.transactions))

    @rpc("eth_getTransactionByBlockNumberAndIndex")
    def transaction_by_number_and_index(self, block: Any, index: Any) -> dict[str, Any] | None:
        return self._transaction_at(self._maybe_header(p.block_ref(block)), index)

    @rpc("eth_getTransactionByBlockHashAndIndex")
    def transaction_by_hash_and_index(self, block_hash: Any, index: Any) -> dict[str, Any] | None:
        return self._transaction_at(self.node.header_by_hash(p.hash32(block_hash)), index)

    def _transaction_at(self, header: BlockHeaderAPI | None, index: Any) -> dict[str, Any] | None:
        position = p.quantity(index, "index")
        if header is None:
            return None
        context = self.node.block_context(header)
        if position >= len(context.block.transactions):
            return None
        return fmt.transaction_json(
            context.block.transactions[position], context.senders[position], header, position
        )

    @rpc("eth_getUncleCountByBlockNumber")
    def uncle_count_by_number(self, block: Any) -> str | None:
        return "0x0" if self._maybe_header(p.block_ref(block)) is not None else None

    @rpc("eth_getUncleCountByBlockHash")
    def uncle_count_by_hash(self, block_hash: Any) -> str | None:
        return "0x0" if self.node.header_by_hash(p.hash32(block_hash)) is not None else None

    @rpc("eth_getLogs", blocking=True)
    def get_logs(self, query: Any) -> list[dict[str, Any]]:
        log_filter = self._log_filter(p.mapping(query, "filter"))
        try:
            return [fmt.log_json(entry) for entry in self.node.logs(log_filter)]
        except QueryLimitExceeded as exc:
            raise RpcError(codes.LIMIT_EXCEEDED, exc.message) from exc
        except BlockNotFound as exc:
            raise RpcError(codes.RESOURCE_NOT_FOUND, str(exc)) from exc

    def _log_filter(self, query: dict[str, Any]) -> LogFilter:
        addresses = query.get("address")
        if addresses is None:
            address_set: frozenset[bytes] = frozenset()
        elif isinstance(addresses, list):
            address_set = frozenset(p.address(a, "filter.address") for a in addresses)
        else:
            address_set = frozenset({p.address(addresses, "filter.address")})
        topics = query.get("topics") or []
        if not isinstance(topics, list) or len(topics) > 4:
            raise InvalidParams("filter.topics: expected a list of at most 4 entries")
        topic_sets = tuple(_topic_set(entry, position) for position, entry in enumerate(topics))
        if "blockHash" in query:
            if "fromBlock" in query or "toBlock" in query:
                raise InvalidParams("filter: blockHash excludes fromBlock and toBlock")
            return LogFilter(0, 0, address_set, topic_sets, p.hash32(query["blockHash"]))
        head = self.node.head.block_number
        from_block = self._filter_bound(query.get("fromBlock"), head)
        to_block = self._filter_bound(query.get("toBlock"), head)
        if from_block > to_block:
            raise InvalidParams("filter: fromBlock is after toBlock")
        return LogFilter(from_block, min(to_block, head), address_set, topic_sets)

    def _filter_bound(self, value: Any, head: int) -> int:
        ref = p.block_ref(value, "filter block")
        if ref.number is not None:
            return ref.number
        if ref.tag == "earliest":
            return 0
        if ref.hash is not None:
            raise InvalidParams("filter: use blockHash, not a hash in fromBlock/toBlock")
        return head


class TxPoolModule(Module):
    @rpc("txpool_status")
    def status(self) -> dict[str, str]:
        return {"pending": fmt.hex_int(len(self.node.pending_transactions())), "queued": "0x0"}

    @rpc("txpool_content", blocking=True)
    def content(self) -> dict[str, Any]:
        pending: dict[str, dict[str, Any]] = {}
        for pooled in self.node.pending_transactions():
            pending.setdefault(fmt.checksum(pooled.sender), {})[str(pooled.nonce)] = (
                fmt.pending_json(pooled)
            )
        return {"pending": pending, "queued": {}}


class PermModule(Module):
    """Besu's PERM API for the local accounts allowlist; needs the admin token."""

    @rpc("perm_getAccountsAllowlist", admin=True)
    def get_accounts_allowlist(self) -> list[str]:
        return list(self.node.allowlist.accounts())

    @rpc("perm_addAccountsToAllowlist", admin=True)
    def add_accounts(self, accounts: Any) -> str:
        self.node.allowlist.add(_address_list(accounts))
        return "Success"

    @rpc("perm_removeAccountsFromAllowlist", admin=True)
    def remove_accounts(self, accounts: Any) -> str:
        self.node.allowlist.remove(_address_list(accounts))
        return "Success"

    @rpc("perm_reloadPermissionsFromFile", admin=True)
    def reload(self) -> str:
        self.node.allowlist.reload()
        return "Success"


MODULES: tuple[type[Module], ...] = (Web3Module, NetModule, EthModule, TxPoolModule, PermModule)


def _address_list(accounts: Any) -> list[str]:
    if not isinstance(accounts, list) or not accounts:
        raise InvalidParams("accounts: expected a non-empty list of addresses")
    return [fmt.checksum(p.address(a, "account")) for a in accounts]


def _topic_set(entry: Any, position: int) -> frozenset[bytes] | None:
    if entry is None:
        return None
    if isinstance(entry, list):
        return frozenset(p.hash32(t, f"filter.topics[{position}]") for t in entry) or None
    return frozenset({p.hash32(entry, f"filter.topics[{position}]")})


def _percentiles(values: Any) -> list[float]:
    if not isinstance(values, list) or len(values) > 100:
        raise InvalidParams("rewardPercentiles: expected a list of at most 100 numbers")
    checked: list[float] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise InvalidParams("rewardPercentiles: each must be a number from 0 to 100")
        if checked and value < checked[-1]:
            raise InvalidParams("rewardPercentiles: must be in ascending order")
        checked.append(float(value))
    return checked


def _call_message(transaction: Any) -> CallMessage:
    fields = p.mapping(transaction, "transaction")
    payload = fields.get("input", fields.get("data"))
    if "input" in fields and "data" in fields and fields["input"] != fields["data"]:
        raise InvalidParams("transaction: both input and data given, and they differ")
    for fee in ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"):
        if fields.get(fee) is not None:
            p.quantity(fields[fee], f"transaction.{fee}")
    return CallMessage(
        sender=p.address(fields["from"], "transaction.from")
        if fields.get("from")
        else _ZERO_ADDRESS,
        to=p.address(fields["to"], "transaction.to") if fields.get("to") else None,
        gas=p.quantity(fields["gas"], "transaction.gas") if fields.get("gas") is not None else None,
        value=p.quantity(fields["value"], "transaction.value")
        if fields.get("value") is not None
        else 0,
        data=p.data(payload, "transaction.input") if payload else b"",
    )


T = TypeVar("T")


def _execution(run: Callable[[], T]) -> T:
    """Turn a failed execution into the error geth gives: code 3 with the revert data (and
    geth's "execution aborted (timeout = 5s)" for one that ran out of time)."""
    try:
        return run()
    except ExecutionTimeout as exc:
        raise RpcError(codes.SERVER_ERROR, exc.message) from exc
    except ExecutionFailed as exc:
        if exc.data:
            reason = _revert_reason(exc.data)
            message = f"execution reverted: {reason}" if reason else "execution reverted"
            raise RpcError(codes.EXECUTION_REVERTED, message, fmt.hex_bytes(exc.data)) from exc
        raise RpcError(codes.UNAUTHORIZED, exc.message) from exc


def _revert_reason(data: bytes) -> str | None:
    """Decode ``Error(string)`` revert data, the only kind with a human-readable message."""
    if data[:4] != bytes.fromhex("08c379a0"):
        return None
    from eth_abi import decode
    from eth_abi.exceptions import DecodingError

    try:
        (reason,) = decode(["string"], data[4:])
    except DecodingError:
        return None
    return str(reason)

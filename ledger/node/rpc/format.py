"""Chain objects to Ethereum JSON-RPC JSON, in one place (as trinity's ``rpc/format.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rlp
from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI
from eth_typing import Address
from eth_utils import encode_hex, to_checksum_address

from ledger.node.node import MatchedLog, TxLocation
from ledger.node.txpool import PooledTx

_SET_CODE_TX_TYPE = 4


def hex_int(value: int) -> str:
    return hex(value)


def hex_bytes(value: bytes) -> str:
    return encode_hex(value)


def checksum(value: bytes) -> str:
    return to_checksum_address(value)


def header_json(header: BlockHeaderAPI) -> dict[str, Any]:
    document: dict[str, Any] = {
        "number": hex_int(header.block_number),
        "hash": hex_bytes(header.hash),
        "parentHash": hex_bytes(header.parent_hash),
        "sha3Uncles": hex_bytes(header.uncles_hash),
        "miner": checksum(header.coinbase),
        "stateRoot": hex_bytes(header.state_root),
        "transactionsRoot": hex_bytes(header.transaction_root),
        "receiptsRoot": hex_bytes(header.receipt_root),
        "logsBloom": hex_bytes(header.bloom.to_bytes(256, "big")),
        "difficulty": hex_int(header.difficulty),
        "totalDifficulty": hex_int(header.difficulty),
        "gasLimit": hex_int(header.gas_limit),
        "gasUsed": hex_int(header.gas_used),
        "timestamp": hex_int(header.timestamp),
        "extraData": hex_bytes(header.extra_data),
        "mixHash": hex_bytes(header.mix_hash),
        "nonce": hex_bytes(header.nonce),
        "baseFeePerGas": hex_int(base_fee(header)),
    }
    optional: dict[str, tuple[str, Callable[[Any], str]]] = {
        "withdrawalsRoot": ("withdrawals_root", hex_bytes),
        "blobGasUsed": ("blob_gas_used", hex_int),
        "excessBlobGas": ("excess_blob_gas", hex_int),
        "parentBeaconBlockRoot": ("parent_beacon_block_root", hex_bytes),
        "requestsHash": ("requests_hash", hex_bytes),
    }
    for key, (attribute, encode) in optional.items():
        value = getattr(header, attribute, None)
        if value is not None:
            document[key] = encode(value)
    return document


def block_json(
    block: BlockAPI, senders: tuple[Address, ...], *, full_transactions: bool
) -> dict[str, Any]:
    document = header_json(block.header)
    document["size"] = hex_int(len(rlp.encode(block)))
    document["uncles"] = []
    document["withdrawals"] = []
    if full_transactions:
        document["transactions"] = [
            transaction_json(tx, sender, block.header, index)
            for index, (tx, sender) in enumerate(zip(block.transactions, senders, strict=True))
        ]
    else:
        document["transactions"] = [hex_bytes(tx.hash) for tx in block.transactions]
    return document


def transaction_json(
    tx: SignedTransactionAPI,
    sender: Address,
    header: BlockHeaderAPI | None,
    index: int | None,
) -> dict[str, Any]:
    """A mined transaction (``header`` set) or a pending one (block fields null)."""
    type_id = tx.type_id or 0
    document: dict[str, Any] = {
        "type": hex_int(type_id),
        "hash": hex_bytes(tx.hash),
        "nonce": hex_int(tx.nonce),
        "blockHash": hex_bytes(header.hash) if header is not None else None,
        "blockNumber": hex_int(header.block_number) if header is not None else None,
        # Required by execution-apis' TransactionInfo (as on receipts and logs): a client can
        # date a transaction without fetching its block.
        "blockTimestamp": hex_int(header.timestamp) if header is not None else None,
        "transactionIndex": hex_int(index) if index is not None else None,
        "from": checksum(sender),
        "to": checksum(tx.to) if tx.to else None,
        "value": hex_int(tx.value),
        "gas": hex_int(tx.gas),
        "input": hex_bytes(tx.data),
        "r": hex_int(tx.r),
        "s": hex_int(tx.s),
    }
    chain_id = getattr(tx, "chain_id", None)
    if chain_id is not None:
        document["chainId"] = hex_int(chain_id)
    if type_id == 0:
        document["gasPrice"] = hex_int(tx.gas_price)
        document["v"] = hex_int(getattr(tx, "v", 0))
        return document
    document["yParity"] = hex_int(tx.y_parity)
    document["v"] = hex_int(tx.y_parity)
    document["accessList"] = [
        {
            "address": checksum(entry[0]),
            "storageKeys": [hex_bytes(k.to_bytes(32, "big")) for k in entry[1]],
        }
        for entry in tx.access_list
    ]
    if type_id == 1:
        document["gasPrice"] = hex_int(tx.gas_price)
        return document
    document["maxFeePerGas"] = hex_int(tx.max_fee_per_gas)
    document["maxPriorityFeePerGas"] = hex_int(tx.max_priority_fee_per_gas)
    document["gasPrice"] = hex_int(effective_gas_price(tx, header))
    if type_id == _SET_CODE_TX_TYPE:
        authorizations = tx.authorization_list
        document["authorizationList"] = [
            {
                "chainId": hex_int(auth.chain_id),
                "address": checksum(auth.address),
                "nonce": hex_int(auth.nonce),
                "yParity": hex_int(auth.y_parity),
                "r": hex_int(auth.r),
                "s": hex_int(auth.s),
            }
            for auth in authorizations
        ]
    return document


def effective_gas_price(tx: SignedTransactionAPI, header: BlockHeaderAPI | None) -> int:
    """What a gas unit cost: for 1559-style transactions, base fee plus the capped tip."""
    if not (tx.type_id or 0) >= 2:
        return int(tx.gas_price)
    if header is None:
        return int(tx.max_fee_per_gas)
    return int(min(tx.max_fee_per_gas, base_fee(header) + tx.max_priority_fee_per_gas))


def base_fee(header: BlockHeaderAPI) -> int:
    """Every block of this chain is post-London, so the base fee is always set."""
    return header.base_fee_per_gas or 0


def pending_json(pooled: PooledTx) -> dict[str, Any]:
    return transaction_json(pooled.tx, pooled.sender, None, None)


def receipt_json(location: TxLocation) -> dict[str, Any]:
    tx, header = location.tx, location.header
    status = 1 if location.receipt.state_root == b"\x01" else 0
    return {
        "type": hex_int(tx.type_id or 0),
        "transactionHash": hex_bytes(tx.hash),
        "transactionIndex": hex_int(location.index),
        "blockHash": hex_bytes(header.hash),
        "blockNumber": hex_int(header.block_number),
        "from": checksum(location.sender),
        "to": checksum(tx.to) if tx.to else None,
        "cumulativeGasUsed": hex_int(location.receipt.gas_used),
        "gasUsed": hex_int(location.gas_used),
        "effectiveGasPrice": hex_int(effective_gas_price(tx, header)),
        "contractAddress": checksum(location.contract_address)
        if location.contract_address is not None
        else None,
        "logs": [
            log_json(
                MatchedLog(
                    header,
                    tx.hash,
                    location.index,
                    location.first_log_index + offset,
                    entry.address,
                    tuple(entry.topics),
                    entry.data,
                )
            )
            for offset, entry in enumerate(location.receipt.logs)
        ],
        "logsBloom": hex_bytes(location.receipt.bloom.to_bytes(256, "big")),
        "status": hex_int(status),
    }


def log_json(entry: MatchedLog) -> dict[str, Any]:
    return {
        "address": checksum(entry.address),
        "topics": [hex_bytes(topic.to_bytes(32, "big")) for topic in entry.topics],
        "data": hex_bytes(entry.data),
        "blockNumber": hex_int(entry.header.block_number),
        "blockHash": hex_bytes(entry.header.hash),
        "blockTimestamp": hex_int(entry.header.timestamp),
        "transactionHash": hex_bytes(entry.tx_hash),
        "transactionIndex": hex_int(entry.tx_index),
        "logIndex": hex_int(entry.log_index),
        "removed": False,
    }

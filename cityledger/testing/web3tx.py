"""Sign-and-send helpers for web3.py clients: what a wallet does, in a few lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import Nonce, TxParams, TxReceipt, Wei


def sign(w3: Web3, account: LocalAccount, tx: dict[str, Any], nonce: int | None = None) -> HexBytes:
    """Fill nonce, gas, free-gas fees and chain id as a wallet would; return the raw tx."""
    filled: dict[str, Any] = {
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(account.address, "pending")
        if nonce is None
        else nonce,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
        **tx,
    }
    if "gas" not in filled:
        estimate: Any = {**filled, "from": account.address}
        filled["gas"] = w3.eth.estimate_gas(estimate)
    return HexBytes(account.sign_transaction(filled).raw_transaction)


def send(w3: Web3, account: LocalAccount, tx: dict[str, Any]) -> TxReceipt:
    tx_hash = w3.eth.send_raw_transaction(sign(w3, account, tx))
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.02)


def call_fn(w3: Web3, account: LocalAccount, function: ContractFunction) -> TxReceipt:
    """Send a contract function call as a signed transaction."""
    params: TxParams = {
        "from": account.address,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "maxFeePerGas": Wei(0),
        "maxPriorityFeePerGas": Wei(0),
    }
    return send(w3, account, dict(function.build_transaction(params)))


def deploy(w3: Web3, account: LocalAccount, abi: list[Any], bytecode: bytes, *args: Any) -> str:
    contract = w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = send(w3, account, {"data": contract.constructor(*args).data_in_transaction})
    assert receipt["status"] == 1, receipt
    address = receipt["contractAddress"]
    assert address is not None
    return str(address)


def sign_with_gas(
    w3: Web3, account: LocalAccount, tx: dict[str, Any], *, gas: int, nonce: int | None = None
) -> HexBytes:
    """:func:`sign` with a fixed gas limit: no ``eth_estimateGas``, which would raise for a
    transaction meant to be mined and fail on chain."""
    return sign(w3, account, {**tx, "gas": gas}, nonce)


def send_with_gas(w3: Web3, account: LocalAccount, tx: dict[str, Any], *, gas: int) -> TxReceipt:
    """Send with exactly ``gas`` (no estimate) and wait for the receipt, whatever its status."""
    tx_hash = w3.eth.send_raw_transaction(sign_with_gas(w3, account, tx, gas=gas))
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.02)


def presign(
    w3: Web3, calls: Sequence[tuple[LocalAccount, ContractFunction]], *, gas: int
) -> list[str]:
    """Each (signer, call) signed with the signer's next nonce (counted from its pending count,
    so many calls of one signer line up), free gas and a fixed gas limit (no estimate); the raw
    transactions as ``0x`` hex, in call order, for JSON-RPC batches."""
    chain_id = w3.eth.chain_id
    nonces: dict[str, int] = {}
    raws = []
    for signer, function in calls:
        if signer.address not in nonces:
            nonces[signer.address] = w3.eth.get_transaction_count(signer.address, "pending")
        params: TxParams = {
            "from": signer.address,
            "nonce": Nonce(nonces[signer.address]),
            "gas": gas,
            "maxFeePerGas": Wei(0),
            "maxPriorityFeePerGas": Wei(0),
            "chainId": chain_id,
        }
        tx: Any = function.build_transaction(params)
        nonces[signer.address] += 1
        raws.append("0x" + bytes(signer.sign_transaction(tx).raw_transaction).hex())
    return raws

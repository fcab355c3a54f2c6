"""Raw transactions without web3: signed bytes, hashes, call data and contract addresses.

Signing through web3's ``build_transaction`` (``cityledger.testing.web3tx.presign``) asks the
node for nonces and the chain id; the chain workload signs thousands of transfers once, before
any engine runs, so that every engine sees byte-identical transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth._utils.address import generate_contract_address
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import (
    function_signature_to_4byte_selector,
    keccak,
    to_canonical_address,
    to_checksum_address,
)

from cityledger.testing.accounts import CHAIN_ID

SELECTOR_TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
SELECTOR_DISTRIBUTE = function_signature_to_4byte_selector("distribute(address[],uint256)")
SELECTOR_BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")


def sign(
    account: LocalAccount,
    nonce: int,
    to: str | None,
    data: bytes,
    gas: int,
    *,
    chain_id: int = CHAIN_ID,
) -> bytes:
    """A free-gas EIP-1559 transaction, as a wallet would sign it (``to=None`` deploys)."""
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "value": 0,
        "data": data,
        "gas": gas,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
    }
    if to is not None:
        tx["to"] = to
    return bytes(account.sign_transaction(tx).raw_transaction)


def tx_hash(raw: bytes) -> str:
    """The hash a node answers ``eth_sendRawTransaction`` with."""
    return "0x" + keccak(raw).hex()


def contract_address(deployer: str, nonce: int) -> str:
    """Where ``deployer``'s transaction with ``nonce`` deploys its contract."""
    return to_checksum_address(generate_contract_address(to_canonical_address(deployer), nonce))


def label_addresses(label: str, count: int) -> list[str]:
    """Addresses without keys, derived from ``label``: enough to be paid."""
    return [to_checksum_address(keccak(text=f"{label}-{i}")[-20:]) for i in range(count)]


def transfer_data(recipient: str, amount: int) -> bytes:
    return SELECTOR_TRANSFER + abi_encode(["address", "uint256"], [recipient, amount])


def distribute_data(recipients: Sequence[str], amount_each: int) -> bytes:
    return SELECTOR_DISTRIBUTE + abi_encode(
        ["address[]", "uint256"], [list(recipients), amount_each]
    )


def balance_of_data(holder: str) -> bytes:
    return SELECTOR_BALANCE_OF + abi_encode(["address"], [holder])

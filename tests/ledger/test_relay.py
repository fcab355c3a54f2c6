"""Decoding signed transactions and the relay policy (``ledger.relay``), without a chain."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

from ledger.contracts.base import city_artifact
from ledger.payments.orders import pay_typed_data
from ledger.relay import (
    RelayError,
    RelayPolicy,
    RelaySignerError,
    decode_signed_transaction,
    selectors,
    typed_data_signer,
)

CHAIN_ID = 44051
TOKEN = "0x1111111111111111111111111111111111111111"
ROUTER = "0x2222222222222222222222222222222222222222"
ALICE = Account.from_key(keccak(text="relay-alice"))
BOB = Account.from_key(keccak(text="relay-bob"))
TRANSFER = keccak(text="transfer(address,uint256)")[:4]
APPROVE = keccak(text="approve(address,uint256)")[:4]


def _raw(kind: str, **fields: Any) -> bytes:
    tx: dict[str, Any] = {
        "to": "0x1111111111111111111111111111111111111111",
        "value": 0,
        "nonce": 7,
        "gas": 100_000,
        "chainId": CHAIN_ID,
        "data": TRANSFER + bytes(64),
    }
    if kind == "legacy":
        tx["gasPrice"] = 0
    elif kind == "2930":
        tx.update(gasPrice=0, accessList=[], type=1)
    else:
        tx.update(maxFeePerGas=0, maxPriorityFeePerGas=0)
    tx.update(fields)
    return bytes(ALICE.sign_transaction(tx).raw_transaction)


def _policy() -> RelayPolicy:
    return RelayPolicy(
        CHAIN_ID,
        {
            "0x1111111111111111111111111111111111111111": {
                TRANSFER: "transfer",
                APPROVE: "approve",
            },
            "0x2222222222222222222222222222222222222222": {},
        },
    )


@pytest.mark.parametrize(("kind", "type_"), [("legacy", 0), ("2930", 1), ("1559", 2)])
def test_decodes_every_relayed_type(kind: str, type_: int) -> None:
    raw = _raw(kind)
    tx = decode_signed_transaction(raw)
    assert (tx.sender, tx.nonce, tx.chain_id, tx.type) == (ALICE.address, 7, CHAIN_ID, type_)
    assert tx.to == "0x1111111111111111111111111111111111111111"
    assert tx.selector == TRANSFER
    assert tx.hash == keccak(raw)
    assert _policy().check(tx, ALICE.address) == "transfer"


@pytest.mark.parametrize(
    "raw", [b"", b"\x02", b"\x05" + bytes(40), b"\xc0", bytes.fromhex("deadbeef"), b"\x02\xc1\x80"]
)
def test_garbage_is_refused(raw: bytes) -> None:
    with pytest.raises(RelayError, match="transaction"):
        decode_signed_transaction(raw)


def test_legacy_without_replay_protection_is_refused() -> None:
    tx = decode_signed_transaction(_raw("legacy", chainId=None))
    assert tx.chain_id is None
    with pytest.raises(RelayError, match="EIP-155"):
        _policy().check(tx, ALICE.address)


def test_policy_refusals() -> None:
    policy = _policy()
    with pytest.raises(RelaySignerError, match="not by"):
        policy.check(decode_signed_transaction(_raw("1559")), BOB.address)
    cases = [
        (_raw("1559", chainId=1), "chain 1"),
        (_raw("1559", value=1), "no ether value"),
        (_raw("1559", to="0x3333333333333333333333333333333333333333"), "not relayed"),
        (_raw("1559", data=b"\x12\x34\x56\x78"), "allowed are approve, transfer"),
        (_raw("1559", to="0x2222222222222222222222222222222222222222"), "not relayed"),
    ]
    for raw, reason in cases:
        with pytest.raises(RelayError, match=reason):
            policy.check(decode_signed_transaction(raw), ALICE.address)


def test_selectors_from_an_abi() -> None:
    abi = city_artifact("CityToken").abi
    assert selectors(abi, ["transfer", "approve"]) == {TRANSFER: "transfer", APPROVE: "approve"}
    with pytest.raises(RelayError, match="no function"):
        selectors(abi, ["fly"])


def test_typed_data_signer_names_the_signer_of_exactly_that_message() -> None:
    ref = keccak(text="invoice")
    typed = pay_typed_data(ROUTER, CHAIN_ID, ALICE.address, ref, 1_000)
    signature = bytes(Account.sign_typed_data(ALICE.key, full_message=typed).signature)

    assert typed_data_signer(typed, signature) == ALICE.address
    later = pay_typed_data(ROUTER, CHAIN_ID, ALICE.address, ref, 1_001)
    assert typed_data_signer(later, signature) not in (None, ALICE.address)
    other_chain = pay_typed_data(ROUTER, CHAIN_ID + 1, ALICE.address, ref, 1_000)
    assert typed_data_signer(other_chain, signature) != ALICE.address


@pytest.mark.parametrize("signature", [b"", b"\x01" * 10, b"\x00" * 65, b"\xff" * 65])
def test_typed_data_signer_is_none_for_what_is_not_a_signature(signature: bytes) -> None:
    typed = pay_typed_data(ROUTER, CHAIN_ID, BOB.address, keccak(text="x"), 1)
    assert typed_data_signer(typed, signature) is None

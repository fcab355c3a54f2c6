"""``ledger.relay.relay`` against the embedded node: a transaction someone signed is passed on
once, a repeat of the same bytes reports the mined one instead of sending, and one that
would revert is refused with the contract's own error before it costs its signer a nonce."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from cityledger.testing.city import TestCity
from ledger.exceptions import AccountNotActiveError
from ledger.relay import decode_signed_transaction, relay

WAIT = 30.0


def _signed(city: TestCity, signer: LocalAccount, function: str, *args: Any) -> bytes:
    chain = city.city.chain
    call = getattr(city.city.token.contract.functions, function)(*args)
    tx = call.build_transaction(
        {
            "from": signer.address,
            "nonce": chain.w3.eth.get_transaction_count(signer.address, "pending"),
            "gas": 200_000,
            "maxFeePerGas": 0,
            "maxPriorityFeePerGas": 0,
            "chainId": chain.chain_id,
        }
    )
    return bytes(signer.sign_transaction(tx).raw_transaction)


def _nonce(city: TestCity, signer: LocalAccount) -> int:
    return int(city.city.chain.w3.eth.get_transaction_count(signer.address, "pending"))


def test_the_same_bytes_relayed_twice_are_sent_once(test_city: TestCity) -> None:
    resident, spender = test_city.people[0], test_city.people[1]
    chain = test_city.city.chain
    raw = _signed(test_city, resident, "approve", spender.address, 12_345)
    before = _nonce(test_city, resident)

    first = relay(chain, decode_signed_transaction(raw), wait=WAIT)
    again = relay(chain, decode_signed_transaction(raw), wait=WAIT)

    assert first.confirmed
    assert again == first
    assert _nonce(test_city, resident) == before + 1
    assert (
        test_city.city.token.contract.functions.allowance(resident.address, spender.address).call()
        == 12_345
    )


def test_a_reverting_transaction_is_refused_before_it_is_sent(test_city: TestCity) -> None:
    resident, payee = test_city.people[2], test_city.people[3]
    chain = test_city.city.chain
    # The test city's people are not registered residents: the token refuses their transfers.
    raw = _signed(test_city, resident, "transfer", payee.address, 1)
    before = _nonce(test_city, resident)

    with pytest.raises(AccountNotActiveError):
        relay(chain, decode_signed_transaction(raw), wait=WAIT)

    assert _nonce(test_city, resident) == before  # never sent


def test_a_repeat_of_a_failed_transaction_raises_its_reason(test_city: TestCity) -> None:
    """Bytes that reached the chain some other way and failed there: relaying them again
    sends nothing and reports why they failed."""
    resident, payee = test_city.people[4], test_city.people[0]
    chain = test_city.city.chain
    raw = _signed(test_city, resident, "transfer", payee.address, 1)  # unregistered: refused
    tx_hash = chain.send_raw(raw)  # no dry run on this path: it is mined, and fails
    receipt = chain.w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=WAIT)
    assert receipt["status"] == 0
    before = _nonce(test_city, resident)

    with pytest.raises(AccountNotActiveError):
        relay(chain, decode_signed_transaction(raw), wait=WAIT)

    assert _nonce(test_city, resident) == before

"""Execution-side behaviour of the node: gas estimates that hold, block clock discipline."""

from __future__ import annotations

import time
from pathlib import Path

from eth_utils import keccak, to_canonical_address

from cityledger.testing.accounts import make_accounts
from cityledger.testing.inprocess import open_node
from ledger.contracts import load_artifact
from ledger.node.config import GenesisConfig
from ledger.node.node import CallMessage

DEPLOYER = make_accounts(1, "execution")[0]


def _genesis() -> GenesisConfig:
    # Timestamp 0, as many dev genesis files have: the case that once made estimates short.
    return GenesisConfig(
        alloc={DEPLOYER.address: {"balance": 0}},  # type: ignore[dict-item]
        allowlist=[DEPLOYER.address],
    )


def test_estimate_holds_for_code_that_stores_the_block_timestamp(tmp_path: Path) -> None:
    """AccessManager's constructor stores block.timestamp: estimating on the genesis block
    (stamped 0) instead of the block the transaction will land in came out 163 gas short."""
    node = open_node(tmp_path, _genesis())
    authority = load_artifact("CityAuthority")
    from eth_abi import encode

    data = authority.bytecode + encode(["address"], [DEPLOYER.address])
    sender = to_canonical_address(DEPLOYER.address)
    estimate = node.estimate_gas(CallMessage(sender, None, None, 0, data), node.head)
    tx = {
        "data": data,
        "gas": estimate,
        "nonce": 0,
        "chainId": 44051,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
    }
    raw = bytes(DEPLOYER.sign_transaction(tx).raw_transaction)
    node.submit_raw_transaction(raw)
    node.seal_once()
    mined = node.locate_transaction(keccak(raw))
    assert mined is not None
    assert mined.receipt.state_root == b"\x01", "the deploy ran out of gas at its estimate"
    assert mined.gas_used <= estimate
    node.close()


def test_block_stamps_do_not_run_ahead_of_the_clock(tmp_path: Path) -> None:
    from cityledger.testing.inprocess import transfer

    node = open_node(tmp_path, _genesis(), max_clock_drift=0.0)
    for nonce in range(3):
        node.submit_raw_transaction(transfer(DEPLOYER, DEPLOYER.address, 0, nonce))
        node.seal_once()
        assert node.head.timestamp <= time.time() + 1e-3
    assert node.head.block_number == 3
    node.close()

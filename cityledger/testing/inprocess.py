"""An embedded node opened in this process (no HTTP, no sealer thread): tests seal explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import CHAIN_ID
from ledger.node.config import GenesisConfig, NodeOptions
from ledger.node.node import Node


def open_node(data_dir: Path, genesis: GenesisConfig, **options: Any) -> Node:
    """Tests seal many blocks a second, so the clock-drift brake is off here."""
    options.setdefault("max_clock_drift", 10.0**9)
    return Node.open(genesis, NodeOptions(data_dir=data_dir, fsync=False, **options))


def transfer(
    account: LocalAccount,
    to: str,
    value: int,
    nonce: int,
    *,
    chain_id: int = CHAIN_ID,
    gas: int = 21_000,
    max_fee: int = 0,
) -> bytes:
    """A signed EIP-1559 value transfer, raw bytes."""
    tx: dict[str, Any] = {
        "to": to,
        "value": value,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": 0,
        "chainId": chain_id,
    }
    return bytes(account.sign_transaction(tx).raw_transaction)

"""Deterministic test accounts and genesis files (test-only keys, derived from fixed labels)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.node.config import ChainParams, GenesisConfig

CHAIN_ID = 44051
FUNDS = 10**24


def make_accounts(count: int, label: str = "cityledger-test") -> list[LocalAccount]:
    return [Account.from_key(keccak(text=f"{label}-{i}")) for i in range(count)]


def write_genesis(
    path: Path,
    funded: Sequence[LocalAccount],
    *,
    allowlisted: Sequence[LocalAccount] | None = None,
    **config: object,
) -> GenesisConfig:
    genesis = GenesisConfig(
        config=ChainParams(chain_id=CHAIN_ID, **config),
        alloc={a.address: {"balance": FUNDS} for a in funded},
        allowlist=[a.address for a in (funded if allowlisted is None else allowlisted)],
    )
    genesis.dump(path)
    return genesis

"""Create a chain in an empty data directory, or reopen one and prove it is intact.

The node keeps two keys of its own beside py-evm's: a fingerprint of the genesis config and the
hash of the last committed head, written in the same atomic batch as each block. On start the
node refuses — with a message that says why — a store whose fingerprint differs from the
configured genesis, or whose head, canonical index or state root is missing. It never falls back
to a fresh genesis over existing data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any, cast

from eth.abc import BlockHeaderAPI
from eth.chains.base import Chain
from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.db.schema import SchemaV1
from eth.exceptions import HeaderNotFound
from eth_typing import BlockNumber, Hash32
from eth_utils import encode_hex, to_canonical_address

from ledger.node.config import GenesisConfig
from ledger.node.errors import GenesisMismatchError, StoreCorruptedError
from ledger.node.store import LevelStore
from ledger.node.vm import build_chain_class

META_GENESIS = b"cityledger:genesis-fingerprint"
META_HEAD = b"cityledger:head"

_RUNTIME_ONLY = (
    "blockPeriodSeconds",
    "maxBatchSize",
    "maxNonceGap",
    "maxTxSize",
    "senderBytesPerSecond",
    "senderBurstBytes",
)
"""Admission and sealing policy: changing it must not make a node refuse its own data."""


def genesis_fingerprint(genesis: GenesisConfig) -> bytes:
    """A hash over everything that defines the chain (not the node's runtime defaults)."""
    document = genesis.to_json()
    document.pop("allowlist")
    for key in _RUNTIME_ONLY:
        document["config"].pop(key)
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).digest()


def genesis_state(genesis: GenesisConfig) -> dict[bytes, dict[str, Any]]:
    return {
        to_canonical_address(address): {
            "balance": alloc.balance,
            "nonce": alloc.nonce,
            "code": alloc.code,
            "storage": {int(slot, 0): value for slot, value in alloc.storage.items()},
        }
        for address, alloc in genesis.alloc.items()
    }


class _ReportedState(dict[bytes, dict[str, Any]]):
    """A genesis state that says how far py-evm got applying it: py-evm walks ``items()``
    account by account (``eth._utils.db.apply_state_dict``)."""

    def __init__(self, state: dict[bytes, dict[str, Any]], report: Callable[[int, int], None]):
        super().__init__(state)
        self._report = report

    def items(self) -> Iterator[tuple[bytes, dict[str, Any]]]:  # type: ignore[override]
        total = len(self)
        for done, item in enumerate(super().items(), start=1):
            yield item
            if done % REPORT_EVERY == 0 or done == total:
                self._report(done, total)


REPORT_EVERY = 1_000
"""Genesis accounts applied between two progress reports."""


def open_chain(
    store: LevelStore,
    genesis: GenesisConfig,
    report: Callable[[int, int], None] | None = None,
) -> tuple[Chain, BlockHeaderAPI]:
    """Return the chain in ``store`` and its head, creating the genesis block if it is empty
    (``report(accounts_done, accounts)`` hears how far the genesis state is built)."""
    chain_class = build_chain_class(genesis.config.chain_id, genesis.config.contract_size_limit)
    db = AtomicDB(store)
    fingerprint = genesis_fingerprint(genesis)
    stored_fingerprint = store.get(META_GENESIS)
    if stored_fingerprint is None:
        if SchemaV1.make_canonical_head_hash_lookup_key() in store:
            raise StoreCorruptedError(
                f"{store.path} holds chain data without CityLedger's metadata; "
                "refusing to start (move it aside to start a new chain)"
            )
        return _create(chain_class, db, store, genesis, fingerprint, report)
    if stored_fingerprint != fingerprint:
        raise GenesisMismatchError(
            f"{store.path} holds a chain made from a different genesis file; "
            "use the genesis it was created with, or a new data directory"
        )
    chain = chain_class(db)
    return chain, _verified_head(chain, store)


def _create(
    chain_class: type[Chain],
    db: AtomicDB,
    store: LevelStore,
    genesis: GenesisConfig,
    fingerprint: bytes,
    report: Callable[[int, int], None] | None = None,
) -> tuple[Chain, BlockHeaderAPI]:
    params = {
        "difficulty": 0,
        "gas_limit": genesis.gas_limit,
        "timestamp": genesis.timestamp,
        "extra_data": genesis.extra_data,
        "coinbase": to_canonical_address(genesis.coinbase),
        "nonce": b"\x00" * 8,
        "mix_hash": b"\x00" * 32,
        "base_fee_per_gas": 0,
    }
    state = genesis_state(genesis)
    if report is not None:
        state = _ReportedState(state, report)
    chain = cast(Chain, chain_class.from_genesis(db, params, state))  # type: ignore[arg-type]
    head = chain.get_canonical_head()
    store[META_GENESIS] = fingerprint
    store[META_HEAD] = head.hash
    store.commit()
    return chain, head


def _verified_head(chain: Chain, store: LevelStore) -> BlockHeaderAPI:
    def corrupted(why: str) -> StoreCorruptedError:
        return StoreCorruptedError(
            f"chain store {store.path} is inconsistent: {why}; refusing to start"
        )

    head_hash = store.get(META_HEAD)
    if head_hash is None:
        raise corrupted("the committed head pointer is missing")
    try:
        head = chain.chaindb.get_block_header_by_hash(Hash32(head_hash))
        canonical = chain.chaindb.get_canonical_head()
        by_number = chain.chaindb.get_canonical_block_hash(head.block_number)
        chain.chaindb.get_canonical_block_hash(BlockNumber(0))
    except HeaderNotFound as exc:
        raise corrupted(f"block data is missing ({exc})") from exc
    if canonical.hash != head.hash or by_number != head.hash:
        raise corrupted(
            f"the canonical head {encode_hex(canonical.hash)} is not the committed head "
            f"{encode_hex(head.hash)}"
        )
    if head.state_root != BLANK_ROOT_HASH and head.state_root not in store:
        raise corrupted(f"the state root of block {head.block_number} is missing")
    return head

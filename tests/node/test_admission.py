"""Transaction admission and sealing on an in-process node: every rejection says why and
changes nothing; accepted transactions are sealed in nonce order, in bulk, without empty blocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import rlp
from eth.chains.base import Chain
from eth_account import Account
from eth_utils import keccak, to_canonical_address

from cityledger.testing.accounts import make_accounts
from cityledger.testing.inprocess import open_node, transfer
from ledger.node.config import ChainParams, GenesisConfig
from ledger.node.errors import RejectReason, TransactionRejected
from ledger.node.genesis import open_chain
from ledger.node.node import Node
from ledger.node.sealer import build_block
from ledger.node.store import LevelStore
from ledger.node.txpool import PooledTx

ALICE, BOB, CAROL, MALLORY = make_accounts(4, "admission")
FUNDS = 10**18


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    genesis = GenesisConfig(
        config=ChainParams(),
        alloc={a.address: {"balance": FUNDS} for a in (ALICE, BOB, MALLORY)},  # type: ignore[misc]
        allowlist=[ALICE.address, BOB.address, CAROL.address],
    )
    node = open_node(tmp_path, genesis, max_nonce_gap=3, max_pool_size=8)
    yield node
    node.close()


def _balance(node: Node, account: str) -> int:
    return node.accounts_at(node.head).get_balance(to_canonical_address(account))


def _rejects(node: Node, raw: bytes, reason: RejectReason, message: str) -> None:
    pending_before = len(node.pending_transactions())
    pooled_before = node.pending_transaction(keccak(raw))
    head_before = node.head
    with pytest.raises(TransactionRejected, match=message) as caught:
        node.submit_raw_transaction(raw)
    assert caught.value.reason == reason
    assert len(node.pending_transactions()) == pending_before
    assert node.pending_transaction(keccak(raw)) is pooled_before
    assert node.head == head_before


def test_transfer_is_sealed_and_moves_value(node: Node) -> None:
    node.submit_raw_transaction(transfer(ALICE, BOB.address, 123, 0))
    assert node.seal_once() == 1
    assert node.head.block_number == 1
    assert _balance(node, BOB.address) == FUNDS + 123
    assert node.head.base_fee_per_gas == 0


def test_idle_node_makes_no_blocks(node: Node) -> None:
    assert node.seal_once() == 0
    assert node.head.block_number == 0


def test_sender_not_on_the_allowlist_is_refused(node: Node) -> None:
    _rejects(
        node,
        transfer(MALLORY, BOB.address, 1, 0),
        RejectReason.SENDER_NOT_AUTHORIZED,
        "not authorized",
    )


def test_wrong_chain_id_is_refused(node: Node) -> None:
    _rejects(
        node,
        transfer(ALICE, BOB.address, 1, 0, chain_id=1),
        RejectReason.WRONG_CHAIN,
        "invalid chain id",
    )


def test_unprotected_legacy_transaction_is_refused(node: Node) -> None:
    signed = Account.sign_transaction(
        {"to": BOB.address, "value": 1, "nonce": 0, "gas": 21_000, "gasPrice": 0},
        ALICE.key,
    )
    _rejects(node, bytes(signed.raw_transaction), RejectReason.UNPROTECTED, "unprotected")


def test_undecodable_bytes_are_refused(node: Node) -> None:
    _rejects(
        node, b"\x02\xff\x00garbage", RejectReason.INVALID_ENCODING, "invalid transaction encoding"
    )
    _rejects(node, b"", RejectReason.INVALID_ENCODING, "empty transaction")


def test_blob_transactions_are_refused(node: Node) -> None:
    _rejects(
        node, b"\x03" + rlp.encode([1, 2, 3]), RejectReason.UNSUPPORTED_TYPE, "blob transactions"
    )


def test_bad_signature_is_refused(node: Node) -> None:
    raw = bytearray(transfer(ALICE, BOB.address, 1, 0))
    fields = rlp.decode(bytes(raw[1:]))
    fields[-1] = b""  # s = 0 is never a valid signature
    tampered = b"\x02" + rlp.encode(fields)
    _rejects(node, tampered, RejectReason.INVALID_SIGNATURE, "invalid transaction signature")


def test_nonce_too_low_is_refused(node: Node) -> None:
    node.submit_raw_transaction(transfer(ALICE, BOB.address, 1, 0))
    node.seal_once()
    _rejects(node, transfer(ALICE, BOB.address, 2, 0), RejectReason.NONCE_TOO_LOW, "nonce too low")


def test_nonce_gap_beyond_the_limit_is_refused(node: Node) -> None:
    _rejects(
        node, transfer(ALICE, BOB.address, 1, 4), RejectReason.NONCE_TOO_HIGH, "nonce too high"
    )


def test_the_gap_is_counted_from_the_pending_run_not_the_chain(node: Node) -> None:
    """Found by the reference-model test: four pending nonces 0-3 made nonce 4 "too high"."""
    for nonce in range(5):
        node.submit_raw_transaction(transfer(ALICE, BOB.address, 1, nonce))
    node.submit_raw_transaction(transfer(ALICE, BOB.address, 1, 5 + 3))  # gap of 3: queued
    _rejects(
        node, transfer(ALICE, BOB.address, 1, 5 + 4), RejectReason.NONCE_TOO_HIGH, "next nonce 5"
    )


def test_gap_within_the_limit_waits_until_filled(node: Node) -> None:
    node.submit_raw_transaction(transfer(ALICE, BOB.address, 1, 2))
    node.submit_raw_transaction(transfer(ALICE, BOB.address, 1, 1))
    assert node.seal_once() == 0, "nothing is executable while nonce 0 is missing"
    assert node.pending_nonce(to_canonical_address(ALICE.address)) == 0
    node.submit_raw_transaction(transfer(ALICE, BOB.address, 1, 0))
    assert node.pending_nonce(to_canonical_address(ALICE.address)) == 3
    assert node.seal_once() == 3
    assert _balance(node, BOB.address) == FUNDS + 3


def test_insufficient_funds_counts_what_is_already_pending(node: Node) -> None:
    node.submit_raw_transaction(transfer(ALICE, BOB.address, FUNDS - 10, 0))
    _rejects(
        node,
        transfer(ALICE, BOB.address, 11, 1),
        RejectReason.INSUFFICIENT_FUNDS,
        "insufficient funds",
    )
    _rejects(
        node,
        transfer(CAROL, BOB.address, 0, 0, max_fee=1),
        RejectReason.INSUFFICIENT_FUNDS,
        "insufficient funds",
    )


def test_duplicates_and_replacements_are_refused(node: Node) -> None:
    raw = transfer(ALICE, BOB.address, 1, 0)
    node.submit_raw_transaction(raw)
    _rejects(node, raw, RejectReason.ALREADY_KNOWN, "already known")
    _rejects(
        node,
        transfer(ALICE, BOB.address, 2, 0),
        RejectReason.REPLACEMENT_NOT_SUPPORTED,
        "replacement",
    )
    node.seal_once()
    _rejects(node, raw, RejectReason.ALREADY_KNOWN, "already known")


def test_intrinsic_gas_and_block_gas_limits(node: Node) -> None:
    _rejects(
        node,
        transfer(ALICE, BOB.address, 1, 0, gas=20_000),
        RejectReason.INTRINSIC_GAS_TOO_LOW,
        "intrinsic gas too low",
    )
    _rejects(
        node,
        transfer(ALICE, BOB.address, 1, 0, gas=node.head.gas_limit),
        RejectReason.EXCEEDS_BLOCK_GAS_LIMIT,
        "exceeds block gas limit",
    )


def test_full_pool_is_refused(node: Node) -> None:
    for nonce in range(4):
        node.submit_raw_transaction(transfer(ALICE, BOB.address, 1, nonce))
        node.submit_raw_transaction(transfer(BOB, ALICE.address, 1, nonce))
    _rejects(node, transfer(CAROL, BOB.address, 0, 0), RejectReason.POOL_FULL, "txpool is full")


def test_batches_interleave_senders_in_arrival_order(node: Node) -> None:
    order = [(ALICE, 0), (BOB, 0), (ALICE, 1), (BOB, 1)]
    hashes = [node.submit_raw_transaction(transfer(a, CAROL.address, 1, n)) for a, n in order]
    assert node.seal_once() == 4
    mined = [node.locate_transaction(h) for h in hashes]
    assert [m.index for m in mined if m] == [0, 1, 2, 3]


def test_max_batch_size_splits_blocks(tmp_path: Path) -> None:
    genesis = GenesisConfig(
        alloc={ALICE.address: {"balance": FUNDS}},  # type: ignore[dict-item]
        allowlist=[ALICE.address],
    )
    node = open_node(tmp_path, genesis, max_batch_size=2)
    for nonce in range(5):
        node.submit_raw_transaction(transfer(ALICE, BOB.address, 1, nonce))
    assert [node.seal_once() for _ in range(4)] == [2, 2, 1, 0]
    assert node.head.block_number == 3
    node.close()


def test_sealer_drops_a_transaction_that_became_invalid_not_the_block(tmp_path: Path) -> None:
    """Admission cannot foresee everything (an EIP-7702 delegation can move a sender's nonce
    or balance from another transaction), so the block builder drops what fails validation."""
    genesis = GenesisConfig(
        alloc={ALICE.address: {"balance": FUNDS}},  # type: ignore[dict-item]
        allowlist=[ALICE.address],
    )
    store = LevelStore(tmp_path / "chain", sync=False)
    chain, head = open_chain(store, genesis)
    good, stale = (
        _pooled(chain, transfer(ALICE, BOB.address, 7, 0), seq=0),
        _pooled(chain, transfer(ALICE, BOB.address, 7, 0, gas=21_001), seq=1),
    )
    sealed = build_block(
        chain, head, [good, stale], timestamp=head.timestamp + 1, coinbase=b"\0" * 20
    )
    assert [p.hash for p in sealed.included] == [good.hash]
    assert [p.hash for p, _ in sealed.dropped] == [stale.hash]
    assert "nonce" in sealed.dropped[0][1].lower()
    assert sealed.block is not None
    assert len(sealed.block.transactions) == 1
    store.close()


def _pooled(chain: Chain, raw: bytes, seq: int) -> PooledTx:
    tx = chain.get_vm().get_transaction_builder().decode(raw)
    return PooledTx(tx, tx.sender, tx.hash, tx.nonce, tx.value, seq)

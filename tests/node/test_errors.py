"""The node's errors live with the node, and only the JSON-RPC layer knows wire codes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ledger.exceptions
from ledger.exceptions import LedgerError
from ledger.node import errors
from ledger.node.errors import RejectReason, TransactionRejected
from ledger.node.rpc import codes
from ledger.node.rpc.errors import REJECTION_CODES, rejection

NODE = Path(errors.__file__).parent

# Pinned: clients (web3.py, ethers, the ledger's own Chain) and Besu's docs match on these.
EXPECTED_CODES = {
    RejectReason.INVALID_ENCODING: -32602,
    RejectReason.OVERSIZED: -32000,
    RejectReason.UNSUPPORTED_TYPE: -32000,
    RejectReason.UNPROTECTED: -32000,
    RejectReason.WRONG_CHAIN: -32000,
    RejectReason.INVALID_SIGNATURE: -32002,
    RejectReason.SENDER_NOT_AUTHORIZED: -32007,
    RejectReason.EXCEEDS_BLOCK_GAS_LIMIT: -32005,
    RejectReason.INTRINSIC_GAS_TOO_LOW: -32003,
    RejectReason.ALREADY_KNOWN: -32000,
    RejectReason.REPLACEMENT_NOT_SUPPORTED: -32000,
    RejectReason.NONCE_TOO_LOW: -32001,
    RejectReason.NONCE_TOO_HIGH: -32006,
    RejectReason.INSUFFICIENT_FUNDS: -32004,
    RejectReason.POOL_FULL: -32000,
    RejectReason.SENDER_RATE_LIMITED: -32005,
    RejectReason.NODE_STOPPING: -32000,
}


@pytest.mark.parametrize("reason", list(RejectReason))
def test_every_rejection_reason_has_its_pinned_code(reason: RejectReason) -> None:
    error = rejection(TransactionRejected(reason, "why, in words"))
    assert error.code == EXPECTED_CODES[reason] == REJECTION_CODES[reason]
    assert error.message == "why, in words"


def test_node_errors_are_ledger_errors_but_not_in_the_shared_module() -> None:
    for name in ("NodeError", "StoreCorruptedError", "GenesisMismatchError", "TransactionRejected"):
        assert not hasattr(ledger.exceptions, name), name
        assert issubclass(getattr(errors, name), LedgerError)
    assert issubclass(TransactionRejected, ValueError)


def test_nothing_outside_rpc_imports_the_wire_codes() -> None:
    """The core raises domain reasons; a JSON-RPC code outside ``rpc/`` is a layering slip."""
    offenders = []
    for path in NODE.rglob("*.py"):
        if path.parent.name == "rpc":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "ledger.node.rpc"
            ):
                offenders.append(f"{path.name}: from {node.module} import ...")
    assert offenders == []
    assert codes.INVALID_PARAMS == -32602

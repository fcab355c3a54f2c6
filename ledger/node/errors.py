"""What the node raises, in its own terms: one root, and the reasons it refuses a transaction.

The core says *why* (a :class:`RejectReason`, an :class:`ExecutionFailed` with revert data, a
spent time budget); only the JSON-RPC layer (``ledger.node.rpc.errors``) turns that into wire
codes, as trinity's ``rpc/modules`` map py-evm's exceptions. So nothing below ``rpc/`` knows a
JSON-RPC code, and the node package could be lifted into a distribution of its own.

The node's errors stay under CityLedger's one root (``LedgerError``) so that the CLI that starts
a node catches them with everything else.
"""

from __future__ import annotations

from enum import StrEnum

from ledger.exceptions import LedgerError


class NodeError(LedgerError):
    """Raised by the embedded chain node."""


class StoreCorruptedError(NodeError):
    """The node's data directory is unreadable or inconsistent; the node refuses to start."""


class GenesisMismatchError(NodeError):
    """The data directory holds a chain whose genesis differs from the configured one."""


class RejectReason(StrEnum):
    """Why admission refused a raw transaction (each maps to one JSON-RPC error code)."""

    INVALID_ENCODING = "invalid-encoding"
    OVERSIZED = "oversized"
    UNSUPPORTED_TYPE = "unsupported-type"
    UNPROTECTED = "unprotected"
    WRONG_CHAIN = "wrong-chain"
    INVALID_SIGNATURE = "invalid-signature"
    SENDER_NOT_AUTHORIZED = "sender-not-authorized"
    EXCEEDS_BLOCK_GAS_LIMIT = "exceeds-block-gas-limit"
    INTRINSIC_GAS_TOO_LOW = "intrinsic-gas-too-low"
    ALREADY_KNOWN = "already-known"
    REPLACEMENT_NOT_SUPPORTED = "replacement-not-supported"
    NONCE_TOO_LOW = "nonce-too-low"
    NONCE_TOO_HIGH = "nonce-too-high"
    INSUFFICIENT_FUNDS = "insufficient-funds"
    POOL_FULL = "pool-full"
    SENDER_RATE_LIMITED = "sender-rate-limited"
    NODE_STOPPING = "node-stopping"


class TransactionRejected(NodeError, ValueError):
    """A raw transaction was refused at admission; nothing changed. ``reason`` says why in
    the node's terms, ``message`` in words a client shows (geth/Besu wording where they have
    one, since clients match on it: "nonce too low", "already known")."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ExecutionFailed(NodeError):
    """An ``eth_call`` or gas estimate failed; ``data`` is the revert data, if any."""

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ExecutionTimeout(NodeError):
    """A call or estimate ran past its wall-clock budget and was abandoned (state untouched).

    Deliberately not a py-evm ``VMError``: those are caught per call frame and turned into a
    failed frame, while this must unwind the whole execution.
    """

    def __init__(self, budget: float) -> None:
        super().__init__(f"execution aborted (timeout = {budget:g}s)")
        self.message = str(self)
        self.budget = budget


class QueryLimitExceeded(NodeError):
    """A log query would scan or return more than the node's configured limits."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SealingFailed(NodeError):
    """The sealer could not write a block (disk full, I/O or fsync error, or a bug).

    The node is crash-only: it stops accepting transactions, shuts down and the process exits
    non-zero so that its supervisor restarts it on a store that LevelDB reopens cleanly.
    """


def describe(error: BaseException) -> str:
    """``error`` in words: plyvel's errors carry LevelDB's status as bytes (b'IO error: ...')."""
    detail = error.args[0] if len(error.args) == 1 else None
    if isinstance(detail, bytes):
        return detail.decode(errors="replace")
    return str(error)

"""JSON-RPC error objects, and the one place where the node's domain errors become codes."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ledger.node.errors import RejectReason, TransactionRejected
from ledger.node.rpc import codes


class RpcError(Exception):
    """Answered as ``{"code": code, "message": message, "data": data}``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class InvalidParams(RpcError):
    def __init__(self, message: str) -> None:
        super().__init__(codes.INVALID_PARAMS, message)


REJECTION_CODES: MappingProxyType[RejectReason, int] = MappingProxyType(
    {
        RejectReason.INVALID_ENCODING: codes.INVALID_PARAMS,
        RejectReason.OVERSIZED: codes.OVERSIZED_DATA,
        RejectReason.UNSUPPORTED_TYPE: codes.UNSUPPORTED_TX_TYPE,
        RejectReason.UNPROTECTED: codes.WRONG_CHAIN_ID,
        RejectReason.WRONG_CHAIN: codes.WRONG_CHAIN_ID,
        RejectReason.INVALID_SIGNATURE: codes.INVALID_SIGNATURE,
        RejectReason.SENDER_NOT_AUTHORIZED: codes.SENDER_NOT_AUTHORIZED,
        RejectReason.EXCEEDS_BLOCK_GAS_LIMIT: codes.EXCEEDS_BLOCK_GAS_LIMIT,
        RejectReason.INTRINSIC_GAS_TOO_LOW: codes.INTRINSIC_GAS_TOO_LOW,
        RejectReason.ALREADY_KNOWN: codes.ALREADY_KNOWN,
        RejectReason.REPLACEMENT_NOT_SUPPORTED: codes.ALREADY_KNOWN,
        RejectReason.NONCE_TOO_LOW: codes.NONCE_TOO_LOW,
        RejectReason.NONCE_TOO_HIGH: codes.NONCE_TOO_HIGH,
        RejectReason.INSUFFICIENT_FUNDS: codes.INSUFFICIENT_FUNDS,
        RejectReason.POOL_FULL: codes.POOL_FULL,
        RejectReason.SENDER_RATE_LIMITED: codes.LIMIT_EXCEEDED,
        RejectReason.NODE_STOPPING: codes.SERVER_ERROR,
    }
)
"""Besu's pool codes where Besu has one (clients and tests match on them), -32000 otherwise."""


def rejection(exc: TransactionRejected) -> RpcError:
    """The error object for a refused ``eth_sendRawTransaction``."""
    return RpcError(REJECTION_CODES[exc.reason], exc.message)

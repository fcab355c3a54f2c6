"""The error a JSON-RPC method raises to answer with an error object."""

from __future__ import annotations

from typing import Any

from ledger.node import rpc_codes


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
        super().__init__(rpc_codes.INVALID_PARAMS, message)

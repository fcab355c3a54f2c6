"""Exception hierarchy: one root for everything CityLedger raises, one branch per domain.

Leaves also subclass the stdlib type they refine (as web3.py does), so callers that only know
``ValueError`` or ``LookupError`` still catch them.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error raised by CityLedger code."""


class ConfigError(LedgerError, ValueError):
    """A configuration file or option is missing, malformed or inconsistent."""


class NodeError(LedgerError):
    """Raised by the embedded chain node."""


class StoreCorruptedError(NodeError):
    """The node's data directory is unreadable or inconsistent; the node refuses to start."""


class GenesisMismatchError(NodeError):
    """The data directory holds a chain whose genesis differs from the configured one."""


class TransactionRejected(NodeError, ValueError):
    """A raw transaction was refused at admission; ``code`` is its JSON-RPC error code."""

    def __init__(self, message: str, code: int = -32000) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

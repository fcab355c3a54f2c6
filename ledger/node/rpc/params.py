"""Decoding of JSON-RPC parameter values, strictly: a bad value is an InvalidParams error.

Quantities are 0x-hex without leading zeros tolerated (clients do send "0x01") and at most 256
bits (every Ethereum quantity fits a uint256; a larger one reached py-evm as an internal error);
data is 0x-hex of even length; addresses are 20 bytes, hashes 32. Only hex digits count: Python's
``int`` and ``bytes.fromhex`` would also take underscores and spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from eth_typing import Address, Hash32

from ledger.node.rpc.errors import InvalidParams

BlockTag = Literal["latest", "earliest", "pending", "safe", "finalized"]
_TAGS = ("latest", "earliest", "pending", "safe", "finalized")
_QUANTITY = re.compile(r"0[xX][0-9a-fA-F]+")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_UINT256_BITS = 256


@dataclass(frozen=True, slots=True)
class BlockRef:
    """A block named by tag, number or hash (EIP-1898)."""

    tag: BlockTag | None = None
    number: int | None = None
    hash: Hash32 | None = None


def quantity(value: Any, name: str = "value") -> int:
    if isinstance(value, str) and _QUANTITY.fullmatch(value):
        number = int(value, 16)
        if number.bit_length() <= _UINT256_BITS:
            return number
        raise InvalidParams(f"{name}: more than 256 bits")
    raise InvalidParams(f"{name}: expected a 0x-prefixed hex quantity, got {_short(value)}")


def data(value: Any, name: str = "data") -> bytes:
    if isinstance(value, str) and value[:2] in ("0x", "0X") and _HEX.fullmatch(value, 2):
        return bytes.fromhex(value[2:])
    raise InvalidParams(
        f"{name}: expected 0x-prefixed hex data of even length, got {_short(value)}"
    )


def address(value: Any, name: str = "address") -> Address:
    raw = data(value, name)
    if len(raw) != 20:
        raise InvalidParams(f"{name}: expected a 20-byte address, got {len(raw)} bytes")
    return Address(raw)


def hash32(value: Any, name: str = "hash") -> Hash32:
    raw = data(value, name)
    if len(raw) != 32:
        raise InvalidParams(f"{name}: expected a 32-byte hash, got {len(raw)} bytes")
    return Hash32(raw)


def block_ref(value: Any, name: str = "block") -> BlockRef:
    if value is None:
        return BlockRef(tag="latest")
    if isinstance(value, str) and value in _TAGS:
        return BlockRef(tag=value)  # type: ignore[arg-type]
    if isinstance(value, str) and len(value) == 66:
        return BlockRef(hash=hash32(value, name))  # a bare block hash, as web3.py sends it
    if isinstance(value, dict):
        if "blockHash" in value:
            return BlockRef(hash=hash32(value["blockHash"], f"{name}.blockHash"))
        if "blockNumber" in value:
            return block_ref(value["blockNumber"], f"{name}.blockNumber")
        raise InvalidParams(f"{name}: expected blockHash or blockNumber")
    return BlockRef(number=quantity(value, name))


def boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidParams(f"{name}: expected true or false, got {_short(value)}")


def mapping(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise InvalidParams(f"{name}: expected an object, got {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."

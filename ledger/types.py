"""Domain values: addresses, whole-won amounts, account kinds, and the 32-byte references on
chain, each with the one parser every front end uses."""

from __future__ import annotations

import re
from enum import IntEnum
from typing import TYPE_CHECKING, NewType

from ledger.exceptions import AddressError, InputError

if TYPE_CHECKING:
    from eth_typing import ChecksumAddress

KRW = NewType("KRW", int)
"""An amount of the local currency in whole won (the token has 0 decimals: 1 token = 1 KRW)."""

_AMOUNT = re.compile(r"^(?:₩|KRW\s*)?\s*(\d{1,3}(?:,\d{3})+|\d+)\s*(?:원|KRW)?$", re.IGNORECASE)


class AccountKind(IntEnum):
    """Mirrors ``IResidentRegistry.AccountKind``."""

    NONE = 0
    RESIDENT = 1
    MERCHANT = 2
    CITY_SERVICE = 3
    PROSUMER = 4
    DATA_BUYER = 5
    ISSUER = 6

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> AccountKind:
        """A kind from its label (``resident``, ``city-service``, …); never ``NONE``."""
        kind = cls.__members__.get(text.strip().upper().replace("-", "_"), cls.NONE)
        if kind is cls.NONE:
            names = ", ".join(k.label for k in cls if k)
            raise InputError(f"unknown account kind {text!r}; kinds are: {names}")
        return kind


class AccountStatus(IntEnum):
    """Mirrors ``IResidentRegistry.AccountStatus``."""

    NONE = 0
    ACTIVE = 1
    FROZEN = 2
    RETIRED = 3


class RedemptionStatus(IntEnum):
    """Mirrors ``IPaymentRouter.RedemptionStatus``."""

    NONE = 0
    REQUESTED = 1
    CONFIRMED = 2
    REJECTED = 3


def parse_address(text: str, what: str = "an account address") -> ChecksumAddress:
    """``text`` as a checksummed address. A mixed-case address must pass its EIP-55 checksum
    (it was probably mistyped otherwise); all-lower or all-upper hex carries no checksum."""
    from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

    if not (text[:2].lower() == "0x" and is_hex_address(text)):
        raise AddressError(f"{text!r} is not {what}: expected 0x and 40 hex digits")
    if text[2:] not in (text[2:].lower(), text[2:].upper()) and not is_checksum_address(text):
        raise AddressError(f"{text} fails its checksum (mixed case): was it mistyped?")
    return to_checksum_address(text)


def parse_krw(text: str) -> KRW:
    """Read '12345', '12,345', '₩12,345' or '12,345원'; refuse fractions, signs and zero."""
    match = _AMOUNT.match(text.strip())
    if not match:
        raise InputError(f"{text!r} is not an amount in whole won (e.g. 12,345 or ₩12,345)")
    value = int(match.group(1).replace(",", ""))
    if value == 0:
        raise InputError("the amount must be at least ₩1")
    return KRW(value)


def format_krw(amount: int) -> str:
    return f"-₩{-amount:,}" if amount < 0 else f"₩{amount:,}"


def reference(text: str) -> bytes:
    """A deposit/settlement reference as bytes32: up to 32 bytes of text, zero-padded.

    Short references (a bank transfer id) stay readable on chain and in events; a reference
    must not carry personal data.
    """
    if text.startswith("0x") and len(text) == 66:
        return bytes.fromhex(text[2:])
    raw = text.encode()
    if not raw or len(raw) > 32:
        raise InputError(f"a reference is 1 to 32 bytes of text, got {len(raw)}: {text!r}")
    return raw.ljust(32, b"\0")


def reference_text(value: bytes) -> str:
    """Back from bytes32 to the text (or 0x-hex if it was not text)."""
    stripped = value.rstrip(b"\0")
    try:
        text = stripped.decode()
    except UnicodeDecodeError:
        return "0x" + value.hex()
    return text if text.isprintable() and text else "0x" + value.hex()

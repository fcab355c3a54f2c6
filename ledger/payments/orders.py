"""Invoices as the router sees them: an order, its reference, and the URI a wallet pays.

An order commits to its merchant, amount and expiry through its reference
``keccak256(abi.encode(merchant, amount, validUntil, salt))``, so a payer cannot change any of
them; the random salt makes references unguessable and unique. Invoices cost nothing on chain
until they are paid.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from ledger.exceptions import InputError

PAY_DOMAIN_NAME = "CityLedger PaymentRouter"
PAY_DOMAIN_VERSION = "1"
PAY_TYPES = {
    "Pay": [
        {"name": "payer", "type": "address"},
        {"name": "invoiceRef", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
    ]
}
"""EIP-712 type of a payer's authorization of a relayed payment (``PaymentRouter.payFor``)."""

_URI = re.compile(r"^ethereum:(?P<router>0x[0-9a-fA-F]{40})@(?P<chain>\d+)/pay\?(?P<query>.+)$")
_UINT64_MAX = 2**64 - 1


class OrderError(InputError):
    """An order or payment URI that cannot be paid as given."""


@dataclass(frozen=True, slots=True)
class Order:
    """One invoice: pay ``amount`` tokens to ``merchant`` until ``valid_until`` (unix seconds)."""

    merchant: str
    amount: int
    valid_until: int
    salt: bytes

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise OrderError("an invoice is for at least 1 token")
        if not 0 < self.valid_until <= _UINT64_MAX:
            raise OrderError(f"valid_until must be a unix time, got {self.valid_until}")
        if len(self.salt) != 32:
            raise OrderError("an invoice salt is 32 bytes")
        object.__setattr__(self, "merchant", to_checksum_address(self.merchant))

    @classmethod
    def new(cls, merchant: str, amount: int, valid_until: int) -> Order:
        """A fresh order with a random salt."""
        return cls(merchant, amount, valid_until, os.urandom(32))

    @property
    def ref(self) -> bytes:
        """The invoice reference, which is also the payment's id on chain."""
        return invoice_ref(self)

    def as_tuple(self) -> tuple[str, int, int, bytes]:
        """The ``IPaymentRouter.Order`` struct as web3.py passes it."""
        return (self.merchant, self.amount, self.valid_until, self.salt)

    def uri(self, router: str, chain_id: int) -> str:
        """An EIP-681 style URI that asks a wallet to call ``pay`` with this order."""
        return (
            f"ethereum:{to_checksum_address(router)}@{chain_id}/pay?address={self.merchant}"
            f"&uint256={self.amount}&uint64={self.valid_until}&bytes32=0x{self.salt.hex()}"
        )


def invoice_ref(order: Order) -> bytes:
    return keccak(
        encode(
            ["address", "uint256", "uint64", "bytes32"],
            [order.merchant, order.amount, order.valid_until, order.salt],
        )
    )


@dataclass(frozen=True, slots=True)
class PaymentUri:
    """What a payment URI asks for: this order, on this router and chain."""

    router: str
    chain_id: int
    order: Order


def parse_pay_uri(uri: str) -> PaymentUri:
    """The order a URI from :meth:`Order.uri` stands for (OrderError otherwise)."""
    match = _URI.match(uri.strip())
    if not match:
        raise OrderError(f"not a CityLedger payment URI: {uri!r}")
    try:
        query = parse_qs(match["query"], strict_parsing=True)
        fields = dict(query)
        [merchant] = fields["address"]
        [amount] = fields["uint256"]
        [valid_until] = fields["uint64"]
        [salt] = fields["bytes32"]
        salt_bytes = bytes.fromhex(salt.removeprefix("0x"))
        order = Order(merchant, int(amount), int(valid_until), salt_bytes)
    except (KeyError, ValueError) as exc:
        if isinstance(exc, OrderError):
            raise
        raise OrderError(f"{uri!r} is not a complete payment URI: {exc}") from None
    return PaymentUri(to_checksum_address(match["router"]), int(match["chain"]), order)


def pay_typed_data(
    router: str, chain_id: int, payer: str, ref: bytes, deadline: int
) -> dict[str, Any]:
    """The EIP-712 message a payer signs to let anyone relay the payment of ``ref``."""
    return {
        "domain": {
            "name": PAY_DOMAIN_NAME,
            "version": PAY_DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(router),
        },
        "types": PAY_TYPES,
        "primaryType": "Pay",
        "message": {"payer": to_checksum_address(payer), "invoiceRef": ref, "deadline": deadline},
    }

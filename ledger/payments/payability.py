"""Whether an invoice can be paid now, checked before anything is signed.

The payment router decides (``PaymentRouter._record``: an unpaid, uncancelled, unexpired order
of an active merchant); this is its check asked ahead, so a wallet or an app explains a refusal
in words before it asks for a password. A payment that passes can still fail if the chain
moves in between (another payer, the merchant cancelling): the dry run before sending and the
contract itself have the last word.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from ledger.exceptions import InputError
from ledger.types import AccountKind, AccountStatus

if TYPE_CHECKING:
    from ledger.city import City
    from ledger.payments.orders import PaymentUri


class Unpayable(StrEnum):
    """Why an invoice cannot be paid (machine-readable, beside the sentence)."""

    WRONG_CHAIN = "wrong_chain"
    WRONG_ROUTER = "wrong_router"
    MERCHANT_NOT_ACTIVE = "merchant_not_active"
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class InvoiceNotPayableError(InputError):
    """An invoice the router would refuse; ``reason`` says which rule."""

    def __init__(self, reason: Unpayable, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_payable(city: City, request: PaymentUri) -> None:
    """Raise :class:`InvoiceNotPayableError` unless ``request`` could be paid in the next
    block on ``city``'s chain."""
    router, order = city.payments, request.order
    invoice = f"invoice 0x{order.ref.hex()}"
    chain_id = city.chain.chain_id
    if request.chain_id != chain_id:
        raise InvoiceNotPayableError(
            Unpayable.WRONG_CHAIN,
            f"the invoice is for chain {request.chain_id}, this wallet is on chain {chain_id}",
        )
    if request.router != router.address:
        raise InvoiceNotPayableError(
            Unpayable.WRONG_ROUTER,
            f"the invoice names the payment contract {request.router}, not this city's "
            f"({router.address}): refusing to pay it",
        )
    registration = city.registry.registration_of(order.merchant)
    if registration.kind is not AccountKind.MERCHANT or (
        registration.status is not AccountStatus.ACTIVE
    ):
        raise InvoiceNotPayableError(
            Unpayable.MERCHANT_NOT_ACTIVE,
            f"{order.merchant} is not an active merchant of the city",
        )
    if router.payment_of(order.ref) is not None:
        raise InvoiceNotPayableError(Unpayable.PAID, f"{invoice} is already paid")
    if router.is_cancelled(order.ref):
        raise InvoiceNotPayableError(
            Unpayable.CANCELLED, f"{invoice} was cancelled by the merchant"
        )
    if city.chain.latest_timestamp() > order.valid_until:
        raise InvoiceNotPayableError(
            Unpayable.EXPIRED, f"{invoice} expired (payable until {order.valid_until})"
        )

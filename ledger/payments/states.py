"""The states of invoices, payments and redemptions, by the names the index stores and the API
answers with. One vocabulary: the indexer writes these, the API filters and reports by them,
and the daily report sums by them.
"""

from __future__ import annotations

from enum import StrEnum

from ledger.types import RedemptionStatus


class InvoiceStatus(StrEnum):
    OPEN = "open"
    """Payable until ``valid_until``."""
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    """Past ``valid_until`` unpaid (decided from the index; the chain has no such event)."""


class PaymentStatus(StrEnum):
    SETTLED = "settled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    """Refunded in full."""

    @classmethod
    def after_refunds(cls, refunded: int, amount: int) -> PaymentStatus:
        """A payment's state once ``refunded`` of its ``amount`` went back to the payer."""
        if refunded <= 0:
            return cls.SETTLED
        return cls.REFUNDED if refunded >= amount else cls.PARTIALLY_REFUNDED


class RedemptionState(StrEnum):
    """A merchant's redemption request by name (the contract numbers them:
    :class:`ledger.types.RedemptionStatus`)."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"

    @classmethod
    def of(cls, status: RedemptionStatus) -> RedemptionState:
        return cls(status.name.lower())

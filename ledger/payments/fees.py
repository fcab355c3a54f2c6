"""The fee split of a payment and its proportional reversal on refunds.

Integer arithmetic rounding down, exactly as ``PaymentRouter`` does it (see the NatSpec of
``IPaymentRouter``), so no token is created or lost:

    fee = amount * fee_bps // 10_000
    points = fee * point_share_bps // 10_000      (stays with the payer)
    city_share = fee - points
    merchant_amount = amount - fee

A refund reverses the split cumulatively, so refunding a payment in any number of parts ends
exactly where a single full refund would. The fee is reversed first and then divided between
points and city share as the fee was (after refunding ``R`` of ``amount`` in all)::

    fee_back = fee * R // amount
    points_back = points * fee_back // fee        (0 when fee is 0)
    city_back = fee_back - points_back
    merchant_back = R - fee_back

Every running total only grows with ``R``, so no part of any refund is negative. (Prorating the
points and the city share separately can round both up in the same one-token refund and ask the
merchant for -1 token.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.exceptions import InputError

BPS = 10_000
DEFAULT_FEE_BPS = 100
"""1 %: the white paper's 10,000-won purchase leaves the merchant 9,900."""
DEFAULT_POINT_SHARE_BPS = BPS
"""The whole fee goes back to the consumer as a token point."""


class FeeError(InputError):
    """A fee rate or amount outside what the contract accepts."""


def _check_bps(bps: int) -> None:
    if not 0 <= bps <= BPS:
        raise FeeError(f"a rate is 0 to {BPS:,} basis points, got {bps}")


@dataclass(frozen=True, slots=True)
class Split:
    """Where the tokens of one payment go."""

    amount: int
    merchant_amount: int
    fee: int
    points: int
    city_share: int

    @property
    def payer_outflow(self) -> int:
        """What the payer's balance falls by: the points never leave it."""
        return self.merchant_amount + self.city_share


def split(amount: int, fee_bps: int, point_share_bps: int = DEFAULT_POINT_SHARE_BPS) -> Split:
    """The split of ``amount`` at ``fee_bps``, ``point_share_bps`` of the fee as points."""
    if amount <= 0:
        raise FeeError("a payment is at least 1 token")
    _check_bps(fee_bps)
    _check_bps(point_share_bps)
    fee = amount * fee_bps // BPS
    points = fee * point_share_bps // BPS
    return Split(amount, amount - fee, fee, points, fee - points)


@dataclass(frozen=True, slots=True)
class RefundSplit:
    """Where one refund's tokens come from.

    ``amount = from_merchant + from_city + points_clawed_back``.
    """

    amount: int
    from_merchant: int
    from_city: int
    points_clawed_back: int
    refunded_total: int

    @property
    def payer_inflow(self) -> int:
        """What the payer receives: the refund less the points clawed back."""
        return self.from_merchant + self.from_city


@dataclass(frozen=True, slots=True)
class RefundState:
    """How much of a payment was refunded so far."""

    refunded: int = 0
    points_clawed_back: int = 0
    city_share_returned: int = 0


def refund_split(payment: Split, state: RefundState, amount: int) -> RefundSplit:
    """The split of refunding ``amount`` more of ``payment`` after ``state``."""
    if amount <= 0:
        raise FeeError("a refund is at least 1 token")
    refundable = payment.amount - state.refunded
    if amount > refundable:
        raise FeeError(f"a refund of {amount:,} exceeds the {refundable:,} still refundable")
    total = state.refunded + amount
    fee_back = payment.fee * total // payment.amount
    points_back = payment.points * fee_back // payment.fee if payment.fee else 0
    clawed = points_back - state.points_clawed_back
    from_city = fee_back - points_back - state.city_share_returned
    return RefundSplit(amount, amount - clawed - from_city, from_city, clawed, total)


def after(state: RefundState, refund: RefundSplit) -> RefundState:
    """The refund state once ``refund`` is applied."""
    return RefundState(
        refund.refunded_total,
        state.points_clawed_back + refund.points_clawed_back,
        state.city_share_returned + refund.from_city,
    )


@dataclass(frozen=True, slots=True)
class CardComparison:
    """What a merchant would have kept had the same sales been paid by card."""

    card_fee: int
    van_fee: int
    merchant_amount: int


CARD_FEE_BPS = 220
"""The white paper's card company fee on a 10,000-won purchase: 220 won."""
VAN_FEE_BPS = 30
"""The white paper's VAN fee on a 10,000-won purchase: 30 won."""


def by_card(
    amount: int, card_fee_bps: int = CARD_FEE_BPS, van_fee_bps: int = VAN_FEE_BPS
) -> CardComparison:
    """The card fees on ``amount`` (rounded down, as the token fee is)."""
    _check_bps(card_fee_bps)
    _check_bps(van_fee_bps)
    card = amount * card_fee_bps // BPS
    van = amount * van_fee_bps // BPS
    return CardComparison(card, van, amount - card - van)

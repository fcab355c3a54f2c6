"""A merchant's daily settlement report.

The report sums one local day of a merchant's payments, refunds and redemptions and compares
what the merchant kept with what the same sales would have left it by card: card fees are
charged per payment, so they are computed per payment and rounded down like the token fee
(:func:`ledger.payments.fees.by_card`). The comparison covers the day's payments before
refunds (a card refund cancels its fees as a token refund reverses its split).

    received = Σ merchant_amount            (what the payments credited the merchant)
    refunded_by_merchant = Σ from_merchant  (what the merchant paid back)
    net = received - refunded_by_merchant
    saving = received - card_merchant_amount = card fees + VAN fees - token fees

Redemptions count by the day they happened: ``requested`` lines are the day's requests,
``confirmed``/``rejected`` lines the day's treasury decisions (of requests of any day).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ledger.payments.fees import CARD_FEE_BPS, VAN_FEE_BPS, by_card
from ledger.payments.states import RedemptionState


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """One settled payment to the merchant."""

    amount: int
    merchant_amount: int
    fee: int
    points: int
    city_share: int


@dataclass(frozen=True, slots=True)
class RefundLine:
    """One refund the merchant made."""

    amount: int
    from_merchant: int
    from_city: int
    points_clawed_back: int


@dataclass(frozen=True, slots=True)
class RedemptionLine:
    """One redemption (bank payout) request."""

    amount: int
    status: RedemptionState


@dataclass(frozen=True, slots=True)
class DailyReport:
    merchant: str
    day: date
    timezone: str
    payment_count: int
    gross: int
    """What payers paid: Σ amount."""
    fees: int
    points: int
    """Of the fees, what went back to payers as token points."""
    city_share: int
    received: int
    refund_count: int
    refunded: int
    refunded_by_merchant: int
    refunded_by_city: int
    points_clawed_back: int
    net: int
    redemptions_requested: int
    redemptions_confirmed: int
    redemptions_rejected: int
    card_fee_bps: int
    van_fee_bps: int
    card_fees: int
    van_fees: int
    card_merchant_amount: int
    saving_vs_card: int


def daily_report(
    merchant: str,
    day: date,
    payments: Iterable[PaymentLine],
    refunds: Iterable[RefundLine],
    redemptions: Iterable[RedemptionLine],
    *,
    timezone: str = "Asia/Seoul",
    card_fee_bps: int = CARD_FEE_BPS,
    van_fee_bps: int = VAN_FEE_BPS,
) -> DailyReport:
    """The report of ``day`` from its payments, refunds and redemptions (already selected)."""
    pays, backs, outs = list(payments), list(refunds), list(redemptions)
    cards = [by_card(p.amount, card_fee_bps, van_fee_bps) for p in pays]
    received = sum(p.merchant_amount for p in pays)
    card_merchant_amount = sum(c.merchant_amount for c in cards)
    refunded_by_merchant = sum(r.from_merchant for r in backs)

    def redeemed(status: RedemptionState) -> int:
        return sum(r.amount for r in outs if r.status == status)

    return DailyReport(
        merchant=merchant,
        day=day,
        timezone=timezone,
        payment_count=len(pays),
        gross=sum(p.amount for p in pays),
        fees=sum(p.fee for p in pays),
        points=sum(p.points for p in pays),
        city_share=sum(p.city_share for p in pays),
        received=received,
        refund_count=len(backs),
        refunded=sum(r.amount for r in backs),
        refunded_by_merchant=refunded_by_merchant,
        refunded_by_city=sum(r.from_city for r in backs),
        points_clawed_back=sum(r.points_clawed_back for r in backs),
        net=received - refunded_by_merchant,
        redemptions_requested=redeemed(RedemptionState.REQUESTED),
        redemptions_confirmed=redeemed(RedemptionState.CONFIRMED),
        redemptions_rejected=redeemed(RedemptionState.REJECTED),
        card_fee_bps=card_fee_bps,
        van_fee_bps=van_fee_bps,
        card_fees=sum(c.card_fee for c in cards),
        van_fees=sum(c.van_fee for c in cards),
        card_merchant_amount=card_merchant_amount,
        saving_vs_card=received - card_merchant_amount,
    )


def day_bounds(day: date, timezone: str) -> tuple[int, int]:
    """The unix seconds ``[start, end)`` of ``day`` in ``timezone`` (DST-safe)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return int(start.timestamp()), int(end.timestamp())

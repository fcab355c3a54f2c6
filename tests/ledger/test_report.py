"""The daily settlement report and the invoice expiry rule (``ledger.payments``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from ledger.payments.expiry import invoice_expired
from ledger.payments.fees import RefundState, by_card, refund_split, split
from ledger.payments.report import (
    PaymentLine,
    RedemptionLine,
    RefundLine,
    daily_report,
    day_bounds,
)

MERCHANT = "0x" + "ab" * 20


def line(amount: int, fee_bps: int = 100, point_share_bps: int = 10_000) -> PaymentLine:
    s = split(amount, fee_bps, point_share_bps)
    return PaymentLine(s.amount, s.merchant_amount, s.fee, s.points, s.city_share)


def test_the_white_paper_purchase() -> None:
    """₩10,000 by token leaves the merchant ₩9,900; by card ₩9,750 (card 220, VAN 30)."""
    report = daily_report(MERCHANT, date(2026, 11, 23), [line(10_000)], [], [])
    assert (report.gross, report.received, report.fees, report.points) == (10_000, 9_900, 100, 100)
    assert (report.card_fees, report.van_fees, report.card_merchant_amount) == (220, 30, 9_750)
    assert report.saving_vs_card == 150
    assert report.net == 9_900


def test_refunds_redemptions_and_city_share() -> None:
    payment = split(20_000, 150, 6_000)  # 1.5 % fee, 60 % of it back as points
    first = refund_split(payment, RefundState(), 5_000)
    report = daily_report(
        MERCHANT,
        date(2026, 11, 23),
        [line(20_000, 150, 6_000)],
        [RefundLine(first.amount, first.from_merchant, first.from_city, first.points_clawed_back)],
        [
            RedemptionLine(1_000, "requested"),
            RedemptionLine(700, "confirmed"),
            RedemptionLine(300, "rejected"),
        ],
        card_fee_bps=200,
        van_fee_bps=0,
    )
    assert (report.fees, report.points, report.city_share) == (300, 180, 120)
    assert report.refunded == 5_000
    assert report.refunded_by_merchant == first.from_merchant
    assert report.net == 19_700 - first.from_merchant
    assert (report.redemptions_requested, report.redemptions_confirmed) == (1_000, 700)
    assert report.redemptions_rejected == 300
    assert report.saving_vs_card == 400 - 300


def test_card_fees_round_per_payment() -> None:
    """Five ₩90 sales: the card fee rounds down on each (₩1.98 → ₩1), not on the ₩450 total
    (₩9.90 → ₩9), as the token fee does."""
    report = daily_report(MERCHANT, date(2026, 1, 1), [line(90)] * 5, [], [])
    assert report.card_fees == 5
    assert report.fees == 0  # 1 % of ₩90 rounds down to nothing


@given(st.lists(st.tuples(st.integers(1, 10**9), st.integers(0, 1_000)), max_size=30))
def test_saving_is_card_fees_less_token_fees(sales: list[tuple[int, int]]) -> None:
    lines = [line(amount, fee) for amount, fee in sales]
    report = daily_report(MERCHANT, date(2026, 1, 1), lines, [], [])
    cards = [by_card(amount) for amount, _ in sales]
    assert report.saving_vs_card == sum(c.card_fee + c.van_fee for c in cards) - report.fees
    assert report.gross == report.received + report.fees
    assert report.fees == report.points + report.city_share


def test_day_bounds_are_local_days() -> None:
    start, end = day_bounds(date(2026, 11, 23), "Asia/Seoul")
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 11, 22, 15, tzinfo=UTC)
    assert end - start == 86_400
    start, end = day_bounds(date(2026, 3, 8), "America/New_York")  # DST starts: 23 hours
    assert end - start == 23 * 3_600


def test_invoice_expiry_from_the_index() -> None:
    # A later block is indexed: past paying whatever the clock says.
    assert invoice_expired(100, now=50, indexed_time=101, caught_up=False)
    assert not invoice_expired(100, now=50, indexed_time=100, caught_up=False)
    # An idle chain: the clock decides, but only once the index has every block.
    assert invoice_expired(100, now=131, indexed_time=90, caught_up=True, grace=30)
    assert not invoice_expired(100, now=130, indexed_time=90, caught_up=True, grace=30)
    assert not invoice_expired(100, now=10_000, indexed_time=90, caught_up=False, grace=30)

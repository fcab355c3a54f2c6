"""The fee split and its reversal (ledger.payments.fees): no token created or lost, ever.

Properties over every amount and rate: a payment's parts add up to it, and any sequence of
partial refunds never takes a negative amount from anyone, never takes more from the merchant or
the city than they received or more points than were given, and ends exactly at the payment's
split. The contract is checked against the same functions in tests/contracts/test_payment_router.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.payments.fees import (
    BPS,
    DEFAULT_FEE_BPS,
    DEFAULT_POINT_SHARE_BPS,
    FeeError,
    RefundState,
    Split,
    after,
    by_card,
    refund_split,
    split,
)

amounts = st.one_of(
    st.integers(min_value=1, max_value=1_000), st.integers(min_value=1, max_value=2**128)
)
rates = st.one_of(st.sampled_from([0, 1, 100, 250, 5_000, 9_999, BPS]), st.integers(0, BPS))


@st.composite
def refund_parts(draw: st.DrawFn, amount: int) -> list[int]:
    """Refunds that add up to ``amount``: a few random cuts, one-token steps near the end."""
    cuts = draw(st.lists(st.integers(min_value=1, max_value=amount), max_size=6, unique=True))
    bounds = sorted({0, amount, *cuts})
    parts = [high - low for low, high in itertools.pairwise(bounds)]
    if draw(st.booleans()) and parts[-1] > 1:  # end in one-token refunds, where rounding bites
        tail = min(parts[-1] - 1, 3)
        parts[-1] -= tail
        parts += [1] * tail
    return parts


def test_the_white_paper_purchase() -> None:
    """10,000 won by token: the merchant keeps 9,900 and the consumer saves 100 as a point; by
    card the merchant keeps 9,750 (card company 220, VAN 30)."""
    paid = split(10_000, DEFAULT_FEE_BPS, DEFAULT_POINT_SHARE_BPS)
    assert paid == Split(10_000, 9_900, 100, 100, 0)
    assert paid.payer_outflow == 9_900
    card = by_card(10_000)
    assert (card.card_fee, card.van_fee, card.merchant_amount) == (220, 30, 9_750)


@settings(max_examples=500)
@given(amount=amounts, fee_bps=rates, share_bps=rates)
def test_a_split_adds_up_and_rounds_down(amount: int, fee_bps: int, share_bps: int) -> None:
    paid = split(amount, fee_bps, share_bps)
    assert paid.merchant_amount + paid.fee == amount
    assert paid.points + paid.city_share == paid.fee
    assert paid.payer_outflow == amount - paid.points
    assert min(paid.merchant_amount, paid.fee, paid.points, paid.city_share) >= 0
    # Rounding down: the exact fee and points are never exceeded, and missed by less than 1.
    assert paid.fee * BPS <= amount * fee_bps < (paid.fee + 1) * BPS
    assert paid.points * BPS <= paid.fee * share_bps < (paid.points + 1) * BPS


@settings(max_examples=500)
@given(data=st.data(), amount=amounts, fee_bps=rates, share_bps=rates)
def test_any_sequence_of_partial_refunds_reverses_the_split_exactly(
    data: st.DataObject, amount: int, fee_bps: int, share_bps: int
) -> None:
    paid = split(amount, fee_bps, share_bps)
    parts = data.draw(refund_parts(amount))
    state = RefundState()
    from_merchant = from_city = clawed = 0
    for part in parts:
        refund = refund_split(paid, state, part)
        assert refund.amount == part
        assert refund.from_merchant + refund.from_city + refund.points_clawed_back == part
        assert min(refund.from_merchant, refund.from_city, refund.points_clawed_back) >= 0
        assert refund.payer_inflow == part - refund.points_clawed_back
        state = after(state, refund)
        from_merchant += refund.from_merchant
        from_city += refund.from_city
        clawed += refund.points_clawed_back
        # Nobody ever gives back more than they received from the payment.
        assert from_merchant <= paid.merchant_amount
        assert from_city <= paid.city_share
        assert clawed <= paid.points
        assert state == RefundState(refund.refunded_total, clawed, from_city)
    assert state.refunded == amount
    assert (from_merchant, from_city, clawed) == (
        paid.merchant_amount,
        paid.city_share,
        paid.points,
    )


def test_two_rounded_parts_in_one_token_do_not_ask_the_merchant_for_minus_one() -> None:
    """Prorating points and city share separately (the first draft of the arithmetic) makes a
    one-token refund return one point and one city token at once: -1 from the merchant."""
    paid = split(200, 100, 5_000)  # fee 2: one point, one city token
    first = refund_split(paid, RefundState(), 199)
    last = refund_split(paid, after(RefundState(), first), 1)
    assert (first.from_merchant, first.from_city, first.points_clawed_back) == (198, 1, 0)
    assert (last.from_merchant, last.from_city, last.points_clawed_back) == (0, 0, 1)


def test_refunds_refuse_zero_and_more_than_is_left() -> None:
    paid = split(1_000, 100)
    with pytest.raises(FeeError, match="at least 1 token"):
        refund_split(paid, RefundState(), 0)
    with pytest.raises(FeeError, match="exceeds the 1,000 still refundable"):
        refund_split(paid, RefundState(), 1_001)
    half = after(RefundState(), refund_split(paid, RefundState(), 500))
    with pytest.raises(FeeError, match="exceeds the 500 still refundable"):
        refund_split(paid, half, 501)


@pytest.mark.parametrize(("amount", "fee", "share"), [(0, 100, 0), (1, -1, 0), (1, 0, BPS + 1)])
def test_a_split_refuses_what_the_contract_refuses(amount: int, fee: int, share: int) -> None:
    with pytest.raises(FeeError):
        split(amount, fee, share)

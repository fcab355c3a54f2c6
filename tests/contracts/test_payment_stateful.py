"""Stateful test of the PaymentRouter: hypothesis drives random sequences of payments, refunds,
redemption requests and decisions, city-fee withdrawals, fee changes and top-ups against the real
contracts on the embedded node, and keeps a Python model (built on ``ledger.payments.fees``).

Every step goes through the ledger wrappers (``Chain.transact`` simulates first, so a refused step
sends nothing); a refused step must be refused with exactly the error the model predicts
(insufficient balance, refund too large, city fees short, unknown redemption, ...). After every
step the chain must agree with the model and conserve every token:

* Σ balances of every party + the router's balance == totalSupply (nothing else holds tokens);
* the router holds exactly cityFees + escrowed, both equal to the model's;
* every balance equals the model's (so none is negative), and no payment is refunded beyond its
  amount (the model's refund state equals ``paymentOf`` for the payment just touched).

Bounded to about a minute and a half (``EXAMPLES`` x ``STEPS``); the long supply-invariant run of
the token is tests/contracts/stateful.py (run as test_stateful_part1.py and _part2.py).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from web3.contract.contract import ContractFunction

from cityledger.testing.city import TestCity
from ledger.exceptions import ContractRevertError
from ledger.payments.fees import BPS, RefundState, Split, after, refund_split, split
from ledger.payments.orders import Order
from ledger.types import AccountKind, RedemptionStatus
from tests.contracts.helpers import Town
from tests.strategies import AmountMode, amount_for, amount_modes, amount_seeds

EXAMPLES = 30
STEPS = 25
OWN_FEE_BPS = 250
"""The second merchant's own fee (the first pays the default, whatever the rules set it to)."""

Expected = tuple[str, dict[str, object]] | None
"""The custom error and arguments a step must be refused with, or None: it must succeed."""

index = st.integers(min_value=0, max_value=63)
rates = st.one_of(st.sampled_from([0, 100, 5_000, BPS]), st.integers(0, BPS))


@dataclass
class Parties:
    town: Town
    payers: list[LocalAccount]
    merchants: list[LocalAccount]
    payee: LocalAccount
    """Receives the city's fee withdrawals."""
    outcomes: Counter[str] = field(default_factory=Counter)
    refs: itertools.count[int] = field(default_factory=itertools.count)
    steps: int = 0

    @property
    def accounts(self) -> list[str]:
        return [a.address for a in (*self.payers, *self.merchants, self.payee)]


@dataclass
class PaymentModel:
    ref: bytes
    payer: str
    merchant: str
    split: Split
    state: RefundState = field(default_factory=RefundState)


@dataclass
class RedemptionModel:
    id: int
    merchant: str
    amount: int
    status: RedemptionStatus = RedemptionStatus.REQUESTED


@pytest.fixture(scope="module")
def parties(test_city: TestCity) -> Parties:
    town = Town(test_city)
    payers = [town.resident(balance=200_000) for _ in range(3)]
    merchants = [town.resident(balance=0, kind=AccountKind.MERCHANT) for _ in range(2)]
    payee = town.resident()
    for account in (*payers, *merchants):  # one approval for good: every step is one transaction
        town.token.approve(account, town.payments.address, 2**255)
    town.payments.set_merchant_fee(town.merchant_admin, merchants[1].address, OWN_FEE_BPS)
    # The city takes half of each fee from the start, so refunds and withdrawals meet city fees.
    town.payments.set_fee_schedule(town.merchant_admin, 100, 5_000)
    return Parties(town, payers, merchants, payee)


class PaymentMachine(RuleBasedStateMachine):
    """Examples share the module's city: each starts from the chain's state as the previous one
    left it. No rule has a precondition and every rule draws all its arguments before acting,
    so what hypothesis draws never depends on that state (only the outcomes the model predicts
    from it do)."""

    parties: ClassVar[Parties]

    def __init__(self) -> None:
        super().__init__()
        town = self.parties.town
        self.balance: dict[str, int] = {a: town.token.balance_of(a) for a in self.parties.accounts}
        schedule = town.payments.fee_schedule()
        self.default_fee, self.share = schedule.default_fee_bps, schedule.point_share_bps
        self.city_fees: int = town.payments.city_fees()
        self.escrow: int = town.payments.escrowed()
        self.supply: int = town.token.total_supply()
        self.payments: list[PaymentModel] = []
        self.redemptions: list[RedemptionModel] = []
        self.touched: PaymentModel | None = None

    # -- helpers --------------------------------------------------------------------------------

    @property
    def town(self) -> Town:
        return self.parties.town

    def fee_of(self, merchant: LocalAccount) -> int:
        return OWN_FEE_BPS if merchant is self.parties.merchants[1] else self.default_fee

    def attempt(self, name: str, expected: Expected, send: Callable[[], object]) -> bool:
        """Run ``send``; it must be refused with ``expected`` (or succeed if None)."""
        self.parties.steps += 1
        refusal: ContractRevertError | None = None
        try:
            send()
        except ContractRevertError as exc:
            refusal = exc
        if refusal is not None:
            got = (refusal.error, refusal.error_args)
            assert expected is not None, f"{name}: refused with {got}; the model expected success"
            assert got == expected, refusal.message
            self.parties.outcomes[f"{name}: {refusal.error}"] += 1
            return False
        assert expected is None, f"{name} succeeded; the model expected {expected}"
        self.parties.outcomes[f"{name}: ok"] += 1
        return True

    def ref(self) -> str:
        return f"ps-{time.time_ns()}-{next(self.parties.refs)}"

    # -- rules ----------------------------------------------------------------------------------

    @rule(
        who=index,
        shop=index,
        mode=amount_modes,
        seed=amount_seeds,
        refund_now=st.sampled_from([None, None, "part", "all"]),
    )
    def pay(
        self, who: int, shop: int, mode: AmountMode, seed: int, refund_now: AmountMode | None
    ) -> None:
        """Pay an invoice; now and then the merchant refunds part or all of it at once (a
        returned purchase), so refunds happen in every example that pays."""
        payer = self.parties.payers[who % len(self.parties.payers)]
        merchant = self.parties.merchants[shop % len(self.parties.merchants)]
        have = self.balance[payer.address]
        amount = max(1, amount_for(mode, seed, have))
        paid = split(amount, self.fee_of(merchant), self.share)
        expected: Expected = None
        if paid.merchant_amount > have:
            expected = (
                "ERC20InsufficientBalance",
                {"sender": payer.address, "balance": have, "needed": paid.merchant_amount},
            )
        elif paid.payer_outflow > have:
            rest = have - paid.merchant_amount
            expected = (
                "ERC20InsufficientBalance",
                {"sender": payer.address, "balance": rest, "needed": paid.city_share},
            )
        order = Order.new(merchant.address, amount, self.town.latest_timestamp() + 3_600)
        if self.attempt("pay", expected, partial(self.town.payments.pay, payer, order)):
            self.balance[payer.address] -= paid.payer_outflow
            self.balance[merchant.address] += paid.merchant_amount
            self.city_fees += paid.city_share
            self.touched = PaymentModel(order.ref, payer.address, merchant.address, paid)
            self.payments.append(self.touched)
            if refund_now is not None:
                self.refund_some(self.touched, refund_now, seed)

    @rule(which=index, mode=amount_modes, seed=amount_seeds)
    def refund(self, which: int, mode: AmountMode, seed: int) -> None:
        if not self.payments:
            return
        self.refund_some(self.payments[which % len(self.payments)], mode, seed)

    def refund_some(self, payment: PaymentModel, mode: AmountMode, seed: int) -> None:
        refundable = payment.split.amount - payment.state.refunded
        amount = amount_for(mode, seed, refundable)
        expected: Expected = None
        parts = None
        if amount == 0:
            expected = ("PaymentRouterZeroAmount", {})
        elif amount > refundable:
            expected = (
                "PaymentRouterRefundTooLarge",
                {"amount": amount, "refundable": refundable},
            )
        else:
            parts = refund_split(payment.split, payment.state, amount)
            held = self.balance[payment.merchant]
            if parts.from_city > self.city_fees:
                expected = (
                    "PaymentRouterInsufficientCityFees",
                    {"amount": parts.from_city, "available": self.city_fees},
                )
            elif parts.from_merchant > held:
                expected = (
                    "ERC20InsufficientBalance",
                    {"sender": payment.merchant, "balance": held, "needed": parts.from_merchant},
                )
        merchant = next(m for m in self.parties.merchants if m.address == payment.merchant)
        send = partial(self.town.payments.refund, merchant, payment.ref, amount)
        if self.attempt("refund", expected, send):
            assert parts is not None
            self.balance[payment.merchant] -= parts.from_merchant
            self.balance[payment.payer] += parts.payer_inflow
            self.city_fees -= parts.from_city
            payment.state = after(payment.state, parts)
            self.touched = payment

    @rule(shop=index, mode=amount_modes, seed=amount_seeds)
    def request_redemption(self, shop: int, mode: AmountMode, seed: int) -> None:
        merchant = self.parties.merchants[shop % len(self.parties.merchants)]
        have = self.balance[merchant.address]
        amount = amount_for(mode, seed, have)
        expected: Expected = None
        if amount == 0:
            expected = ("PaymentRouterZeroAmount", {})
        elif amount > have:
            expected = (
                "ERC20InsufficientBalance",
                {"sender": merchant.address, "balance": have, "needed": amount},
            )
        ids: list[int] = []

        def send() -> None:
            ids.append(self.town.payments.request_redemption(merchant, amount))

        if self.attempt("request redemption", expected, send):
            self.balance[merchant.address] -= amount
            self.escrow += amount
            self.redemptions.append(RedemptionModel(ids[0], merchant.address, amount))

    @rule(which=index, confirm=st.booleans())
    def decide_redemption(self, which: int, confirm: bool) -> None:
        if not self.redemptions:
            return
        redemption = self.redemptions[which % len(self.redemptions)]
        expected: Expected = None
        if redemption.status is not RedemptionStatus.REQUESTED:
            expected = ("PaymentRouterUnknownRedemption", {"redemptionId": redemption.id})
        treasury, payments = self.town.treasury, self.town.payments
        if confirm:
            ref = self.ref()
            sent = self.attempt(
                "confirm redemption",
                expected,
                partial(payments.confirm_redemption, treasury, redemption.id, ref),
            )
            if sent:
                self.escrow -= redemption.amount
                self.supply -= redemption.amount
                redemption.status = RedemptionStatus.CONFIRMED
                assert self.town.token.settlement_ref_used(ref)
        elif self.attempt(
            "reject redemption",
            expected,
            partial(payments.reject_redemption, treasury, redemption.id, "stateful"),
        ):
            self.escrow -= redemption.amount
            self.balance[redemption.merchant] += redemption.amount
            redemption.status = RedemptionStatus.REJECTED

    @rule(mode=amount_modes, seed=amount_seeds)
    def withdraw_city_fees(self, mode: AmountMode, seed: int) -> None:
        amount = amount_for(mode, seed, self.city_fees)
        expected: Expected = None
        if amount == 0:
            expected = ("PaymentRouterZeroAmount", {})
        elif amount > self.city_fees:
            expected = (
                "PaymentRouterInsufficientCityFees",
                {"amount": amount, "available": self.city_fees},
            )
        payee = self.parties.payee.address
        send = partial(self.town.payments.withdraw_city_fees, self.town.treasury, payee, amount)
        if self.attempt("withdraw city fees", expected, send):
            self.city_fees -= amount
            self.balance[payee] += amount

    @rule(fee=rates, share=rates, now=st.integers(0, 3))
    def set_fee_schedule(self, fee: int, share: int, now: int) -> None:
        if now != 3:  # one draw in four changes the rates: payments and refunds come first
            return
        admin = self.town.merchant_admin
        send = partial(self.town.payments.set_fee_schedule, admin, fee, share)
        if self.attempt("set fee schedule", None, send):
            self.default_fee, self.share = fee, share

    @rule(who=index, amount=st.integers(1, 300_000), now=st.integers(0, 3))
    def top_up(self, who: int, amount: int, now: int) -> None:
        if now != 3:  # one draw in four: hypothesis would otherwise pick this simple rule most
            return
        payer = self.parties.payers[who % len(self.parties.payers)]
        treasury = self.town.treasury
        send = partial(self.town.token.mint, treasury, payer.address, amount, self.ref())
        if self.attempt("top up", None, send):
            self.balance[payer.address] += amount
            self.supply += amount

    # -- the invariants -------------------------------------------------------------------------

    @invariant()
    def chain_agrees_and_every_token_is_accounted_for(self) -> None:
        token = self.town.token.contract.functions
        router = self.town.payments.contract.functions
        accounts = self.parties.accounts
        reads: list[ContractFunction] = [token.balanceOf(a) for a in accounts]
        reads += [
            token.balanceOf(self.town.payments.address),
            token.totalSupply(),
            router.cityFees(),
            router.escrowed(),
        ]
        if self.touched is not None:
            reads.append(router.paymentOf(self.touched.ref))
        with self.town.chain.w3.batch_requests() as batch:  # one JSON-RPC round trip
            for read in reads:
                batch.add(read)
            values: list[Any] = list(batch.execute())
        n = len(accounts)
        balances = dict(zip(accounts, values[:n], strict=True))
        held, supply, city_fees, escrow = values[n : n + 4]
        assert balances == self.balance
        assert all(b >= 0 for b in self.balance.values())
        assert (city_fees, escrow) == (self.city_fees, self.escrow)
        assert held == city_fees + escrow
        assert supply == self.supply
        assert sum(balances.values()) + held == supply
        for payment in self.payments:
            assert payment.state.refunded <= payment.split.amount
        if self.touched is not None:
            payer, merchant, amount, fee, points, city, refunded, clawed, returned, _ = values[-1]
            assert (payer, merchant) == (self.touched.payer, self.touched.merchant)
            assert Split(amount, amount - fee, fee, points, city) == self.touched.split
            assert RefundState(refunded, clawed, returned) == self.touched.state
            self.touched = None


@pytest.mark.slow
def test_payments_refunds_and_redemptions_conserve_every_token(
    parties: Parties, capsys: pytest.CaptureFixture[str]
) -> None:
    PaymentMachine.parties = parties
    started = time.perf_counter()
    try:
        run_state_machine_as_test(
            PaymentMachine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        town = parties.town
        town.payments.set_fee_schedule(town.merchant_admin, 100, BPS)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\npayment stateful: {parties.steps} steps in {elapsed:.0f} s "
            f"({parties.steps / elapsed:.1f} steps/s)"
        )
        for outcome, count in sorted(parties.outcomes.items()):
            print(f"  {outcome:<52} {count:>5}")
    # Hypothesis disables a random subset of the rules in each example (swarm testing), so a
    # short run cannot promise every success; it must have paid and refunded, and tried the rest.
    assert parties.outcomes["pay: ok"] > 0
    assert parties.outcomes["refund: ok"] > 0
    for name in ("request redemption", "withdraw city fees"):
        assert sum(n for o, n in parties.outcomes.items() if o.startswith(f"{name}: ")), name

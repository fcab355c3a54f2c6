"""PaymentRouter's rules, on the embedded node AND on anvil (the same assertions must hold on both).

Payments (the white paper's 10,000-won purchase, per-merchant and category fees, the city's
share), invoices that can be paid once and never after they were cancelled or expired, relayed
payments with EIP-712 authorizations and EIP-2612 permits, refunds in any number of parts,
two-step merchant redemption and the city's fee share. Every refusal is checked by the exact
custom error and by showing that nothing moved; every success by its events and balances. A
hypothesis property checks that the contract's quotes and events agree with
``ledger.payments.fees`` for random amounts and rates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityledger.testing.accounts import make_accounts
from ledger.contracts.payments import Payment, PaymentRouter, Refund
from ledger.domains import FUNCTION_ROLES
from ledger.exceptions import (
    AccessDeniedError,
    AccountNotActiveError,
    InsufficientBalanceError,
    InvoiceClosedError,
    PaymentError,
    ReferenceUsedError,
    TokenPausedError,
)
from ledger.payments.fees import BPS, RefundState, Split, after, refund_split, split
from ledger.payments.orders import PAY_DOMAIN_NAME, PAY_DOMAIN_VERSION, Order
from ledger.types import AccountKind, AccountStatus, RedemptionStatus, reference, reference_text
from tests.contracts.helpers import Town, events, new_ref, only_event, outsider, reverts

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_WORD = bytes(32)
DAY = 86_400


PAYMENT_SUITE_ACCOUNTS = 5 + 120 + 2
"""This module hands out more people than the other suites (each payment test has its own payer
and merchant): the test city's 5 + 2 staff around 120 people."""


@pytest.fixture(scope="module")
def accounts() -> list[LocalAccount]:
    """Overrides tests/contracts/conftest.py for this module's nodes and cities."""
    return make_accounts(PAYMENT_SUITE_ACCOUNTS)


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def town(request: pytest.FixtureRequest) -> Town:
    """The deployed city on the embedded node, then (a second module run) on anvil."""
    return Town(
        request.getfixturevalue("test_city" if request.param == "embedded" else "anvil_city")
    )


# -- helpers --------------------------------------------------------------------------------------


def router(town: Town) -> PaymentRouter:
    return town.payments


def merchant(town: Town, balance: int = 0) -> LocalAccount:
    return town.resident(balance, kind=AccountKind.MERCHANT)


def invoice(town: Town, shop: LocalAccount | str, amount: int, valid_for: int = DAY) -> Order:
    """A fresh invoice, payable until ``valid_for`` seconds of chain time from now."""
    address = shop if isinstance(shop, str) else shop.address
    return Order.new(address, amount, town.latest_timestamp() + valid_for)


def balance(town: Town, account: LocalAccount | str) -> int:
    return town.token.balance_of(account if isinstance(account, str) else account.address)


def allowance(town: Town, owner: LocalAccount) -> int:
    return town.token.allowance(owner.address, town.payments.address)


def quote_of(settled: dict[str, Any]) -> Split:
    return Split(
        settled["amount"],
        settled["merchantAmount"],
        settled["fee"],
        settled["points"],
        settled["cityShare"],
    )


def router_books(town: Town) -> tuple[int, int, int]:
    """(router balance, city fees, escrow): the balance is always the other two together."""
    return balance(town, town.payments.address), town.payments.city_fees(), town.payments.escrowed()


def assert_books_balance(town: Town) -> None:
    held, city, escrow = router_books(town)
    assert held == city + escrow


@contextmanager
def fee_schedule(town: Town, default_fee_bps: int, point_share_bps: int) -> Iterator[None]:
    """Change the city-wide schedule for one test, and put the defaults back."""
    town.payments.set_fee_schedule(town.merchant_admin, default_fee_bps, point_share_bps)
    try:
        yield
    finally:
        town.payments.set_fee_schedule(town.merchant_admin, 100, BPS)


def raw_pay(town: Town, payer: LocalAccount, order: tuple[Any, ...]) -> object:
    """``pay`` with a hand-made order tuple (values ``Order`` itself refuses)."""
    return town.chain.transact(payer, town.payments.contract.functions.pay(order))


# -- deployment -----------------------------------------------------------------------------------


def test_the_router_is_wired_to_the_city_with_the_white_paper_defaults(town: Town) -> None:
    payments = router(town)
    assert payments.fee_schedule().default_fee_bps == 100
    assert payments.fee_schedule().point_share_bps == BPS
    assert payments.token.address == town.token.address
    assert town.chain.call(payments.contract.functions.registry()) == town.registry.address
    _, name, version, chain_id, contract, *_ = town.chain.call(
        payments.contract.functions.eip712Domain()
    )
    assert (name, version, chain_id, contract) == (
        PAY_DOMAIN_NAME,
        PAY_DOMAIN_VERSION,
        town.chain.chain_id,
        payments.address,
    )
    registration = town.registry.registration_of(payments.address)
    assert (registration.kind, registration.status) == (
        AccountKind.CITY_SERVICE,
        AccountStatus.ACTIVE,
    )
    # Nothing paid, redeemed or held yet; redemption ids will start at 1.
    assert router_books(town) == (0, 0, 0)
    assert payments.redemption_count() == 0
    assert payments.redemption_of(0) is None
    shop = merchant(town)
    assert payments.quote(shop.address, 10_000) == Split(10_000, 9_900, 100, 100, 0)
    order = invoice(town, shop, 10_000)
    assert payments.invoice_ref_of(order) == order.ref


# -- paying ---------------------------------------------------------------------------------------


def test_the_white_paper_purchase_leaves_9900_to_the_merchant_and_100_as_a_point(
    town: Town,
) -> None:
    payer, shop = town.resident(balance=10_000), merchant(town)
    order = invoice(town, shop, 10_000)
    receipt = router(town).pay(payer, order)

    assert balance(town, shop) == 9_900
    assert balance(town, payer) == 100, "the point never left the payer"
    assert allowance(town, payer) == 0, "the router was approved for exactly what it took"
    assert only_event(receipt, town.payments, "PaymentSettled") == {
        "invoiceRef": order.ref,
        "payer": payer.address,
        "merchant": shop.address,
        "amount": 10_000,
        "merchantAmount": 9_900,
        "fee": 100,
        "points": 100,
        "cityShare": 0,
    }
    assert events(receipt, town.token, "Transfer") == [
        {"from": payer.address, "to": shop.address, "value": 9_900}
    ]
    settled = router(town).settlement_in(receipt)
    assert settled.split == split(10_000, 100) == Split(10_000, 9_900, 100, 100, 0)
    assert (settled.ref, settled.payer, settled.merchant) == (
        order.ref,
        payer.address,
        shop.address,
    )
    payment = router(town).payment_of(order.ref)
    assert payment is not None
    assert (payment.payer, payment.merchant, payment.split) == (
        payer.address,
        shop.address,
        settled.split,
    )
    assert (payment.refunded, payment.points_clawed_back, payment.city_share_returned) == (0, 0, 0)
    block = town.chain.w3.eth.get_block(receipt["blockNumber"])
    assert payment.paid_at == block["timestamp"]
    assert router(town).payment_of(invoice(town, shop, 1).ref) is None


def test_merchant_and_category_fees_override_the_default(town: Town) -> None:
    payments, admin = router(town), town.merchant_admin
    grocer, florist, baker = merchant(town), merchant(town), merchant(town)
    category = 4_101
    assert payments.category_fee_of(category) is None
    receipt = payments.set_category_fee(admin, category, 250)
    assert only_event(receipt, town.payments, "CategoryFeeSet") == {
        "category": category,
        "feeBps": 250,
    }
    for shop in (grocer, florist):
        receipt = payments.set_merchant_category(admin, shop.address, category)
        assert only_event(receipt, town.payments, "MerchantCategorySet") == {
            "merchant": shop.address,
            "category": category,
        }
    receipt = payments.set_merchant_fee(admin, florist.address, 30)
    assert only_event(receipt, town.payments, "MerchantFeeSet") == {
        "merchant": florist.address,
        "feeBps": 30,
        "enabled": True,
    }
    # A category without a fee of its own pays the default.
    payments.set_merchant_category(admin, baker.address, category + 1)

    assert [payments.fee_bps_of(m.address) for m in (grocer, florist, baker)] == [250, 30, 100]
    assert payments.merchant_category_of(florist.address) == category
    assert payments.merchant_fee_of(florist.address) == 30
    assert payments.merchant_fee_of(grocer.address) is None
    payer = town.resident(balance=30_000)
    for shop, fee in ((grocer, 250), (florist, 30), (baker, 100)):
        receipt = payments.pay(payer, invoice(town, shop, 10_000))
        assert payments.settlement_in(receipt).split == split(10_000, fee)
    assert [balance(town, m) for m in (grocer, florist, baker)] == [9_750, 9_970, 9_900]

    # Removing the own fee falls back to the category's.
    receipt = payments.set_merchant_fee(admin, florist.address, 30, enabled=False)
    assert only_event(receipt, town.payments, "MerchantFeeSet")["enabled"] is False
    assert payments.fee_bps_of(florist.address) == 250


def test_fee_setters_refuse_rates_above_100_percent_and_the_default_category(town: Town) -> None:
    payments, admin = router(town), town.merchant_admin
    shop = merchant(town)
    error = reverts(
        lambda: payments.set_merchant_fee(admin, shop.address, BPS + 1),
        "PaymentRouterInvalidBps",
        bps=BPS + 1,
    )
    assert isinstance(error, PaymentError)
    reverts(
        lambda: payments.set_category_fee(admin, 9, 20_000), "PaymentRouterInvalidBps", bps=20_000
    )
    reverts(
        lambda: payments.set_fee_schedule(admin, 100, BPS + 1),
        "PaymentRouterInvalidBps",
        bps=BPS + 1,
    )
    reverts(
        lambda: payments.set_fee_schedule(admin, 65_535, 0), "PaymentRouterInvalidBps", bps=65_535
    )
    reverts(
        lambda: payments.set_category_fee(admin, 0, 50), "PaymentRouterInvalidCategory", category=0
    )
    reverts(lambda: payments.set_merchant_fee(admin, ZERO_ADDRESS, 50), "PaymentRouterZeroAddress")
    reverts(
        lambda: payments.set_merchant_category(admin, ZERO_ADDRESS, 3), "PaymentRouterZeroAddress"
    )
    assert payments.fee_schedule().default_fee_bps == 100
    assert payments.fee_bps_of(shop.address) == 100


def test_the_city_keeps_its_share_of_the_fee_and_the_payer_keeps_the_points(town: Town) -> None:
    payer, shop = town.resident(balance=10_000), merchant(town)
    books = router_books(town)
    with fee_schedule(town, 200, 2_500):
        assert router(town).quote(shop.address, 10_000) == Split(10_000, 9_800, 200, 50, 150)
        receipt = router(town).pay(payer, invoice(town, shop, 10_000))
    assert quote_of(only_event(receipt, town.payments, "PaymentSettled")) == split(
        10_000, 200, 2_500
    )
    assert balance(town, shop) == 9_800
    assert balance(town, payer) == 50
    assert router_books(town) == (books[0] + 150, books[1] + 150, books[2])
    assert events(receipt, town.token, "Transfer") == [
        {"from": payer.address, "to": shop.address, "value": 9_800},
        {"from": payer.address, "to": town.payments.address, "value": 150},
    ]


def test_an_invoice_is_paid_once(town: Town) -> None:
    payer, other, shop = town.resident(balance=2_000), town.resident(balance=2_000), merchant(town)
    order = invoice(town, shop, 1_000)
    router(town).pay(payer, order)
    for someone in (payer, other):
        town.token.approve(someone, town.payments.address, 1_000)
        error = reverts(
            partial(router(town).pay, someone, order),
            "PaymentRouterInvoicePaid",
            invoiceRef=reference_text(order.ref),
        )
        assert isinstance(error, InvoiceClosedError)
    assert balance(town, other) == 2_000
    assert balance(town, shop) == 990
    # A paid invoice cannot be cancelled either.
    reverts(
        partial(router(town).cancel_invoice, shop, order),
        "PaymentRouterInvoicePaid",
        invoiceRef=reference_text(order.ref),
    )
    assert not router(town).is_cancelled(order.ref)


def test_a_cancelled_invoice_cannot_be_paid_and_only_its_merchant_or_the_operator_cancel(
    town: Town,
) -> None:
    payer, shop, rival = town.resident(balance=1_000), merchant(town), merchant(town)
    order = invoice(town, shop, 1_000)
    for intruder in (rival, payer, town.admin):
        reverts(
            partial(router(town).cancel_invoice, intruder, order),
            "PaymentRouterNotInvoiceMerchant",
            caller=intruder.address,
            merchant=shop.address,
        )
    receipt = router(town).cancel_invoice(shop, order)
    assert only_event(receipt, town.payments, "InvoiceCancelled") == {
        "invoiceRef": order.ref,
        "merchant": shop.address,
        "by": shop.address,
    }
    assert router(town).is_cancelled(order.ref)
    error = reverts(
        partial(router(town).pay, payer, order),
        "PaymentRouterInvoiceCancelled",
        invoiceRef=reference_text(order.ref),
    )
    assert isinstance(error, InvoiceClosedError)
    reverts(
        partial(router(town).cancel_invoice, shop, order),
        "PaymentRouterInvoiceCancelled",
        invoiceRef=reference_text(order.ref),
    )
    assert balance(town, payer) == 1_000

    # The city's payment service cancels for merchants; nobody else may use that door.
    voided = invoice(town, shop, 500)
    receipt = router(town).cancel_invoice_for(town.payment_operator, voided)
    assert only_event(receipt, town.payments, "InvoiceCancelled") == {
        "invoiceRef": voided.ref,
        "merchant": shop.address,
        "by": town.payment_operator.address,
    }
    error = reverts(
        partial(router(town).cancel_invoice_for, shop, invoice(town, shop, 500)),
        "AccessManagedUnauthorized",
        caller=shop.address,
    )
    assert isinstance(error, AccessDeniedError)


def test_an_expired_invoice_cannot_be_paid(town: Town) -> None:
    payer, shop = town.resident(balance=1_000), merchant(town)
    order = invoice(town, shop, 1_000, valid_for=3)
    town.advance_to(order.valid_until + 1)
    error = reverts(
        partial(router(town).pay, payer, order),
        "PaymentRouterInvoiceExpired",
        invoiceRef=reference_text(order.ref),
        validUntil=order.valid_until,
    )
    assert isinstance(error, InvoiceClosedError)
    assert balance(town, payer) == 1_000
    assert router(town).payment_of(order.ref) is None


def test_only_an_active_merchant_can_be_paid(town: Town) -> None:
    payer = town.resident(balance=5_000)
    resident, unregistered, frozen = town.resident(), outsider().address, merchant(town)
    town.registry.freeze(town.registrar, frozen.address)
    for payee in (resident.address, unregistered, frozen.address, town.payments.address):
        error = reverts(
            partial(router(town).pay, payer, invoice(town, payee, 1_000)),
            "PaymentRouterNotMerchant",
            merchant=payee,
        )
        assert isinstance(error, PaymentError)
    assert balance(town, payer) == 5_000
    reverts(
        lambda: raw_pay(town, payer, (town.payments.address, 0, 2**40, ZERO_WORD)),
        "PaymentRouterZeroAmount",
    )


def test_a_frozen_payer_cannot_pay_and_the_invoice_stays_open(town: Town) -> None:
    payer, shop = town.resident(balance=1_000), merchant(town)
    order = invoice(town, shop, 1_000)
    town.token.approve(payer, town.payments.address, 990)
    town.registry.freeze(town.registrar, payer.address)
    error = reverts(
        partial(router(town).pay, payer, order),
        "CityTokenAccountNotActive",
        account=payer.address,
    )
    assert isinstance(error, AccountNotActiveError)
    assert router(town).payment_of(order.ref) is None
    town.registry.unfreeze(town.registrar, payer.address)
    router(town).pay(payer, order)
    assert balance(town, shop) == 990


def test_the_router_spends_allowances_as_an_active_city_service_and_not_when_frozen(
    town: Town,
) -> None:
    """The token's spender rule has no exemption for the city's contracts: the router is an
    active CityService account (the deployment registers it), and freezing it stops every pull
    from payers, with the router named as the spender."""
    registration = town.registry.registration_of(town.payments.address)
    assert (registration.kind, registration.status) == (
        AccountKind.CITY_SERVICE,
        AccountStatus.ACTIVE,
    )
    payer, shop = town.resident(balance=1_000), merchant(town)
    order = invoice(town, shop, 1_000)
    town.token.approve(payer, town.payments.address, 990)
    town.registry.freeze(town.registrar, town.payments.address)
    try:
        error = reverts(
            partial(router(town).pay, payer, order),
            "CityTokenSpenderNotActive",
            spender=town.payments.address,
            status="frozen",
        )
        assert isinstance(error, AccountNotActiveError)
    finally:
        town.registry.unfreeze(town.registrar, town.payments.address)
    assert router(town).payment_of(order.ref) is None
    assert allowance(town, payer) == 990
    router(town).pay(payer, order)
    assert balance(town, shop) == 990


def test_a_paused_token_stops_payments_but_not_cancellations(town: Town) -> None:
    payer, shop = town.resident(balance=1_000), merchant(town)
    order, other = invoice(town, shop, 1_000), invoice(town, shop, 200)
    town.token.pause(town.pauser)
    try:
        error = reverts(partial(router(town).pay, payer, order), "EnforcedPause")
        assert isinstance(error, TokenPausedError)
        router(town).cancel_invoice(shop, other)  # moves no token
    finally:
        town.token.unpause(town.pauser)
    assert router(town).payment_of(order.ref) is None
    router(town).pay(payer, order)
    assert balance(town, shop) == 990


def test_a_payer_without_enough_tokens_is_refused_by_the_token(town: Town) -> None:
    payer, shop = town.resident(balance=500), merchant(town)
    order = invoice(town, shop, 1_000)
    error = reverts(
        partial(router(town).pay, payer, order),
        "ERC20InsufficientBalance",
        sender=payer.address,
        balance=500,
        needed=990,
    )
    assert isinstance(error, InsufficientBalanceError)
    assert router(town).payment_of(order.ref) is None


# -- relayed payments -----------------------------------------------------------------------------


def relay(town: Town) -> LocalAccount:
    """Who relays: the city's payment service (the API), which holds no token and needs no
    registration; any allowlisted account could."""
    return town.payment_operator


def test_a_relayer_pays_for_a_payer_who_signed_and_approved(town: Town) -> None:
    payer, shop, relayer = town.resident(balance=10_000), merchant(town), relay(town)
    order = invoice(town, shop, 10_000)
    town.token.approve(payer, town.payments.address, 9_900)
    deadline = town.latest_timestamp() + DAY
    signature = router(town).sign_pay(payer, order.ref, deadline)
    receipt = router(town).pay_for(relayer, payer.address, order, deadline, signature)
    settled = router(town).settlement_in(receipt)
    assert (settled.payer, settled.merchant, settled.split) == (
        payer.address,
        shop.address,
        split(10_000, 100),
    )
    assert (balance(town, payer), balance(town, shop), balance(town, relayer)) == (100, 9_900, 0)
    # The authorization is spent with the invoice: replaying it pays nothing twice.
    reverts(
        partial(router(town).pay_for, relayer, payer.address, order, deadline, signature),
        "PaymentRouterInvoicePaid",
        invoiceRef=reference_text(order.ref),
    )


def test_a_relayed_payment_needs_the_payers_signature_for_this_invoice(town: Town) -> None:
    payer, thief, shop, relayer = (
        town.resident(balance=10_000),
        town.resident(),
        merchant(town),
        relay(town),
    )
    town.token.approve(payer, town.payments.address, 10_000)
    order = invoice(town, shop, 1_000)
    deadline = town.latest_timestamp() + DAY
    forged = router(town).sign_pay(thief, order.ref, deadline)
    other_invoice = router(town).sign_pay(payer, invoice(town, shop, 1).ref, deadline)
    for signature in (forged, other_invoice, b"\x01" * 65, b""):
        error = reverts(
            partial(router(town).pay_for, relayer, payer.address, order, deadline, signature),
            "PaymentRouterInvalidSignature",
            payer=payer.address,
        )
        assert isinstance(error, PaymentError)
    # Signed for another deadline than the one relayed.
    late = router(town).sign_pay(payer, order.ref, deadline + 1)
    reverts(
        partial(router(town).pay_for, relayer, payer.address, order, deadline, late),
        "PaymentRouterInvalidSignature",
        payer=payer.address,
    )
    assert balance(town, payer) == 10_000
    assert router(town).payment_of(order.ref) is None


def test_an_expired_authorization_is_refused(town: Town) -> None:
    payer, shop, relayer = town.resident(balance=1_000), merchant(town), relay(town)
    town.token.approve(payer, town.payments.address, 1_000)
    order = invoice(town, shop, 1_000)
    deadline = town.latest_timestamp() + 2
    signature = router(town).sign_pay(payer, order.ref, deadline)
    town.advance_to(deadline + 1)
    error = reverts(
        partial(router(town).pay_for, relayer, payer.address, order, deadline, signature),
        "PaymentRouterAuthorizationExpired",
        deadline=deadline,
    )
    assert isinstance(error, PaymentError)
    assert balance(town, payer) == 1_000


def test_a_relayed_payment_with_a_permit_needs_no_approval(town: Town) -> None:
    payer, shop, relayer = town.resident(balance=10_000), merchant(town), relay(town)
    order = invoice(town, shop, 10_000)
    assert allowance(town, payer) == 0
    permit = router(town).sign_permit(payer, order, valid_for=DAY)
    deadline = town.latest_timestamp() + DAY
    signature = router(town).sign_pay(payer, order.ref, deadline)
    receipt = router(town).pay_for(relayer, payer.address, order, deadline, signature, permit)
    assert only_event(receipt, town.token, "Approval")["value"] == 10_000
    assert router(town).settlement_in(receipt).split == split(10_000, 100)
    assert (balance(town, payer), balance(town, shop)) == (100, 9_900)
    # The permit covers the invoice amount; the points were never taken.
    assert allowance(town, payer) == 100


def test_a_permit_a_front_runner_already_used_is_tolerated_but_not_needed_twice(
    town: Town,
) -> None:
    payer, shop, relayer, front_runner = (
        town.resident(balance=10_000),
        merchant(town),
        relay(town),
        town.deployer,
    )
    order = invoice(town, shop, 5_000)
    permit = router(town).sign_permit(payer, order, valid_for=DAY)
    town.token.permit(front_runner, permit)  # submitted first, straight to the token
    deadline = town.latest_timestamp() + DAY
    signature = router(town).sign_pay(payer, order.ref, deadline)
    router(town).pay_for(relayer, payer.address, order, deadline, signature, permit)
    assert (balance(town, payer), balance(town, shop)) == (5_050, 4_950)

    # A used permit and no allowance left for the next invoice: the token says so.
    second = invoice(town, shop, 5_000)
    stale = router(town).sign_permit(payer, second, valid_for=DAY)
    town.token.permit(front_runner, stale)
    town.token.approve(payer, town.payments.address, 0)  # the payer withdraws the allowance
    signature = router(town).sign_pay(payer, second.ref, deadline)
    error = reverts(
        partial(router(town).pay_for, relayer, payer.address, second, deadline, signature, stale),
        "ERC20InsufficientAllowance",
        spender=town.payments.address,
        allowance=0,
        needed=4_950,
    )
    assert isinstance(error, InsufficientBalanceError)
    assert router(town).payment_of(second.ref) is None


def test_pay_for_checks_the_permit_before_sending(town: Town) -> None:
    payer, other, shop, relayer = town.resident(), town.resident(), merchant(town), relay(town)
    order = invoice(town, shop, 1_000)
    deadline = town.latest_timestamp() + DAY
    signature = router(town).sign_pay(payer, order.ref, deadline)
    wrong_value = town.token.sign_permit(payer, town.payments.address, 999)
    wrong_owner = router(town).sign_permit(other, order)
    wrong_spender = town.token.sign_permit(payer, relayer.address, 1_000)
    for permit, message in (
        (wrong_value, "exactly the invoice amount"),
        (wrong_owner, "not the payer"),
        (wrong_spender, "not the router"),
    ):
        with pytest.raises(ValueError, match=message):
            router(town).pay_for(relayer, payer.address, order, deadline, signature, permit)


# -- refunds --------------------------------------------------------------------------------------


def paid(
    town: Town, amount: int, *, payer_keeps: int = 0, fee: int = 100, share: int = BPS
) -> tuple[LocalAccount, LocalAccount, Order]:
    """A payer, a merchant and the invoice the payer paid (at ``fee`` and ``share``)."""
    shop = merchant(town)
    payer = town.resident(balance=amount + payer_keeps)
    order = invoice(town, shop, amount)
    if (fee, share) == (100, BPS):
        router(town).pay(payer, order)
    else:
        with fee_schedule(town, fee, share):
            router(town).pay(payer, order)
    return payer, shop, order


def refund_checked(
    town: Town, shop: LocalAccount, order: Order, amount: int, state: RefundState, paid_split: Split
) -> tuple[Refund, RefundState]:
    """Refund ``amount``; the event must be the ledger's refund_split and the payer must receive
    exactly ``from_merchant + from_city``, paid by the merchant and the router."""
    payment = router(town).payment_of(order.ref)
    assert payment is not None
    payer = payment.payer
    before = (balance(town, payer), balance(town, shop), town.payments.city_fees())
    receipt = router(town).refund(shop, order.ref, amount)
    refund = router(town).refund_in(receipt)
    expected = refund_split(paid_split, state, amount)
    assert (
        refund.amount,
        refund.from_merchant,
        refund.from_city,
        refund.points_clawed_back,
        refund.refunded_total,
    ) == dataclasses.astuple(expected)
    assert (refund.ref, refund.payer, refund.merchant) == (order.ref, payer, shop.address)
    assert (balance(town, payer), balance(town, shop), town.payments.city_fees()) == (
        before[0] + expected.payer_inflow,
        before[1] - expected.from_merchant,
        before[2] - expected.from_city,
    )
    return refund, after(state, expected)


def test_a_full_refund_reverses_the_payment_exactly(town: Town) -> None:
    payer, shop, order = paid(town, 10_000)
    assert (balance(town, payer), balance(town, shop)) == (100, 9_900)
    refund, _ = refund_checked(town, shop, order, 10_000, RefundState(), split(10_000, 100))
    assert (refund.from_merchant, refund.from_city, refund.points_clawed_back) == (9_900, 0, 100)
    assert (balance(town, payer), balance(town, shop)) == (10_000, 0)
    payment = router(town).payment_of(order.ref)
    assert payment is not None
    assert (payment.refunded, payment.points_clawed_back, payment.refundable) == (10_000, 100, 0)
    assert allowance(town, shop) == 0, "the merchant approved exactly its part"


def test_partial_refunds_in_several_parts_end_exactly_where_a_full_refund_would(
    town: Town,
) -> None:
    payer, shop, order = paid(town, 10_000, fee=300, share=4_000)
    paid_split = split(10_000, 300, 4_000)  # fee 300: 120 points, 180 to the city
    assert (balance(town, payer), balance(town, shop)) == (120, 9_700)
    city_before = town.payments.city_fees()
    state = RefundState()
    for part in (3_333, 3_333, 3_333, 1):
        _, state = refund_checked(town, shop, order, part, state, paid_split)
    assert state == RefundState(10_000, 120, 180)
    assert (balance(town, payer), balance(town, shop)) == (10_000, 0)
    assert town.payments.city_fees() == city_before - 180
    assert_books_balance(town)


def test_the_last_token_of_a_refund_never_asks_the_merchant_for_a_negative_amount(
    town: Town,
) -> None:
    """200 at 1 % with half of the fee to the city: one point and one city token. Refunding 199
    and then 1 rounds both up in the last token; the merchant gives 198, then nothing."""
    payer, shop, order = paid(town, 200, fee=100, share=5_000)
    paid_split = split(200, 100, 5_000)
    first, state = refund_checked(town, shop, order, 199, RefundState(), paid_split)
    last, state = refund_checked(town, shop, order, 1, state, paid_split)
    assert (first.from_merchant, first.from_city, first.points_clawed_back) == (198, 1, 0)
    assert (last.from_merchant, last.from_city, last.points_clawed_back) == (0, 0, 1)
    assert (balance(town, payer), balance(town, shop)) == (200, 0)


def test_a_refund_is_never_more_than_was_paid(town: Town) -> None:
    _, shop, order = paid(town, 1_000)
    town.token.mint(town.treasury, shop.address, 5_000, new_ref("dep"))
    error = reverts(
        partial(router(town).refund, shop, order.ref, 1_001),
        "PaymentRouterRefundTooLarge",
        amount=1_001,
        refundable=1_000,
    )
    assert isinstance(error, PaymentError)
    router(town).refund(shop, order.ref, 600)
    reverts(
        partial(router(town).refund, shop, order.ref, 401),
        "PaymentRouterRefundTooLarge",
        amount=401,
        refundable=400,
    )
    reverts(partial(router(town).refund, shop, order.ref, 0), "PaymentRouterZeroAmount")
    router(town).refund(shop, order.ref, 400)
    reverts(
        partial(router(town).refund, shop, order.ref, 1),
        "PaymentRouterRefundTooLarge",
        amount=1,
        refundable=0,
    )


def test_only_the_merchant_refunds_a_payment_it_received(town: Town) -> None:
    payer, shop, order = paid(town, 1_000)
    rival = merchant(town, balance=5_000)
    for intruder in (rival, payer, town.treasury, town.payment_operator):
        reverts(
            partial(router(town).refund, intruder, order.ref, 10),
            "PaymentRouterNotInvoiceMerchant",
            caller=intruder.address,
            merchant=shop.address,
        )
    unknown = invoice(town, shop, 1_000).ref
    reverts(
        partial(router(town).refund, shop, unknown, 10),
        "PaymentRouterUnknownPayment",
        invoiceRef=reference_text(unknown),
    )
    payment = router(town).payment_of(order.ref)
    assert payment is not None
    assert payment.refunded == 0


def test_a_payer_who_spent_the_points_is_still_refunded(town: Town) -> None:
    payer, shop, order = paid(town, 10_000)
    elsewhere = town.resident()
    town.token.transfer(payer, elsewhere.address, 100)  # the point, spent
    assert balance(town, payer) == 0
    refund, _ = refund_checked(town, shop, order, 10_000, RefundState(), split(10_000, 100))
    assert refund.payer_inflow == 9_900
    assert balance(town, payer) == 9_900


def test_a_refund_needs_the_merchants_part_and_the_citys_part(town: Town) -> None:
    payer, shop, order = paid(town, 10_000, fee=100, share=0)  # the whole fee is the city's
    town.token.transfer(shop, town.resident().address, 9_000)  # the merchant spent its takings
    reverts(
        partial(router(town).refund, shop, order.ref, 10_000),
        "ERC20InsufficientBalance",
        sender=shop.address,
        balance=900,
        needed=9_900,
    )
    # The treasury withdrew every city fee: the city's part of a refund is missing too.
    held = town.payments.city_fees()
    payee = town.resident()
    town.payments.withdraw_city_fees(town.treasury, payee.address, held)
    error = reverts(
        partial(router(town).refund, shop, order.ref, 1_000),
        "PaymentRouterInsufficientCityFees",
        amount=10,
        available=0,
    )
    assert isinstance(error, PaymentError)
    # Fees come back in and the merchant is topped up: the refund then goes through.
    paid(town, 100_000, fee=100, share=0)
    assert town.payments.city_fees() == 1_000
    town.token.mint(town.treasury, shop.address, 1_000, new_ref("dep"))
    refund, _ = refund_checked(town, shop, order, 1_000, RefundState(), split(10_000, 100, 0))
    assert (refund.from_merchant, refund.from_city) == (990, 10)
    assert balance(town, payer) == 1_000  # no points were given, none are clawed back


# -- redemption -----------------------------------------------------------------------------------


def test_a_merchant_redeems_in_two_steps_and_the_treasury_burns_against_the_bank_reference(
    town: Town,
) -> None:
    shop = merchant(town, balance=50_000)
    payments = router(town)
    supply = town.token.total_supply()
    before = payments.redemption_count()
    redemption_id = payments.request_redemption(shop, 30_000)
    assert redemption_id == before + 1 == payments.redemption_count()
    assert balance(town, shop) == 20_000
    assert payments.escrowed() >= 30_000
    request = payments.redemption_of(redemption_id)
    assert request is not None
    assert (request.merchant, request.amount, request.status, request.settlement_ref) == (
        shop.address,
        30_000,
        RedemptionStatus.REQUESTED,
        None,
    )
    assert_books_balance(town)

    ref = new_ref("settle")
    escrow = payments.escrowed()
    receipt = payments.confirm_redemption(town.treasury, redemption_id, ref)
    assert only_event(receipt, town.payments, "RedemptionConfirmed") == {
        "redemptionId": redemption_id,
        "merchant": shop.address,
        "amount": 30_000,
        "settlementRef": reference(ref),
    }
    assert only_event(receipt, town.token, "Redeemed") == {
        "account": town.payments.address,
        "amount": 30_000,
        "settlementRef": reference(ref),
    }
    assert town.token.total_supply() == supply - 30_000
    assert town.token.settlement_ref_used(ref)
    assert payments.escrowed() == escrow - 30_000
    confirmed = payments.redemption_of(redemption_id)
    assert confirmed is not None
    assert (confirmed.status, confirmed.settlement_ref) == (RedemptionStatus.CONFIRMED, ref)
    assert_books_balance(town)
    # Decided once: neither confirmed again nor rejected.
    for decide in (
        partial(payments.confirm_redemption, town.treasury, redemption_id, new_ref("settle")),
        partial(payments.reject_redemption, town.treasury, redemption_id, "late"),
    ):
        reverts(decide, "PaymentRouterUnknownRedemption", redemptionId=redemption_id)


def test_a_settlement_reference_pays_one_redemption_only(town: Town) -> None:
    shop = merchant(town, balance=10_000)
    payments = router(town)
    first = payments.request_redemption(shop, 1_000)
    second = payments.request_redemption(shop, 2_000)
    ref = new_ref("settle")
    payments.confirm_redemption(town.treasury, first, ref)
    error = reverts(
        partial(payments.confirm_redemption, town.treasury, second, ref),
        "CityTokenSettlementRefUsed",
        settlementRef=ref,
    )
    assert isinstance(error, ReferenceUsedError)
    reverts(
        partial(payments.confirm_redemption, town.treasury, second, "0x" + "00" * 32),
        "CityTokenEmptyReference",
    )
    # Refused as a whole: the request still waits, with its escrow.
    waiting = payments.redemption_of(second)
    assert waiting is not None
    assert waiting.status is RedemptionStatus.REQUESTED
    payments.confirm_redemption(town.treasury, second, new_ref("settle"))
    assert balance(town, shop) == 7_000


def test_a_rejected_redemption_returns_the_tokens(town: Town) -> None:
    shop = merchant(town, balance=10_000)
    payments = router(town)
    redemption_id = payments.request_redemption(shop, 4_000)
    escrow = payments.escrowed()
    receipt = payments.reject_redemption(town.treasury, redemption_id, "IBAN-MISMATCH")
    assert only_event(receipt, town.payments, "RedemptionRejected") == {
        "redemptionId": redemption_id,
        "merchant": shop.address,
        "amount": 4_000,
        "reason": reference("IBAN-MISMATCH"),
    }
    assert balance(town, shop) == 10_000
    assert payments.escrowed() == escrow - 4_000
    rejected = payments.redemption_of(redemption_id)
    assert rejected is not None
    assert rejected.status is RedemptionStatus.REJECTED
    reverts(
        partial(payments.reject_redemption, town.treasury, redemption_id, "again"),
        "PaymentRouterUnknownRedemption",
        redemptionId=redemption_id,
    )
    unknown = payments.redemption_count() + 1
    reverts(
        partial(payments.confirm_redemption, town.treasury, unknown, new_ref("settle")),
        "PaymentRouterUnknownRedemption",
        redemptionId=unknown,
    )
    assert payments.redemption_of(unknown) is None
    assert_books_balance(town)


def test_only_an_active_merchant_requests_redemption(town: Town) -> None:
    resident, frozen = town.resident(balance=1_000), merchant(town, balance=1_000)
    town.registry.freeze(town.registrar, frozen.address)
    request = town.payments.contract.functions.requestRedemption(500)
    for account in (resident, frozen):
        town.token.approve(account, town.payments.address, 500)
        reverts(
            partial(town.chain.transact, account, request),
            "PaymentRouterNotMerchant",
            merchant=account.address,
        )
    shop = merchant(town, balance=100)
    reverts(partial(router(town).request_redemption, shop, 0), "PaymentRouterZeroAmount")
    reverts(
        partial(router(town).request_redemption, shop, 101),
        "ERC20InsufficientBalance",
        sender=shop.address,
        balance=100,
        needed=101,
    )


# -- the city's fee share -------------------------------------------------------------------------


def test_the_treasury_withdraws_the_citys_fee_share(town: Town) -> None:
    paid(town, 100_000, fee=100, share=0)  # ₩1,000 to the city
    payments = router(town)
    held = payments.city_fees()
    assert held >= 1_000
    account = town.resident()
    receipt = payments.withdraw_city_fees(town.treasury, account.address, 600)
    assert only_event(receipt, town.payments, "CityFeesWithdrawn") == {
        "to": account.address,
        "amount": 600,
    }
    assert balance(town, account) == 600
    assert payments.city_fees() == held - 600
    error = reverts(
        partial(payments.withdraw_city_fees, town.treasury, account.address, held),
        "PaymentRouterInsufficientCityFees",
        amount=held,
        available=held - 600,
    )
    assert isinstance(error, PaymentError)
    reverts(
        partial(payments.withdraw_city_fees, town.treasury, account.address, 0),
        "PaymentRouterZeroAmount",
    )
    reverts(
        partial(payments.withdraw_city_fees, town.treasury, ZERO_ADDRESS, 1),
        "PaymentRouterZeroAddress",
    )
    stranger = outsider().address
    reverts(
        partial(payments.withdraw_city_fees, town.treasury, stranger, 1),
        "CityTokenAccountNotActive",
        account=stranger,
    )
    assert_books_balance(town)


# -- access ---------------------------------------------------------------------------------------

RESTRICTED_CALLS: dict[str, Callable[[Town], tuple[Any, ...]]] = {
    "setFeeSchedule": lambda _t: (100, BPS),
    "setCategoryFee": lambda _t: (77, 100),
    "setMerchantCategory": lambda _t: (outsider().address, 77),
    "setMerchantFee": lambda _t: (outsider().address, 10, True),
    "confirmRedemption": lambda _t: (1, reference(new_ref("settle"))),
    "rejectRedemption": lambda _t: (1, reference("no")),
    "withdrawCityFees": lambda t: (t.payments.address, 1),
    "cancelInvoiceFor": lambda t: (invoice(t, outsider().address, 1).as_tuple(),),
}


@pytest.fixture(scope="module")
def bystanders(town: Town) -> list[LocalAccount]:
    """A resident and a merchant without any role."""
    return [town.resident(), merchant(town)]


@pytest.mark.parametrize("function", sorted(FUNCTION_ROLES["PaymentRouter"]))
def test_every_restricted_function_refuses_every_caller_without_its_role(
    town: Town, bystanders: list[LocalAccount], function: str
) -> None:
    """The full matrix (every caller, mined and simulated) is tests/contracts/test_roles.py;
    here each restricted function is simulated by the staff holding other roles, a merchant and
    a resident, and must be refused for the caller alone."""
    assert set(RESTRICTED_CALLS) == set(FUNCTION_ROLES["PaymentRouter"])
    role = FUNCTION_ROLES["PaymentRouter"][function]
    holders = {
        "admin": town.admin,
        "treasury": town.treasury,
        "registrar": town.registrar,
        "pauser": town.pauser,
        "merchant_admin": town.merchant_admin,
        "payment_operator": town.payment_operator,
    }
    call = getattr(town.payments.contract.functions, function)(*RESTRICTED_CALLS[function](town))
    wrong = [a for n, a in holders.items() if n != role.name.lower()]
    for caller in [*wrong, *bystanders]:
        error = reverts(
            partial(town.chain.call, call, sender=caller.address),
            "AccessManagedUnauthorized",
            caller=caller.address,
        )
        assert isinstance(error, AccessDeniedError)


# -- the contract agrees with ledger.payments.fees ------------------------------------------------


@st.composite
def payments_and_refunds(draw: st.DrawFn) -> tuple[int, int, int, list[int]]:
    amount = draw(st.one_of(st.integers(1, 300), st.integers(1, 1_000_000)))
    fee_bps = draw(st.one_of(st.sampled_from([0, 1, 100, 9_999, BPS]), st.integers(0, BPS)))
    share_bps = draw(st.one_of(st.sampled_from([0, 5_000, BPS]), st.integers(0, BPS)))
    first = draw(st.integers(1, amount))
    rest = [amount - first] if amount > first and draw(st.booleans()) else []
    return amount, fee_bps, share_bps, [first, *rest]


@pytest.fixture(scope="module")
def property_parties(town: Town) -> tuple[LocalAccount, LocalAccount]:
    """The payer and the merchant of every example (funded as each example needs; both approve
    the router once for good, so an example sends only what it tests)."""
    payer, shop = town.resident(), merchant(town)
    for account in (payer, shop):
        town.token.approve(account, town.payments.address, 2**255)
    return payer, shop


@pytest.fixture
def defaults_afterwards(town: Town) -> Iterator[None]:
    """The examples change the city-wide points' share; the defaults come back at the end."""
    yield
    town.payments.set_fee_schedule(town.merchant_admin, 100, BPS)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=payments_and_refunds(), huge=st.integers(1, 2**200))
def test_the_contracts_quotes_and_events_agree_with_the_ledgers_arithmetic(
    town: Town,
    property_parties: tuple[LocalAccount, LocalAccount],
    defaults_afterwards: None,
    case: tuple[int, int, int, list[int]],
    huge: int,
) -> None:
    amount, fee_bps, share_bps, refunds = case
    payments, (payer, shop) = router(town), property_parties
    if payments.merchant_fee_of(shop.address) != fee_bps:
        payments.set_merchant_fee(town.merchant_admin, shop.address, fee_bps)
    if payments.fee_schedule().point_share_bps != share_bps:
        payments.set_fee_schedule(town.merchant_admin, 100, share_bps)
    town.token.mint(town.treasury, payer.address, amount, new_ref("dep"))
    before = balance(town, payer)
    assert payments.quote(shop.address, amount) == split(amount, fee_bps, share_bps)
    # Any uint256 amount (mulDiv: no overflow in amount * bps).
    assert payments.quote(shop.address, huge) == split(huge, fee_bps, share_bps)
    order = invoice(town, shop, amount)
    receipt = payments.pay(payer, order)
    paid_split = split(amount, fee_bps, share_bps)
    assert payments.settlement_in(receipt).split == paid_split
    assert balance(town, payer) == before - paid_split.payer_outflow
    # The merchant refunds with tokens from its takings (topped up when they are short).
    state = RefundState()
    for part in refunds:
        expected = refund_split(paid_split, state, part)
        short = expected.from_merchant - balance(town, shop)
        if short > 0:
            town.token.mint(town.treasury, shop.address, short, new_ref("top"))
        receipt = payments.refund(shop, order.ref, part)
        refund = payments.refund_in(receipt)
        assert (
            refund.amount,
            refund.from_merchant,
            refund.from_city,
            refund.points_clawed_back,
            refund.refunded_total,
        ) == dataclasses.astuple(expected)
        state = after(state, expected)
    payment = payments.payment_of(order.ref)
    assert isinstance(payment, Payment)
    assert payment.refund_state == state
    assert payment.refunded <= payment.amount


# -- the whole module's books ---------------------------------------------------------------------


def test_the_books_of_the_module_add_up(town: Town) -> None:
    """Runs last: every token is in an account, the router holds exactly city fees + escrow,
    and every payment's refunds add up to at most what was paid."""
    total = town.token.total_supply()
    holders = {e["args"]["to"] for e in town.token.events("Transfer")} - {ZERO_ADDRESS}
    assert sum(balance(town, h) for h in holders) == total
    assert_books_balance(town)
    refunded: dict[bytes, int] = {}
    for event in town.payments.events("PaymentRefunded"):
        args = event["args"]
        assert args["amount"] == args["fromMerchant"] + args["fromCity"] + args["pointsClawedBack"]
        refunded[bytes(args["invoiceRef"])] = args["refundedTotal"]
    settled = {
        bytes(e["args"]["invoiceRef"]): e["args"] for e in town.payments.events("PaymentSettled")
    }
    for ref, total_refunded in refunded.items():
        assert total_refunded <= settled[ref]["amount"]
    for args in settled.values():
        assert args["amount"] == args["merchantAmount"] + args["fee"]
        assert args["fee"] == args["points"] + args["cityShare"]

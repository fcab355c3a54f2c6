"""`wallet pay`, `points`, `refund` and `redeem` against a deployed city with its PaymentRouter.

The white paper's example runs end to end through the CLI: a ₩10,000 invoice leaves the
merchant ₩9,900 and the payer ₩100 in points; refunds claw the points back pro rata; every
invoice the router would refuse is refused in words before a password is asked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.city import TestCity
from ledger.contracts.registry import credential_hash
from ledger.payments.orders import Order
from ledger.types import AccountKind, RedemptionStatus
from tests.wallet.helpers import DEPOSIT, PEPPER, Wallet, one_line_error


@pytest.fixture(scope="module")
def wallet(test_city: TestCity, tmp_path_factory: pytest.TempPathFactory) -> Wallet:
    root = tmp_path_factory.mktemp("wallet")
    return Wallet(test_city, root / "keys", root / "home")


def _import(wallet: Wallet, alias: str, account: LocalAccount, tmp: Path) -> None:
    key_file = tmp / f"{alias}.key"
    key_file.write_text(account.key.to_0x_hex())
    wallet.ok("import", alias, "--private-key-file", str(key_file), "--scrypt-n", "16")


@pytest.fixture(scope="module")
def alice(wallet: Wallet, tmp_path_factory: pytest.TempPathFactory) -> LocalAccount:
    """A resident holding the initial deposit."""
    account = wallet.city.people[0]
    _import(wallet, "alice", account, tmp_path_factory.mktemp("alice"))
    city = wallet.city
    city.city.registry.register(
        city.registrar, account.address, AccountKind.RESIDENT, 501, credential_hash("a", PEPPER)
    )
    city.city.token.mint(city.treasury, account.address, DEPOSIT, "bank-deposit-pay-1")
    return account


@pytest.fixture(scope="module")
def shop(wallet: Wallet, tmp_path_factory: pytest.TempPathFactory) -> LocalAccount:
    """A merchant."""
    account = wallet.city.people[1]
    _import(wallet, "shop", account, tmp_path_factory.mktemp("shop"))
    city = wallet.city
    city.city.registry.register(
        city.registrar, account.address, AccountKind.MERCHANT, 501, credential_hash("s", PEPPER)
    )
    return account


def _invoice(wallet: Wallet, merchant: str, amount: int, *, ttl: int = 600) -> Order:
    now = wallet.city.city.chain.latest_timestamp()
    return Order.new(merchant, amount, now + ttl)


def _uri(wallet: Wallet, order: Order) -> str:
    city = wallet.city.city
    return order.uri(city.payments.address, city.chain.chain_id)


def test_pay_refund_points_as_in_the_white_paper(
    wallet: Wallet, alice: LocalAccount, shop: LocalAccount
) -> None:
    token = wallet.city.city.token
    order = _invoice(wallet, shop.address, 10_000)
    before = token.balance_of(alice.address), token.balance_of(shop.address)

    paid = wallet.json("pay", "alice", _uri(wallet, order), "--yes")
    assert paid["invoice_ref"] == f"0x{order.ref.hex()}"
    assert (paid["amount"], paid["merchant_amount"], paid["fee"], paid["points"]) == (
        10_000,
        9_900,
        100,
        100,
    )
    assert paid["balance"] == before[0] - 9_900
    assert token.balance_of(shop.address) == before[1] + 9_900
    assert wallet.json("points", "alice")["points"] == 100

    again = wallet("pay", "alice", _uri(wallet, order), "--yes")
    one_line_error(again, "already paid")

    half = wallet.json("refund", "shop", paid["invoice_ref"], "5,000", "--yes")
    assert (half["from_merchant"], half["points_clawed_back"], half["refunded_total"]) == (
        4_950,
        50,
        5_000,
    )
    assert wallet.json("points", "alice") == {
        "address": alice.address,
        "alias": "alice",
        "payments": 1,
        "points_earned": 100,
        "points_clawed_back": 50,
        "points": 50,
    }
    rest = wallet.json("refund", "shop", paid["invoice_ref"], "--yes")
    assert (rest["amount"], rest["refunded_total"]) == (5_000, 10_000)
    assert token.balance_of(alice.address) == before[0]
    assert token.balance_of(shop.address) == before[1]
    one_line_error(
        wallet("refund", "shop", paid["invoice_ref"], "1", "--yes"), "refunded in full already"
    )


def test_pay_asks_before_paying(wallet: Wallet, alice: LocalAccount, shop: LocalAccount) -> None:
    order = _invoice(wallet, shop.address, 2_000)
    shown = wallet("pay", "alice", _uri(wallet, order), input="n\n")
    assert shown.exit_code == 1
    assert "Pay ₩2,000 to shop?" in shown.stderr
    assert shown.stderr.rstrip().endswith("error: cancelled: nothing was paid")
    assert "merchant gets" in shown.stdout
    assert "₩1,980" in shown.stdout
    assert wallet.city.city.payments.payment_of(order.ref) is None
    paid = wallet("pay", "alice", _uri(wallet, order), input="y\n")
    assert paid.exit_code == 0, paid.output
    assert "you got ₩20 back as points" in paid.stdout


def test_pay_refuses_what_the_router_would(
    wallet: Wallet, alice: LocalAccount, shop: LocalAccount
) -> None:
    city = wallet.city
    chain = city.city.chain
    payments = city.city.payments
    nonce = chain.w3.eth.get_transaction_count(alice.address)

    expired = _invoice(wallet, shop.address, 1_000, ttl=-1)
    one_line_error(wallet("pay", "alice", _uri(wallet, expired), "--yes"), "expired")

    cancelled = _invoice(wallet, shop.address, 1_000)
    payments.cancel_invoice_for(city.payment_operator, cancelled)
    one_line_error(wallet("pay", "alice", _uri(wallet, cancelled), "--yes"), "was cancelled")

    not_a_shop = _invoice(wallet, alice.address, 1_000)
    one_line_error(
        wallet("pay", "alice", _uri(wallet, not_a_shop), "--yes"), "not an active merchant"
    )

    too_much = _invoice(wallet, shop.address, 10 * DEPOSIT)
    one_line_error(wallet("pay", "alice", _uri(wallet, too_much), "--yes"), "insufficient balance")

    order = _invoice(wallet, shop.address, 1_000)
    other_chain = order.uri(payments.address, chain.chain_id + 1)
    one_line_error(wallet("pay", "alice", other_chain, "--yes"), "is for chain")
    foreign = order.uri("0x" + "11" * 20, chain.chain_id)
    one_line_error(wallet("pay", "alice", foreign, "--yes"), "not this city's")
    one_line_error(wallet("pay", "alice", "ethereum:nonsense", "--yes"), "not a CityLedger payment")
    one_line_error(wallet("pay", "alice", f"0x{order.ref.hex()}", "--yes"), "--api-url")
    one_line_error(wallet("pay", "alice", "0x1234", "--yes"), "not an invoice id")
    one_line_error(wallet("pay", alice.address, _uri(wallet, order), "--yes"), "alias")

    assert chain.w3.eth.get_transaction_count(alice.address) == nonce  # nothing was sent


def test_refund_only_own_payments(wallet: Wallet, alice: LocalAccount, shop: LocalAccount) -> None:
    order = _invoice(wallet, shop.address, 3_000)
    paid = wallet.json("pay", "alice", _uri(wallet, order), "--yes")
    one_line_error(wallet("refund", "alice", paid["invoice_ref"], "1", "--yes"), "another merchant")
    one_line_error(
        wallet("refund", "shop", paid["invoice_ref"], "3,001", "--yes"), "exceeds the 3,000"
    )
    unknown = "0x" + "ab" * 32
    one_line_error(wallet("refund", "shop", unknown, "--yes"), "no payment was made")


def test_redeem_goes_to_escrow_until_the_treasury_confirms(
    wallet: Wallet, alice: LocalAccount, shop: LocalAccount
) -> None:
    city = wallet.city
    payments = city.city.payments
    token = city.city.token
    wallet.ok("pay", "alice", _uri(wallet, _invoice(wallet, shop.address, 5_000)), "--yes")
    balance = token.balance_of(shop.address)
    supply = token.total_supply()

    requested = wallet.json("redeem", "shop", "1,000", "--yes")
    assert token.balance_of(shop.address) == balance - 1_000
    assert token.total_supply() == supply  # held in escrow, not burned yet
    payments.confirm_redemption(city.treasury, requested["redemption_id"], "BANK-STL-1")
    redemption = payments.redemption_of(requested["redemption_id"])
    assert redemption is not None
    assert redemption.status is RedemptionStatus.CONFIRMED
    assert token.total_supply() == supply - 1_000

    one_line_error(wallet("redeem", "shop", f"{balance:,}", "--yes"), "insufficient balance")
    assert json.loads(wallet.ok("points", "shop", "--json").stdout)["points"] == 0


def test_history_shows_payments_refunds_and_points(
    wallet: Wallet, alice: LocalAccount, shop: LocalAccount
) -> None:
    order = _invoice(wallet, shop.address, 4_000)
    paid = wallet.json("pay", "alice", _uri(wallet, order), "--yes")
    wallet.ok("refund", "shop", paid["invoice_ref"], "1,000", "--yes")

    mine = wallet.json("history", "alice", "--limit", "2")["movements"]
    assert [(m["kind"], m["amount"], m["points"], m["reference"]) for m in mine] == [
        ("refund in", 990, -10, paid["invoice_ref"]),
        ("payment", -3_960, 40, paid["invoice_ref"]),
    ]
    theirs = wallet.json("history", "shop", "--limit", "2")["movements"]
    assert [(m["kind"], m["amount"], m["points"]) for m in theirs] == [
        ("refund out", -990, None),
        ("sale", 3_960, None),
    ]
    table = wallet.ok("history", "alice", "--limit", "2").stdout
    assert "refund in" in table
    assert "+₩40" in table

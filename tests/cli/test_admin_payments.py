"""`cityledger admin` for payments, as staff use it: fees, merchant redemptions, city fees."""

from __future__ import annotations

import json

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from typer.testing import CliRunner

from cityledger.cli import app
from cityledger.testing.city import TestCity
from ledger.payments.orders import Order
from ledger.types import AccountKind, RedemptionStatus

runner = CliRunner()


def admin(city: TestCity, signer: LocalAccount | None, *args: str) -> tuple[int, str]:
    """Run `cityledger admin …` signing with ``signer`` (via $CITYLEDGER_SIGNER_KEY)."""
    env = {"CITYLEDGER_SIGNER_KEY": signer.key.hex()} if signer is not None else {}
    result = runner.invoke(
        app,
        [
            "admin",
            "--rpc-url",
            city.url,
            "--network",
            city.manifest_path.stem,
            "--deployments-dir",
            str(city.manifest_path.parent),
            *args,
        ],
        env=env,
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def registered(city: TestCity, account: LocalAccount, kind: AccountKind) -> LocalAccount:
    credential = keccak(text=f"cli-payments:{account.address}")
    city.city.registry.register(city.registrar, account.address, kind, 5101, credential)
    return account


@pytest.fixture(scope="module")
def shop(test_city: TestCity) -> LocalAccount:
    """A merchant with ₩10,000 of takings to redeem."""
    account = registered(test_city, test_city.people[0], AccountKind.MERCHANT)
    test_city.city.token.mint(test_city.treasury, account.address, 10_000, "CLI-PAY-DEP-1")
    return account


def test_fees_are_shown_to_anyone_and_changed_by_the_merchant_admin(
    test_city: TestCity, shop: LocalAccount
) -> None:
    code, out = admin(test_city, None, "fees", "show", "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert (shown["default_fee_bps"], shown["point_share_bps"]) == (100, 10_000)

    code, out = admin(test_city, test_city.merchant_admin, "fees", "schedule", "1.5%", "50%")
    assert code == 0, out
    assert "default fee 150 bps (1.50 %), point share 5,000 bps (50.00 %)" in out
    try:
        schedule = test_city.city.payments.fee_schedule()
        assert (schedule.default_fee_bps, schedule.point_share_bps) == (150, 5_000)
    finally:
        code, out = admin(test_city, test_city.merchant_admin, "fees", "schedule", "100", "100%")
        assert code == 0, out

    for args in (
        ("fees", "category", "12", "2.5%"),
        ("fees", "merchant-category", shop.address, "12"),
        ("fees", "merchant", shop.address, "30bps"),
    ):
        code, out = admin(test_city, test_city.merchant_admin, *args)
        assert code == 0, out
    code, out = admin(
        test_city, None, "fees", "show", "--merchant", shop.address, "--category", "12", "--json"
    )
    assert code == 0, out
    shown = json.loads(out)
    assert shown["categories"] == {"12": 250}
    assert shown["merchant"] == {
        "address": shop.address,
        "category": 12,
        "own_fee_bps": 30,
        "fee_bps": 30,
    }
    code, out = admin(
        test_city, test_city.merchant_admin, "fees", "merchant", shop.address, "--clear"
    )
    assert code == 0, out
    assert "pays its category's fee" in out
    assert test_city.city.payments.fee_bps_of(shop.address) == 250

    code, out = admin(test_city, None, "fees", "show", "--merchant", shop.address)
    assert code == 0, out
    assert "pays 250 bps (2.50 %)" in out
    # Back to the default category for the other tests.
    admin(test_city, test_city.merchant_admin, "fees", "merchant-category", shop.address, "0")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fees", "schedule", "101%", "0"], "is not a rate"),
        (["fees", "schedule", "100", "0.001%"], "is not a rate"),
        (["fees", "category", "3", "cheap"], "is not a rate"),
        (["fees", "merchant", "0x" + "11" * 20], "give the merchant's own FEE, or --clear"),
        (["fees", "merchant", "0x" + "11" * 20, "10", "--clear"], "not both"),
        (["fees", "merchant-category", "0x1234", "3"], "not an account address"),
        (["fees", "category", "0", "1%"], "category 0 is the default category"),
    ],
)
def test_bad_fee_input_is_one_line_and_exit_1(
    test_city: TestCity, args: list[str], message: str
) -> None:
    code, out = admin(test_city, test_city.merchant_admin, *args)
    assert code == 1
    assert message in out


def test_only_the_merchant_admin_changes_fees(test_city: TestCity) -> None:
    code, out = admin(test_city, test_city.treasury, "fees", "schedule", "2%", "100%")
    assert code == 1
    assert "lacks the role" in out
    assert test_city.city.payments.fee_schedule().default_fee_bps == 100


def test_the_treasury_confirms_and_rejects_redemptions(
    test_city: TestCity, shop: LocalAccount
) -> None:
    payments = test_city.city.payments
    first = payments.request_redemption(shop, 3_000)
    second = payments.request_redemption(shop, 2_000)

    code, out = admin(test_city, None, "redemptions", "--json")
    assert code == 0, out
    waiting = {row["id"]: row for row in json.loads(out)}
    assert {first, second} <= set(waiting)
    assert (waiting[first]["merchant"], waiting[first]["amount"]) == (shop.address, 3_000)
    assert waiting[first]["status"] == "requested"
    code, out = admin(test_city, None, "redemptions")
    assert code == 0, out
    assert "₩3,000" in out

    code, out = admin(
        test_city, test_city.merchant_admin, "confirm-redemption", str(first), "BANK-SET-9"
    )
    assert code == 1
    assert "lacks the role" in out
    code, out = admin(test_city, test_city.treasury, "confirm-redemption", str(first), "BANK-SET-9")
    assert code == 0, out
    code, out = admin(
        test_city, test_city.treasury, "reject-redemption", str(second), "IBAN-MISMATCH"
    )
    assert code == 0, out
    assert test_city.city.token.settlement_ref_used("BANK-SET-9")
    assert test_city.city.token.balance_of(shop.address) == 10_000 - 3_000

    code, out = admin(test_city, test_city.treasury, "confirm-redemption", str(first), "BANK-X")
    assert code == 1
    assert f"no redemption request {first} is waiting for a decision" in out
    code, out = admin(test_city, None, "redemptions", "--json")
    assert code == 0, out
    assert not {first, second} & {row["id"] for row in json.loads(out)}
    code, out = admin(test_city, None, "redemptions", "--all", "--json")
    assert code == 0, out
    decided = {row["id"]: row for row in json.loads(out)}
    assert (decided[first]["status"], decided[first]["settlement_ref"]) == (
        "confirmed",
        "BANK-SET-9",
    )
    assert decided[second]["status"] == "rejected"
    rejected = payments.redemption_of(second)
    assert rejected is not None
    assert rejected.status is RedemptionStatus.REJECTED

    # A settlement reference pays one redemption only.
    third = payments.request_redemption(shop, 1_000)
    code, out = admin(test_city, test_city.treasury, "confirm-redemption", str(third), "BANK-SET-9")
    assert code == 1
    assert "settlement reference BANK-SET-9 was already used" in out


def test_the_treasury_withdraws_city_fees(test_city: TestCity) -> None:
    city = test_city.city
    payer = registered(test_city, test_city.people[1], AccountKind.RESIDENT)
    seller = registered(test_city, test_city.people[2], AccountKind.MERCHANT)
    city.token.mint(test_city.treasury, payer.address, 100_000, "CLI-PAY-DEP-2")
    city.payments.set_fee_schedule(test_city.merchant_admin, 100, 0)  # the city's whole fee
    try:
        order = Order.new(seller.address, 100_000, 2**40)
        city.payments.pay(payer, order)
    finally:
        city.payments.set_fee_schedule(test_city.merchant_admin, 100, 10_000)
    held = city.payments.city_fees()
    assert held >= 1_000

    code, out = admin(test_city, test_city.treasury, "withdraw-city-fees", seller.address, "₩400")
    assert code == 0, out
    assert f"withdrew ₩400 of city fees to {seller.address}" in out
    assert city.payments.city_fees() == held - 400
    code, out = admin(test_city, None, "fees", "show")
    assert code == 0, out
    assert f"city fees held: ₩{held - 400:,}" in out

    code, out = admin(
        test_city, test_city.treasury, "withdraw-city-fees", seller.address, str(held)
    )
    assert code == 1
    assert f"₩{held:,} is more than the ₩{held - 400:,} of city fees" in out
    code, out = admin(test_city, test_city.registrar, "withdraw-city-fees", seller.address, "1")
    assert code == 1
    assert "lacks the role" in out
    code, out = admin(test_city, test_city.treasury, "withdraw-city-fees", "0x12", "1")
    assert code == 1
    assert "not an account address" in out

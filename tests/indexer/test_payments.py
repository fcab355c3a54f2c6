"""Payments through the PaymentRouter, indexed on SQLite and PostgreSQL.

Paying invoices (one the API had created, with its salt, and ones it never saw), partial and
full refunds, a cancelled invoice, and merchant redemptions confirmed and rejected: the payment,
refund, invoice, redemption, balance (with points earned net of claw-backs) and supply rows must
equal what the router and the token say.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, insert, select

from cityledger.testing.city import TestCity
from ledger.indexer.db import table
from ledger.payments.orders import Order
from ledger.types import AccountKind, RedemptionStatus
from tests.contracts.helpers import Town, new_ref
from tests.indexer.helpers import assert_matches_chain, index, snapshot

FEE_BPS = 150
POINT_SHARE_BPS = 6_000
"""60 % of each fee back to the payer as points, 40 % kept for the city."""


@pytest.fixture(scope="module")
def town(test_city: TestCity) -> Town:
    return Town(test_city)


def _hex(ref: bytes) -> str:
    return "0x" + ref.hex()


@pytest.fixture(scope="module")
def payments(town: Town) -> dict[str, Any]:
    router = town.payments
    router.set_fee_schedule(town.merchant_admin, FEE_BPS, POINT_SHARE_BPS)
    shop, cafe = (town.resident(0, AccountKind.MERCHANT) for _ in range(2))
    alice, bob = town.resident(100_000), town.resident(100_000)
    until = town.latest_timestamp() + 10**6

    orders = {
        "api": Order.new(shop.address, 10_000, until),
        "partial": Order.new(shop.address, 3_333, until),
        "full": Order.new(cafe.address, 777, until),
        "twice": Order.new(cafe.address, 20_001, until),
        "cancelled": Order.new(shop.address, 5_000, until),
        "open": Order.new(cafe.address, 1_000, until),
    }
    router.pay(alice, orders["api"])
    router.pay(bob, orders["partial"])
    router.pay(alice, orders["full"])
    router.pay(bob, orders["twice"])
    router.refund(shop, orders["partial"].ref, 1_000)
    router.refund(cafe, orders["full"].ref, 777)
    router.refund(cafe, orders["twice"].ref, 1)
    router.refund(cafe, orders["twice"].ref, 10_000)
    router.cancel_invoice(shop, orders["cancelled"])
    confirmed = router.request_redemption(shop, 5_000)
    router.confirm_redemption(town.treasury, confirmed, new_ref("bank"))
    rejected = router.request_redemption(cafe, 2_000)
    router.reject_redemption(town.treasury, rejected, "wrong account")
    waiting = router.request_redemption(cafe, 1_000)
    return {
        "orders": orders,
        "payers": [alice, bob],
        "merchants": [shop, cafe],
        "redemptions": [confirmed, rejected, waiting],
    }


def _rows(engine: Engine, name: str, key: str) -> dict[Any, dict[str, Any]]:
    with engine.connect() as connection:
        return {
            row._mapping[key]: dict(row._mapping) for row in connection.execute(select(table(name)))
        }


def _api_invoice(engine: Engine, order: Order) -> None:
    """The invoice as the API stores it when a merchant creates it (before it is paid)."""
    with engine.begin() as connection:
        connection.execute(
            insert(table("invoice")).values(
                ref=_hex(order.ref),
                merchant=order.merchant,
                amount=order.amount,
                valid_until=order.valid_until,
                salt=_hex(order.salt),
                description="2 coffees",
                external_id="POS-1",
                status="open",
                created_at=datetime.now(UTC),
            )
        )


def test_payments_refunds_invoices_and_redemptions_equal_the_router(
    engine: Engine, town: Town, payments: dict[str, Any]
) -> None:
    orders: dict[str, Order] = payments["orders"]
    _api_invoice(engine, orders["api"])
    _api_invoice(engine, orders["open"])
    index(engine, town.test_city.city, batch_blocks=9)
    assert_matches_chain(engine, town.test_city.city)
    router = town.payments

    indexed = _rows(engine, "payment", "ref")
    paid = {k: o for k, o in orders.items() if k not in ("cancelled", "open")}
    assert set(indexed) == {_hex(o.ref) for o in paid.values()}
    for order in paid.values():
        chain = router.payment_of(order.ref)
        assert chain is not None
        row = indexed[_hex(order.ref)]
        assert (row["payer"], row["merchant"], row["amount"]) == (
            chain.payer,
            chain.merchant,
            chain.amount,
        )
        assert (row["fee"], row["points"], row["city_share"]) == (
            chain.fee,
            chain.points,
            chain.city_share,
        )
        assert row["merchant_amount"] == chain.amount - chain.fee
        assert (row["refunded"], row["points_clawed_back"], row["city_share_returned"]) == (
            chain.refunded,
            chain.points_clawed_back,
            chain.city_share_returned,
        )
        expected = (
            "settled"
            if chain.refunded == 0
            else "refunded"
            if chain.refunded == chain.amount
            else "partially_refunded"
        )
        assert row["status"] == expected
    assert indexed[_hex(orders["full"].ref)]["status"] == "refunded"
    assert indexed[_hex(orders["partial"].ref)]["status"] == "partially_refunded"

    refunds = _rows(engine, "refund", "id")
    assert sorted((r["ref"], r["amount"]) for r in refunds.values()) == sorted(
        [
            (_hex(orders["partial"].ref), 1_000),
            (_hex(orders["full"].ref), 777),
            (_hex(orders["twice"].ref), 1),
            (_hex(orders["twice"].ref), 10_000),
        ]
    )
    twice = [r for r in refunds.values() if r["ref"] == _hex(orders["twice"].ref)]
    assert [r["refunded_total"] for r in sorted(twice, key=lambda r: r["amount"])] == [1, 10_001]

    invoices = _rows(engine, "invoice", "ref")
    api = invoices[_hex(orders["api"].ref)]
    assert (api["status"], api["payer"], api["salt"], api["description"]) == (
        "paid",
        payments["payers"][0].address,
        _hex(orders["api"].salt),
        "2 coffees",
    )
    assert api["paid_block"] is not None
    assert api["paid_tx"] is not None
    assert invoices[_hex(orders["open"].ref)]["status"] == "open"
    cancelled = invoices[_hex(orders["cancelled"].ref)]
    assert (cancelled["status"], cancelled["salt"]) == ("cancelled", None)
    for key in ("partial", "full", "twice"):
        row = invoices[_hex(orders[key].ref)]
        assert (row["status"], row["amount"], row["merchant"]) == (
            "paid",
            orders[key].amount,
            orders[key].merchant,
        )

    points = _rows(engine, "balance", "address")
    for payer in payments["payers"]:
        earned = sum(
            p["points"] - p["points_clawed_back"]
            for p in indexed.values()
            if p["payer"] == payer.address
        )
        assert points[payer.address]["points"] == earned > 0

    redemptions = _rows(engine, "redemption", "id")
    status_names = {
        RedemptionStatus.REQUESTED: "requested",
        RedemptionStatus.CONFIRMED: "confirmed",
        RedemptionStatus.REJECTED: "rejected",
    }
    for rid in payments["redemptions"]:
        chain_redemption = router.redemption_of(rid)
        assert chain_redemption is not None
        row = redemptions[rid]
        assert row["status"] == status_names[chain_redemption.status]
        assert (row["merchant"], row["amount"]) == (
            chain_redemption.merchant,
            chain_redemption.amount,
        )
    confirmed, rejected, waiting = (redemptions[r] for r in payments["redemptions"])
    assert confirmed["settlement_ref"] is not None
    assert confirmed["decided_block"] is not None
    assert rejected["reason"] is not None
    assert rejected["settlement_ref"] is None
    assert (waiting["decided_block"], waiting["decided_at"]) == (None, None)
    assert points[router.address]["balance"] == router.city_fees() + router.escrowed()


def test_payment_indexing_is_the_same_in_small_and_large_batches(
    engine: Engine, town: Town, payments: dict[str, Any], tmp_path: Any
) -> None:
    from ledger.indexer.db import make_engine, upgrade

    index(engine, town.test_city.city, batch_blocks=1)
    other = make_engine(f"sqlite:///{tmp_path / 'large.sqlite3'}")
    upgrade(other)
    index(other, town.test_city.city, batch_blocks=100_000)
    assert snapshot(engine) == snapshot(other)
    other.dispose()


def test_points_follow_claw_backs(engine: Engine, town: Town, payments: dict[str, Any]) -> None:
    """A resident's points: earned on every payment, less what refunds clawed back."""
    payer: LocalAccount = town.resident(50_000)
    cafe = payments["merchants"][1]
    order = Order.new(cafe.address, 40_000, town.latest_timestamp() + 10**6)
    settled = town.payments.settlement_in(town.payments.pay(payer, order))
    index(engine, town.test_city.city)
    assert _rows(engine, "balance", "address")[payer.address]["points"] == settled.points
    refund = town.payments.refund_in(town.payments.refund(cafe, order.ref, 40_000))
    index(engine, town.test_city.city)
    assert refund.points_clawed_back == settled.points
    assert _rows(engine, "balance", "address")[payer.address]["points"] == 0
    assert_matches_chain(engine, town.test_city.city)


def test_a_contract_added_to_the_deployment_is_caught_up_from_its_deployment(
    engine: Engine, town: Town, payments: dict[str, Any], tmp_path: Any
) -> None:
    """An index built before the city was upgraded with the PaymentRouter (its manifest had
    no router) rewinds to the router's deployment block once the manifest lists it."""
    from ledger.indexer.db import make_engine, upgrade
    from ledger.indexer.errors import IndexerError
    from ledger.indexer.runner import Indexer

    city = town.test_city.city
    before = dataclasses.replace(
        city.manifest,
        contracts={k: v for k, v in city.manifest.contracts.items() if k != "PaymentRouter"},
    )
    with Indexer.for_manifest(engine, city.chain.rpc_url, before) as old:
        old.run_once()
    assert _rows(engine, "payment", "ref") == {}
    stats = index(engine, city)
    assert stats.blocks > 0
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.sqlite3'}")
    upgrade(clean)
    index(clean, city)
    caught_up = snapshot(engine)
    assert caught_up == snapshot(clean)
    clean.dispose()

    moved = dataclasses.replace(
        city.manifest,
        contracts={
            **city.manifest.contracts,
            "PaymentRouter": {
                **city.manifest.contracts["PaymentRouter"],
                "address": "0x" + "77" * 20,
            },
        },
    )
    with (
        Indexer.for_manifest(engine, city.chain.rpc_url, moved) as other,
        pytest.raises(IndexerError, match="another deployment"),
    ):
        other.run_once()
    assert snapshot(engine) == caught_up

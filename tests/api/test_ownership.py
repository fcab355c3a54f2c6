"""Every route that names a resource (path id, or a merchant/payer filter) asked with another
party's id: residents see only their own account and payments, merchants only their own
invoices, payments, refunds, settlements, reports and webhooks (403, or 404 where even the
existence of another's resource is not told); city services read within their scopes."""

from __future__ import annotations

import pytest

from api.core import scopes
from cityledger.testing.api import ApiServer, Trade, World, auth, sign_in, signed, trade
from ledger.payments.orders import parse_pay_uri


@pytest.fixture(scope="module")
def trades(world: World, api: ApiServer) -> tuple[Trade, Trade]:
    return (
        trade(world, api, world.merchant_a, world.resident_1),
        trade(world, api, world.merchant_b, world.resident_2),
    )


def _status(api: ApiServer, token: str, method: str, path: str, **kwargs: object) -> int:
    with api.client(token) as client:
        return client.request(method, path, **kwargs).status_code  # type: ignore[arg-type]


def test_merchant_sees_own_resources(api: ApiServer, trades: tuple[Trade, Trade]) -> None:
    mine, _ = trades
    for path in (
        f"/invoices/{mine.invoice_ref}",
        f"/payments/{mine.invoice_ref}",
        f"/settlements/{mine.redemption_id}",
        f"/webhooks/{mine.webhook_id}",
        f"/webhooks/{mine.webhook_id}/deliveries",
        f"/accounts/{mine.merchant.address}",
        f"/accounts/{mine.merchant.address}/history",
    ):
        assert _status(api, mine.key, "GET", path) == 200, path


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/invoices/{invoice}"),
        ("POST", "/invoices/{invoice}/cancel"),
        ("POST", "/invoices/{open}/cancel"),
        ("GET", "/payments/{invoice}"),
        ("GET", "/settlements/{redemption}"),
        ("GET", "/webhooks/{webhook}"),
        ("POST", "/webhooks/{webhook}/rotate-secret"),
        ("DELETE", "/webhooks/{webhook}"),
        ("GET", "/webhooks/{webhook}/deliveries"),
        ("GET", "/accounts/{merchant}"),
        ("GET", "/accounts/{merchant}/history"),
        ("GET", "/accounts/{payer}"),
        ("GET", "/invoices?merchant={merchant}"),
        ("GET", "/payments?merchant={merchant}"),
        ("GET", "/refunds?merchant={merchant}"),
        ("GET", "/settlements?merchant={merchant}"),
        ("GET", "/reports/daily?day=2026-01-01&merchant={merchant}"),
    ],
)
def test_merchant_refused_another_merchants_ids(
    api: ApiServer, trades: tuple[Trade, Trade], method: str, template: str
) -> None:
    theirs, me = trades
    path = template.format(
        invoice=theirs.invoice_ref,
        open=theirs.open_ref,
        redemption=theirs.redemption_id,
        webhook=theirs.webhook_id,
        merchant=theirs.merchant.address,
        payer=theirs.payer.address,
    )
    assert _status(api, me.key, method, path) in (403, 404), path


def test_others_resources_are_untouched(
    world: World, api: ApiServer, trades: tuple[Trade, Trade]
) -> None:
    theirs, _ = trades
    with api.client(theirs.key) as client:
        assert client.get(f"/invoices/{theirs.open_ref}").json()["status"] == "open"
        assert client.get(f"/webhooks/{theirs.webhook_id}").status_code == 200
        assert [e["id"] for e in client.get("/webhooks").json()] == [theirs.webhook_id]
    assert not world.city.city.payments.is_cancelled(bytes.fromhex(theirs.open_ref[2:]))


def test_lists_show_only_own_items(api: ApiServer, trades: tuple[Trade, Trade]) -> None:
    a, b = trades
    with api.client(b.key) as client:
        for path in ("/invoices", "/payments", "/refunds", "/settlements"):
            items = client.get(path).json()["items"]
            assert items, path
            assert all(i["merchant"] == b.merchant.address for i in items), path
        assert client.get("/refunds", params={"ref": a.invoice_ref}).json()["items"] == []
        assert [e["id"] for e in client.get("/webhooks").json()] == [b.webhook_id]


def test_resident_sees_only_own_account_and_payments(
    world: World, api: ApiServer, trades: tuple[Trade, Trade]
) -> None:
    a, b = trades
    with api.client() as anonymous:
        token = sign_in(anonymous, a.payer)
    own = [
        f"/accounts/{a.payer.address}",
        f"/accounts/{a.payer.address}/history",
        f"/payments/{a.invoice_ref}",
        "/payments",
        "/refunds",
    ]
    for path in own:
        assert _status(api, token, "GET", path) == 200, path
    with api.client(token) as client:
        assert {p["payer"] for p in client.get("/payments").json()["items"]} == {a.payer.address}
        assert {r["payer"] for r in client.get("/refunds").json()["items"]} == {a.payer.address}
    others = [
        ("GET", f"/accounts/{b.payer.address}"),
        ("GET", f"/accounts/{b.payer.address}/history"),
        ("GET", f"/accounts/{a.merchant.address}"),
        ("GET", f"/payments/{b.invoice_ref}"),
        ("GET", f"/payments?payer={b.payer.address}"),
        ("GET", f"/refunds?payer={b.payer.address}"),
        ("GET", f"/invoices/{a.invoice_ref}"),
        ("GET", "/invoices"),
        ("GET", f"/settlements/{a.redemption_id}"),
        ("GET", "/settlements"),
        ("GET", f"/webhooks/{a.webhook_id}"),
        ("GET", "/reports/daily?day=2026-01-01"),
    ]
    for method, path in others:
        assert _status(api, token, method, path) in (403, 404), path


def test_relays_refuse_another_partys_signature(
    world: World, api: ApiServer, trades: tuple[Trade, Trade]
) -> None:
    a, b = trades
    city, router, token = world.city, world.city.city.payments, world.city.city.token
    transfer = signed(city, a.payer, token.contract.functions.transfer(b.payer.address, 1))
    refund = signed(
        city, a.merchant, router.contract.functions.refund(bytes.fromhex(a.invoice_ref[2:]), 1)
    )
    with api.client() as anonymous:
        b_payer = sign_in(anonymous, b.payer)
    with api.client(b_payer) as wallet:
        answer = wallet.post("/relay/transactions", json={"raw_transaction": transfer})
        assert (answer.status_code, answer.json()["code"]) == (403, "relay_refused")
    with api.client(b.key) as shop:
        answer = shop.post("/refunds", json={"raw_transaction": refund})
        assert (answer.status_code, answer.json()["code"]) == (403, "relay_refused")
        # b's own refund of a's payment: b signed it, the chain refuses it (not its merchant).
        own = signed(
            city,
            b.merchant,
            router.contract.functions.refund(bytes.fromhex(a.invoice_ref[2:]), 1),
        )
        answer = shop.post("/refunds", json={"raw_transaction": own})
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "PaymentRouterNotInvoiceMerchant"
    with api.client(b.key) as shop:
        invoice = shop.post("/invoices", json={"amount": 100}).json()
    order = parse_pay_uri(invoice["payment_uri"]).order
    body = {
        "order": {
            "merchant": order.merchant,
            "amount": order.amount,
            "valid_until": order.valid_until,
            "salt": "0x" + order.salt.hex(),
        },
        "payer": a.payer.address,
        "deadline": 2**40,
        "signature": "0x" + router.sign_pay(a.payer, order.ref, 2**40).hex(),
    }
    with api.client(b_payer) as wallet:
        assert wallet.post("/relay/pay", json=body).status_code == 403


def test_city_service_reads_within_its_scopes(
    world: World, api: ApiServer, trades: tuple[Trade, Trade]
) -> None:
    a, _ = trades
    auditor = world.key(None, frozenset({scopes.PAYMENTS_READ, scopes.REPORTS_READ}))
    assert _status(api, auditor, "GET", f"/payments/{a.invoice_ref}") == 200
    assert _status(api, auditor, "GET", f"/invoices/{a.invoice_ref}") == 404
    assert _status(api, auditor, "GET", f"/accounts/{a.payer.address}") == 403
    assert _status(api, auditor, "GET", f"/webhooks/{a.webhook_id}") == 403
    admin = world.key(None, frozenset({scopes.ADMIN}))
    with api.client(admin) as client:
        assert client.get(f"/invoices/{a.invoice_ref}").status_code == 200
        assert client.get(f"/accounts/{a.payer.address}", headers=auth(admin)).status_code == 200
        assert client.post(f"/invoices/{a.open_ref}/cancel").status_code == 403

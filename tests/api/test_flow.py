"""A merchant's day end to end on the real chain, indexer and API: an invoice paid with
wallet-signed transactions relayed by the API, read back from the index; a refund and a
redemption relayed for the merchant; a cancelled invoice; a relayed payFor; the report;
two payers racing for one invoice."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from cityledger.testing.api import ApiServer, World, pay_for_body, sign_in, signed
from ledger.payments.orders import parse_pay_uri


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, ZoneInfo("Asia/Seoul")).date().isoformat()


def test_invoice_paid_refunded_redeemed_reported(world: World, api: ApiServer) -> None:
    city = world.city
    router, token = city.city.payments, city.city.token
    merchant, resident = world.merchant_a, world.resident_1
    world.index()
    merchant_key = world.key(merchant)
    with api.client(merchant_key) as shop, api.client() as anonymous:
        created = shop.post(
            "/invoices",
            json={
                "amount": 10_000,
                "external_id": "order-1",
                "description": "lunch for Kim, 010-1234-5678",
            },
            params={"qr": "svg"},
        )
        assert created.status_code == 201, created.text
        invoice = created.json()
        assert invoice["status"] == "open"
        assert invoice["qr"]["text"] == invoice["payment_uri"]
        assert invoice["qr"]["svg"].startswith("<svg")
        order = parse_pay_uri(invoice["payment_uri"]).order
        assert "0x" + order.ref.hex() == invoice["ref"]
        assert order.amount == 10_000
        assert order.merchant == merchant.address

        request = anonymous.get(f"/invoices/{invoice['ref']}/payment-request").json()
        assert request["description"] == "lunch for Kim, 010-1234-5678"  # while it is open
        assert request["payment_uri"] == invoice["payment_uri"]

        resident_token = sign_in(anonymous, resident)
        split = router.quote(merchant.address, 10_000)
        nonce = city.city.chain.w3.eth.get_transaction_count(resident.address, "pending")
        approve = signed(
            city,
            resident,
            token.contract.functions.approve(router.address, split.payer_outflow),
            nonce,
        )
        pay = signed(city, resident, router.contract.functions.pay(order.as_tuple()), nonce + 1)
        with api.client(resident_token) as wallet:
            for raw, function in ((approve, "approve"), (pay, "pay")):
                relayed = wallet.post("/relay/transactions", json={"raw_transaction": raw})
                assert relayed.status_code == 201, relayed.text
                assert relayed.json()["function"] == function
                assert relayed.json()["status"] == "confirmed"
            world.index()

            payment = wallet.get(f"/payments/{invoice['ref']}")
            assert payment.status_code == 200, payment.text
            paid = payment.json()
            assert paid["payer"] == resident.address
            assert paid["merchant"] == merchant.address
            assert (paid["amount"], paid["merchant_amount"], paid["points"]) == (
                10_000,
                split.merchant_amount,
                split.points,
            )
            account = wallet.get(f"/accounts/{resident.address}").json()
            assert account["balance"] == token.balance_of(resident.address)
            assert account["points"] == split.points
            history = wallet.get(f"/accounts/{resident.address}/history").json()
            assert any(t["direction"] == "out" for t in history["items"])

        assert shop.get(f"/invoices/{invoice['ref']}").json()["status"] == "paid"
        # The reference is in the chain's events now: the public view drops the note.
        public = anonymous.get(f"/invoices/{invoice['ref']}/payment-request").json()
        assert (public["status"], public["description"]) == ("paid", None)
        assert shop.get(f"/invoices/{invoice['ref']}").json()["description"]  # the shop's own

        needed = 4_000  # the merchant's part is at most the refund
        nonce_m = city.city.chain.w3.eth.get_transaction_count(merchant.address, "pending")
        approval = signed(
            city, merchant, token.contract.functions.approve(router.address, needed), nonce_m
        )
        refund = signed(
            city, merchant, router.contract.functions.refund(order.ref, 4_000), nonce_m + 1
        )
        refunded = shop.post(
            "/refunds", json={"raw_transaction": refund, "approve_transaction": approval}
        )
        assert refunded.status_code == 201, refunded.text
        world.index()
        refunds = shop.get("/refunds", params={"ref": invoice["ref"]}).json()["items"]
        assert [r["amount"] for r in refunds] == [4_000]
        assert shop.get(f"/payments/{invoice['ref']}").json()["status"] == "partially_refunded"

        report = shop.get("/reports/daily", params={"day": _day(paid["timestamp"])})
        assert report.status_code == 200, report.text
        day = report.json()
        assert day["payment_count"] == 1
        assert day["gross"] == 10_000
        assert day["received"] == split.merchant_amount
        assert day["card_merchant_amount"] == 10_000 - 220 - 30
        assert day["saving_vs_card"] == split.merchant_amount - 9_750
        assert day["refund_count"] == 1
        assert day["refunded"] == 4_000
        assert day["net"] == day["received"] - day["refunded_by_merchant"]

        cancelled_invoice = shop.post("/invoices", json={"amount": 500}).json()
        cancelled = shop.post(f"/invoices/{cancelled_invoice['ref']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert router.is_cancelled(bytes.fromhex(cancelled_invoice["ref"][2:]))


def test_pay_for_with_permit_and_settlement(world: World, api: ApiServer) -> None:
    city = world.city
    router = city.city.payments
    merchant, resident = world.merchant_b, world.resident_2
    world.index()
    with api.client(world.key(merchant)) as shop, api.client() as anonymous:
        invoice = shop.post("/invoices", json={"amount": 25_000}).json()
        deadline = int(time.time()) + 600
        body = pay_for_body(router, resident, invoice, deadline)
        with api.client(sign_in(anonymous, resident)) as wallet:
            paid = wallet.post("/relay/pay", json=body)
            assert paid.status_code == 201, paid.text
            assert paid.json()["function"] == "payFor"
            forged = wallet.post("/relay/pay", json={**body, "deadline": deadline + 1})
            assert forged.status_code == 422, forged.text
            assert forged.json()["code"] == "invalid_pay_signature"
        world.index()
        assert shop.get(f"/invoices/{invoice['ref']}").json()["status"] == "paid"

        balance = city.city.token.balance_of(merchant.address)
        nonce = city.city.chain.w3.eth.get_transaction_count(merchant.address, "pending")
        approval = signed(
            city,
            merchant,
            city.city.token.contract.functions.approve(router.address, balance),
            nonce,
        )
        request = signed(
            city, merchant, router.contract.functions.requestRedemption(balance), nonce + 1
        )
        requested = shop.post(
            "/settlements", json={"raw_transaction": request, "approve_transaction": approval}
        )
        assert requested.status_code == 201, requested.text
        world.index()
        (redemption,) = shop.get("/settlements").json()["items"]
        assert (redemption["amount"], redemption["status"]) == (balance, "requested")
        router.confirm_redemption(city.treasury, redemption["id"], "BANK-0001")
        world.index()
        confirmed = shop.get(f"/settlements/{redemption['id']}").json()
        assert confirmed["status"] == "confirmed"
        assert confirmed["settlement_ref"] is not None


def test_two_payers_racing_for_one_invoice(world: World, api: ApiServer) -> None:
    """Two residents relay a payment of one invoice at once: one pays, the other is refused
    with the contract's own error, and the merchant is paid once. (The loser is refused by its
    dry run or fails mined; both sealed into one block, which this suite's instantly sealing
    node does not do, is tests/ledger/test_chain.py's case.)"""
    city = world.city
    router = city.city.payments
    merchant, payers = world.merchant_a, (world.resident_1, world.resident_2)
    token = city.city.token
    world.index()
    with api.client(world.key(merchant)) as shop, api.client() as anonymous:
        invoice = shop.post("/invoices", json={"amount": 7_000}).json()
        tokens = [sign_in(anonymous, payer) for payer in payers]
        deadline = int(time.time()) + 600
        bodies = [pay_for_body(router, payer, invoice, deadline) for payer in payers]
        received_before = token.balance_of(merchant.address)
        w3 = city.city.chain.w3
        operator_nonce = w3.eth.get_transaction_count(world.service.address)

        def relay(index: int) -> httpx.Response:
            with api.client(tokens[index]) as wallet:
                return wallet.post("/relay/pay", json=bodies[index])

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(relay, range(2)))

        assert sorted(a.status_code for a in answers) == [201, 422], [a.text for a in answers]
        winner = next(i for i, a in enumerate(answers) if a.status_code == 201)
        refused = answers[1 - winner].json()
        assert refused["code"] == "PaymentRouterInvoicePaid", refused
        assert refused["error_args"] == {"invoiceRef": invoice["ref"]}
        world.index()
        paid = shop.get(f"/invoices/{invoice['ref']}").json()
        assert (paid["status"], paid["payer"]) == ("paid", payers[winner].address)
        merchant_amount = router.quote(merchant.address, 7_000).merchant_amount
        assert token.balance_of(merchant.address) == received_before + merchant_amount
        # The loser waited for the winner and was refused by its dry run: the operator sent
        # one transaction, not a second one for the chain to refuse.
        assert w3.eth.get_transaction_count(world.service.address) == operator_nonce + 1

        # The winner retries (its answer was lost, or the receipt wait timed out): it gets its
        # payment back, not "already paid".
        with api.client(tokens[winner]) as wallet:
            again = wallet.post("/relay/pay", json=bodies[winner])
        assert again.status_code == 200, again.text
        assert again.json()["tx_hash"] == answers[winner].json()["tx_hash"]
        assert w3.eth.get_transaction_count(world.service.address) == operator_nonce + 1

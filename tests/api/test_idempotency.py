"""``Idempotency-Key`` on POSTs: replayed results, refused reuse, and 50 truly concurrent
requests with one key (threads against uvicorn) that do the work exactly once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlmodel import Session, col, func, select

from cityledger.testing.api import ApiServer, World, pay_for_body, sign_in, signed
from ledger.indexer.models import Invoice
from ledger.payments.orders import parse_pay_uri

CONCURRENCY = 50


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _invoices(world: World, merchant: str) -> int:
    with Session(world.engine) as session:
        return session.exec(
            select(func.count()).select_from(Invoice).where(col(Invoice.merchant) == merchant)
        ).one()


def _at_once(count: int, request: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """``count`` requests released together from ``count`` threads."""
    barrier = threading.Barrier(count)
    limits = httpx.Limits(max_connections=count + 5, max_keepalive_connections=count + 5)
    with httpx.Client(timeout=120, limits=limits) as client:

        def one(_: int) -> httpx.Response:
            barrier.wait()
            return request(client)

        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(one, range(count)))


def test_replay_and_conflict(world: World, api: ApiServer) -> None:
    world.index()
    merchant = world.merchant_a.address
    with api.client(world.key(world.merchant_a)) as shop:
        key = _key()
        first = shop.post("/invoices", json={"amount": 1_200}, headers=key)
        assert first.status_code == 201, first.text
        count = _invoices(world, merchant)
        again = shop.post("/invoices", json={"amount": 1_200}, headers=key)
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert _invoices(world, merchant) == count

        other = shop.post("/invoices", json={"amount": 1_300}, headers=key)
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_key_reused"
        assert "different request" in other.json()["detail"]
        elsewhere = shop.post(f"/invoices/{first.json()['ref']}/cancel", headers=key)
        assert elsewhere.status_code == 422
        assert _invoices(world, merchant) == count

        # Another principal's identical key is its own.
    with api.client(world.key(world.merchant_b)) as other_shop:
        theirs = other_shop.post("/invoices", json={"amount": 1_200}, headers=key)
        assert theirs.status_code == 201
        assert theirs.json()["ref"] != first.json()["ref"]


def test_failure_releases_the_key(world: World, api: ApiServer) -> None:
    world.index()
    with api.client(world.key(world.merchant_a)) as shop:
        key = _key()
        past = shop.post("/invoices", json={"amount": 10, "valid_until": 1_000}, headers=key)
        assert past.status_code == 422
        assert past.json()["code"] == "invalid_expiry"
        fixed = shop.post("/invoices", json={"amount": 10}, headers=key)
        assert fixed.status_code == 201, fixed.text


def test_bad_keys_are_refused(world: World, api: ApiServer) -> None:
    with api.client(world.key(world.merchant_a)) as shop:
        for bad in ("", "with space", "x" * 256):
            answer = shop.post("/invoices", json={"amount": 10}, headers={"Idempotency-Key": bad})
            assert answer.status_code == 422, bad
            assert answer.json()["code"] == "validation_error"


def test_fifty_concurrent_creates_make_one_invoice(world: World, api: ApiServer) -> None:
    world.index()
    merchant_key = world.key(world.merchant_b)
    before = _invoices(world, world.merchant_b.address)
    headers = {**_key(), "Authorization": f"Bearer {merchant_key}"}
    answers = _at_once(
        CONCURRENCY,
        lambda c: c.post(f"{api.url}/api/v1/invoices", json={"amount": 777}, headers=headers),
    )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers][:3]
    assert len({a.json()["ref"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == CONCURRENCY - 1
    assert _invoices(world, world.merchant_b.address) == before + 1


def test_fifty_concurrent_cancels_send_one_transaction(world: World, api: ApiServer) -> None:
    world.index()
    w3 = world.city.city.chain.w3
    with api.client(world.key(world.merchant_a)) as shop:
        invoice = shop.post("/invoices", json={"amount": 4_321}).json()
        headers = {**_key(), **shop.headers}
    service = world.service.address
    nonce_before = w3.eth.get_transaction_count(service)
    answers = _at_once(
        CONCURRENCY,
        lambda c: c.post(f"{api.url}/api/v1/invoices/{invoice['ref']}/cancel", headers=headers),
    )
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers][:3]
    assert len({a.json()["cancel_tx"] for a in answers}) == 1
    assert w3.eth.get_transaction_count(service) == nonce_before + 1
    assert world.city.city.payments.is_cancelled(bytes.fromhex(invoice["ref"][2:]))


def test_fifty_concurrent_relays_submit_once(world: World, api: ApiServer) -> None:
    city, w3 = world.city, world.city.city.chain.w3
    router, token = city.city.payments, city.city.token
    payer, merchant = world.resident_2, world.merchant_b
    world.index()
    with api.client() as anonymous:
        bearer = sign_in(anonymous, payer)
    # A wallet-signed transfer: one transaction on chain, however often it is posted.
    raw = signed(city, payer, token.contract.functions.transfer(merchant.address, 3))
    balance = token.balance_of(merchant.address)
    headers = {**_key(), "Authorization": f"Bearer {bearer}"}
    answers = _at_once(
        CONCURRENCY,
        lambda c: c.post(
            f"{api.url}/api/v1/relay/transactions", json={"raw_transaction": raw}, headers=headers
        ),
    )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers][:3]
    assert len({a.json()["tx_hash"] for a in answers}) == 1
    assert token.balance_of(merchant.address) == balance + 3

    # A payFor, sent by the API's own signer: exactly one transaction from it.
    with api.client(world.key(merchant)) as shop:
        invoice = shop.post("/invoices", json={"amount": 2_000}).json()
    order = parse_pay_uri(invoice["payment_uri"]).order
    body = pay_for_body(router, payer, invoice, 2**40)
    nonce_before = w3.eth.get_transaction_count(world.service.address)
    headers = {**_key(), "Authorization": f"Bearer {bearer}"}
    answers = _at_once(
        CONCURRENCY,
        lambda c: c.post(f"{api.url}/api/v1/relay/pay", json=body, headers=headers),
    )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers][:3]
    assert len({a.json()["tx_hash"] for a in answers}) == 1
    assert w3.eth.get_transaction_count(world.service.address) == nonce_before + 1
    assert router.payment_of(order.ref) is not None

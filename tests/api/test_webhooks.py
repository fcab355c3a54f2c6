"""Signed webhooks from the index through the durable outbox to a merchant's endpoint:
every event type, signatures verified by the merchant helper, secret rotation (two v1 values
during the overlap), retries with exponential backoff and a delivery log, no duplicates on
rescans, delivery resumed by a restarted API process (`cityledger serve`), each outcome
written as it arrives (a kill -9 right after a 200 sends nothing twice), and a hanging
merchant that delays no other."""

from __future__ import annotations

import functools
import itertools
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from api.models import WebhookCursor, WebhookOutbox
from api.services import Services
from api.webhooks.scanner import CURSOR, Scanner
from api.webhooks.verify import NoMatchingSignature, verify_signature
from cityledger.testing.api import (
    ApiServer,
    WebhookReceiver,
    World,
    wait_for,
)
from cityledger.testing.processes import free_port
from ledger.payments.orders import parse_pay_uri
from tests.api.webhook_support import HangingReceiver, serve_process

FAST = {
    "webhooks_enabled": True,
    "webhook_poll_interval": 0.1,
    "webhook_backoff_base": 0.5,
    "webhook_backoff_jitter": 0.0,
    "expiry_grace": 0,
    "expiry_scan_interval": 0.1,
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.stop()


def _register_url(api: ApiServer, key: str, url: str, **body: Any) -> dict[str, Any]:
    with api.client(key) as shop:
        answer = shop.post("/webhooks", json={"url": url, **body})
    assert answer.status_code == 201, answer.text
    endpoint: dict[str, Any] = answer.json()
    return endpoint


def _register(api: ApiServer, key: str, receiver: WebhookReceiver, **body: Any) -> dict[str, Any]:
    endpoint = _register_url(api, key, receiver.url, **body)
    receiver.secrets = [endpoint["secret"]]
    return endpoint


def _pay(world: World, api: ApiServer, key: str, amount: int) -> bytes:
    """An invoice of the merchant behind ``key``, paid on chain by resident 1; its ref."""
    with api.client(key) as shop:
        invoice = shop.post("/invoices", json={"amount": amount}).json()
    order = parse_pay_uri(invoice["payment_uri"]).order
    world.city.city.payments.pay(world.resident_1, order)
    return order.ref


def test_every_event_type_signed_and_once(
    world: World, serve: Callable[..., ApiServer], receiver: WebhookReceiver
) -> None:
    api = serve(**FAST)
    merchant = world.merchant_a
    router = world.city.city.payments
    world.index()
    key = world.key(merchant)
    _register(api, key, receiver)
    with api.client(key) as shop:
        short = shop.post("/invoices", json={"amount": 990, "valid_for": 1}).json()
    ref = _pay(world, api, key, 10_000)
    router.refund(merchant, ref, 2_500)
    redemption = router.request_redemption(merchant, 1_000)
    router.confirm_redemption(world.city.treasury, redemption, "BANK-WH-1")
    time.sleep(1.5)  # the short invoice is now past paying by the wall clock
    world.index()

    for kind in ("payment.settled", "payment.refunded", "settlement.confirmed", "invoice.expired"):
        wait_for(functools.partial(receiver.events, kind), timeout=20)
    settled = receiver.events("payment.settled")[0]
    assert settled.verified, settled.error
    assert settled.event["data"]["ref"] == "0x" + ref.hex()
    assert settled.event["data"]["amount"] == 10_000
    assert settled.event["id"].startswith("evt_")
    assert settled.headers["CityLedger-Event-Id"] == settled.event["id"]
    refunded = receiver.events("payment.refunded")[0].event["data"]
    assert (refunded["amount"], refunded["refunded_total"]) == (2_500, 2_500)
    confirmed = receiver.events("settlement.confirmed")[0].event["data"]
    assert (confirmed["redemption_id"], confirmed["amount"]) == (redemption, 1_000)
    expired = receiver.events("invoice.expired")[0].event["data"]
    assert expired["ref"] == short["ref"]
    with api.client(key) as shop:
        assert shop.get(f"/invoices/{short['ref']}").json()["status"] == "expired"

    assert all(d.verified for d in receiver.events())
    time.sleep(1.0)  # many rescans of the same blocks later ...
    ids = [d.event["id"] for d in receiver.events()]
    assert len(ids) == len(set(ids)) == 4  # ... nothing was sent twice


def test_retries_back_off_and_are_logged(
    world: World, serve: Callable[..., ApiServer], receiver: WebhookReceiver
) -> None:
    api = serve(**FAST)
    world.index()
    key = world.key(world.merchant_b)
    endpoint = _register(api, key, receiver, event_types=["payment.settled"])
    receiver.failures = 3
    _pay(world, api, key, 4_000)
    world.index()
    deliveries = wait_for(lambda: len(receiver.events()) >= 4 and receiver.events(), timeout=30)
    assert len({d.event["id"] for d in deliveries}) == 1  # one event, four attempts
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(deliveries)]
    # backoff 0.5 s, 1 s, 2 s: never earlier (polled every 0.1 s; late only on a busy machine)
    for gap, expected in zip(gaps, (0.5, 1.0, 2.0), strict=True):
        assert expected - 0.05 <= gap <= expected + 3.0, gaps
    with api.client(key) as shop:
        log = shop.get(f"/webhooks/{endpoint['id']}/deliveries").json()["items"]
    assert [(d["attempt"], d["status_code"]) for d in reversed(log)] == [
        (1, 500),
        (2, 500),
        (3, 500),
        (4, 200),
    ]
    assert all(d["event_type"] == "payment.settled" for d in log)


def test_secret_rotation_signs_with_both_during_overlap(
    world: World, serve: Callable[..., ApiServer], receiver: WebhookReceiver
) -> None:
    api = serve(**FAST, webhook_secret_overlap=8)
    world.index()
    key = world.key(world.merchant_a)
    endpoint = _register(api, key, receiver, event_types=["payment.settled"])
    old = endpoint["secret"]
    with api.client(key) as shop:
        rotated = shop.post(f"/webhooks/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    assert rotated.json()["previous_secret_expires_at"] is not None
    receiver.secrets = [old]  # a merchant that has not switched yet
    _pay(world, api, key, 1_000)
    world.index()
    (delivery,) = wait_for(receiver.events, timeout=20)
    assert delivery.verified, delivery.error
    header = delivery.headers["CityLedger-Signature"]
    assert header.count("v1=") == 2
    verify_signature(delivery.body, header, [new])  # and one that has
    overlap_ends = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    time.sleep(max(0.0, overlap_ends.timestamp() - time.time()) + 0.2)  # the overlap is over
    _pay(world, api, key, 1_001)
    world.index()
    wait_for(lambda: len(receiver.events()) == 2, timeout=20)
    later = receiver.events()[1]
    assert later.headers["CityLedger-Signature"].count("v1=") == 1
    assert not later.verified  # the receiver still has only the old secret
    with pytest.raises(NoMatchingSignature):
        verify_signature(later.body, later.headers["CityLedger-Signature"], [old])
    verify_signature(later.body, later.headers["CityLedger-Signature"], [new])


def _outbox(world: World, endpoint_id: str) -> WebhookOutbox:
    """The endpoint's one outbox row (an empty row until the worker writes it)."""
    with Session(world.engine) as session:
        rows = session.exec(
            select(WebhookOutbox).where(col(WebhookOutbox.endpoint_id) == uuid.UUID(endpoint_id))
        ).all()
    assert len(rows) <= 1
    if rows:
        return rows[0]
    return WebhookOutbox(
        event_id="", event_type="", endpoint_id=uuid.uuid4(), merchant="", payload=""
    )


def test_outbox_survives_a_killed_api(
    world: World, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    world.index()
    key = world.key(world.merchant_b)
    port = free_port()
    api = ApiServer(world.settings(), port=port)  # only for its client and URL
    process = serve_process(world, port, tmp_path / "serve.log")
    try:
        endpoint = _register(api, key, receiver, event_types=["payment.settled"])
        receiver.failures = 10_000  # the merchant's server is down
        ref = _pay(world, api, key, 6_000)
        world.index()
        wait_for(lambda: _outbox(world, endpoint["id"]).attempts >= 2, timeout=20)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    row = _outbox(world, endpoint["id"])
    assert row.delivered_at is None
    assert row.attempts >= 2
    event_id = row.event_id
    receiver.failures = 0  # the merchant's server is back; so is the API
    process = serve_process(world, port, tmp_path / "serve.log")
    try:
        wait_for(lambda: _outbox(world, endpoint["id"]).delivered_at, timeout=20)
        (delivered,) = [d for d in receiver.events() if d.status == 200]
        assert delivered.verified
        assert delivered.event["id"] == event_id
        assert delivered.event["data"]["ref"] == "0x" + ref.hex()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_each_outcome_is_written_as_it_arrives(
    world: World, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    """An event goes to two endpoints of one merchant, one answering at once, one hanging.
    The quick 200 is recorded on its own, not once the slowest delivery of a batch is done:
    the API killed (-9) right after it sends nothing twice and has lost no attempt."""
    world.index()
    key = world.key(world.merchant_b)
    port = free_port()
    api = ApiServer(world.settings(), port=port)  # only for its client and URL
    slow = HangingReceiver()
    log = tmp_path / "serve.log"
    process = serve_process(world, port, log, CITYLEDGER_API_WEBHOOK_TIMEOUT="120")
    try:
        quick = _register(api, key, receiver, event_types=["payment.settled"])
        _register_url(api, key, slow.url, event_types=["payment.settled"])
        _pay(world, api, key, 7_000)
        world.index()
        wait_for(slow.hanging, timeout=20)
        wait_for(lambda: _outbox(world, quick["id"]).delivered_at, timeout=20)
        assert slow.hanging() == 1  # the batch's slowest delivery has not finished
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    first = _outbox(world, quick["id"]).event_id
    process = serve_process(world, port, log, CITYLEDGER_API_WEBHOOK_TIMEOUT="120")
    try:
        _pay(world, api, key, 7_001)  # a later event shows the restarted worker delivering
        world.index()
        wait_for(lambda: len(receiver.events()) >= 2, timeout=20)
        received = [d.event["id"] for d in receiver.events()]
        assert received.count(first) == 1, received
        assert len(received) == len(set(received)) == 2
        with api.client(key) as shop:
            attempts = shop.get(f"/webhooks/{quick['id']}/deliveries").json()["items"]
        assert sorted((d["event_id"], d["status_code"]) for d in attempts) == sorted(
            (event, 200) for event in received
        )
    finally:
        slow.stop()
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_a_hanging_endpoint_delays_no_other_merchant(
    world: World, serve: Callable[..., ApiServer], receiver: WebhookReceiver
) -> None:
    """Merchant B's server takes a delivery and never answers; merchant A's webhook, due
    later, is delivered while B's request is still open."""
    api = serve(**FAST, webhook_timeout=120.0)
    world.index()
    slow = HangingReceiver()
    try:
        slow_key, quick_key = world.key(world.merchant_b), world.key(world.merchant_a)
        _register_url(api, slow_key, slow.url, event_types=["payment.settled"])
        _register(api, quick_key, receiver, event_types=["payment.settled"])
        _pay(world, api, slow_key, 2_000)
        world.index()
        wait_for(slow.hanging, timeout=20)
        ref = _pay(world, api, quick_key, 3_000)
        world.index()
        (delivered,) = wait_for(receiver.events, timeout=30)
        assert delivered.verified, delivered.error
        assert delivered.event["data"]["ref"] == "0x" + ref.hex()
        assert slow.hanging() == 1  # B's delivery is still waiting for an answer
    finally:
        slow.stop()


def test_endpoint_urls_are_checked(world: World, serve: Callable[..., ApiServer]) -> None:
    api = serve(webhook_allow_private_hosts=False, webhook_require_https=True)
    with api.client(world.key(world.merchant_a)) as shop:
        for url in (
            "http://shop.example.com/hooks",
            "https://127.0.0.1/hooks",
            "https://10.1.2.3/hooks",
            "https://localhost/hooks",
            "https://[::1]/hooks",
            "https://169.254.169.254/latest/meta-data",
            "ftp://shop.example.com/hooks",
            "https://shop.example.com:99999/",
            "not a url at all",
        ):
            answer = shop.post("/webhooks", json={"url": url})
            assert answer.status_code == 422, url
            assert answer.json()["code"] in ("invalid_webhook_url", "validation_error"), url
        # A public address (names are resolved, and nothing here resolves in public).
        ok = shop.post("/webhooks", json={"url": "https://93.184.215.14/hooks"})
        assert ok.status_code == 201, ok.text
        assert ok.json()["secret"].startswith("whsec_")
        listed = shop.get("/webhooks").json()
        assert all("secret" not in e for e in listed)  # shown once, at creation


def test_the_scan_cursor_is_written_when_it_moves_only(world: World) -> None:
    """An idle API scans every poll interval; those scans write nothing (the cursor row was
    updated on each, as long as the API ran)."""
    settings = world.settings(**FAST)
    scanner = Scanner(world.engine, settings, Services(settings))

    def cursor() -> tuple[int, datetime]:
        with Session(world.engine) as session:
            row = session.get(WebhookCursor, CURSOR)
            assert row is not None
            return row.block_number, row.updated_at

    world.index()
    scanner.scan_once()
    first = cursor()
    for _ in range(3):
        scanner.scan_once()
        assert cursor() == first

    city, ref = world.city, f"idle-{uuid.uuid4().hex[:16]}"
    city.city.token.mint(city.treasury, world.resident_2.address, 1, ref)  # a new block
    world.index()
    scanner.scan_once()
    moved = cursor()
    assert moved[0] > first[0]
    assert moved[1] > first[1]

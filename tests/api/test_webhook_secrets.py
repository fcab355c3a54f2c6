"""Webhook signing secrets at rest: never in the database in clear (endpoints, rotations,
deleted endpoints, the stored answers replayed to an ``Idempotency-Key``), sealed under a key
from the settings that can itself be rotated, sealed by the upgrade where an older version
stored them in clear, and every rotated secret still signing for its whole overlap however
many rotations follow it (within a bound)."""

from __future__ import annotations

import secrets
import signal
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import MetaData, Table, insert

from api.migrations import upgrade as upgrade_api
from api.webhooks.verify import verify_signature
from cityledger.testing.api import ApiServer, WebhookReceiver, World, make_key, wait_for
from cityledger.testing.processes import free_port
from ledger.indexer.db import make_engine
from ledger.indexer.db import upgrade as upgrade_index
from ledger.indexer.runner import Indexer
from ledger.payments.orders import parse_pay_uri
from tests.api.webhook_support import database_bytes, serve_process

FAST = {
    "webhooks_enabled": True,
    "webhook_poll_interval": 0.1,
    "webhook_backoff_base": 0.5,
    "webhook_backoff_jitter": 0.0,
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.stop()


def _ok(answer: Any, status: int = 201) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    document: dict[str, Any] = answer.json()
    return document


def _pay(world: World, api: ApiServer, key: str, amount: int) -> None:
    """An invoice of ``key``'s merchant, paid on chain by resident 1 (not yet indexed)."""
    with api.client(key) as shop:
        invoice = _ok(shop.post("/invoices", json={"amount": amount}))
    world.city.city.payments.pay(world.resident_1, parse_pay_uri(invoice["payment_uri"]).order)


def test_no_secret_is_stored_in_clear(world: World, serve: Callable[..., ApiServer]) -> None:
    """Register (and replay the registration), rotate twice (replaying one rotation), delete
    an endpoint: the answers show every secret, the database files hold none of them."""
    api = serve()
    shown: list[str] = []
    with api.client(world.key(world.merchant_a)) as shop:
        body = {"url": "https://hooks.example.com/a", "event_types": ["payment.settled"]}
        created = _ok(shop.post("/webhooks", json=body, headers={"Idempotency-Key": "wh-a"}))
        replayed = shop.post("/webhooks", json=body, headers={"Idempotency-Key": "wh-a"})
        assert replayed.headers.get("Idempotent-Replayed") == "true"
        assert _ok(replayed)["secret"] == created["secret"]  # a lost answer can be fetched
        rotate = f"/webhooks/{created['id']}/rotate-secret"
        first = _ok(shop.post(rotate, headers={"Idempotency-Key": "rot-1"}), 200)
        again = _ok(shop.post(rotate, headers={"Idempotency-Key": "rot-1"}), 200)
        assert again["secret"] == first["secret"]
        second = _ok(shop.post(rotate), 200)
        removed = _ok(shop.post("/webhooks", json={"url": "https://hooks.example.com/b"}))
        assert shop.delete(f"/webhooks/{removed['id']}").status_code == 204
        shown = [created["secret"], first["secret"], second["secret"], removed["secret"]]
    assert len(set(shown)) == 4
    stored = database_bytes(world.db_url)
    assert [s for s in shown if s.removeprefix("whsec_").encode() in stored] == []


def test_every_rotated_secret_signs_through_its_overlap(
    world: World, serve: Callable[..., ApiServer], receiver: WebhookReceiver
) -> None:
    """Two rotations in a row: a merchant still on the first secret, or on the second, still
    verifies every delivery during the overlap; a fifth signing secret is refused."""
    api = serve(**FAST, webhook_secret_overlap=600)
    world.index()
    key = world.key(world.merchant_b)
    with api.client(key) as shop:
        endpoint = _ok(
            shop.post("/webhooks", json={"url": receiver.url, "event_types": ["payment.settled"]})
        )
        rotate = f"/webhooks/{endpoint['id']}/rotate-secret"
        middle = _ok(shop.post(rotate), 200)["secret"]
        newest = _ok(shop.post(rotate), 200)["secret"]
    oldest = endpoint["secret"]
    receiver.secrets = [oldest]  # a merchant that has deployed neither new secret
    _pay(world, api, key, 1_500)
    world.index()
    (delivery,) = wait_for(receiver.events, timeout=20)
    assert delivery.verified, delivery.error
    header = delivery.headers["CityLedger-Signature"]
    assert header.count("v1=") == 3
    for secret in (middle, newest):
        verify_signature(delivery.body, header, [secret])

    with api.client(key) as shop:
        _ok(shop.post(rotate), 200)
        _ok(shop.post(rotate), 200)  # now five secrets sign
        refused = shop.post(rotate)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "too_many_rotations"


def test_the_encryption_key_can_be_rotated(
    world: World, serve: Callable[..., ApiServer], receiver: WebhookReceiver
) -> None:
    """Secrets sealed under key 1; the API restarted with "key 2, key 1" re-seals them under
    key 2; restarted with key 2 alone, it still signs with them."""
    from sqlmodel import Session, select

    from api.models import WebhookSecret

    one, two = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    world.index()
    key = world.key(world.merchant_a)
    first = serve(encryption_keys=one)
    with first.client(key) as shop:
        endpoint = _ok(
            shop.post("/webhooks", json={"url": receiver.url, "event_types": ["payment.settled"]})
        )
    receiver.secrets = [endpoint["secret"]]
    first.stop()

    def sealed() -> list[str]:
        with Session(world.engine) as session:
            return [s.sealed for s in session.exec(select(WebhookSecret)).all()]

    def opens(key_text: str, token: str) -> bool:
        try:
            Fernet(key_text.encode()).decrypt(token.encode())
        except Exception:
            return False
        return True

    assert any(opens(one, token) for token in sealed())
    both = serve(**FAST, encryption_keys=f"{two},{one}")  # housekeeping runs at its start
    wait_for(lambda: all(opens(two, token) for token in sealed()), timeout=20)
    both.stop()

    last = serve(**FAST, encryption_keys=two)
    _pay(world, last, key, 2_500)
    world.index()
    deliveries = wait_for(receiver.events, timeout=20)
    assert deliveries[-1].verified, deliveries[-1].error


def test_the_upgrade_seals_secrets_stored_in_clear(
    world: World, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    """A database from before sealing (revision api_0001) with a current and a previous
    secret in clear, and a stored answer holding one: `cityledger serve` migrates it (keys
    from its environment), the clear text is gone from the files, and deliveries are signed
    with both secrets as before."""
    url = f"sqlite:///{tmp_path / 'legacy.sqlite3'}"
    engine = make_engine(url)
    upgrade_index(engine)
    upgrade_api(url, "api_0001")
    with Indexer.for_manifest(engine, world.city.url, world.city.city.manifest) as indexer:
        indexer.run_once()
    merchant = world.merchant_b.address
    current, previous = (f"whsec_{secrets.token_urlsafe(32)}" for _ in range(2))
    now = datetime.now(UTC).replace(tzinfo=None)
    metadata = MetaData()
    endpoint = Table("webhook_endpoint", metadata, autoload_with=engine)
    record = Table("idempotency_record", metadata, autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(
            insert(endpoint).values(
                id=uuid.uuid4().hex,
                merchant=merchant,
                url=receiver.url,
                secret=current,
                previous_secret=previous,
                previous_secret_expires_at=now + timedelta(hours=1),
                event_types="payment.settled",
                active=True,
                scan_from_block=world.city.city.chain.block_number(),
                created_at=now,
            )
        )
        connection.execute(
            insert(record).values(
                id=uuid.uuid4().hex,
                principal=f"merchant:{merchant}",
                key="legacy",
                method="POST",
                path="/api/v1/webhooks",
                request_hash="0" * 64,
                status_code=201,
                response_body=f'{{"secret": "{current}"}}',
                created_at=now,
                completed_at=now,
            )
        )
    key = make_key(engine, merchant, None)
    assert current.encode() in database_bytes(url)

    port = free_port()
    api = ApiServer(world.settings(), port=port)  # only for its client
    process = serve_process(
        world,
        port,
        tmp_path / "serve.log",
        db_url=url,
        CITYLEDGER_API_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    try:
        _pay(world, api, key, 4_200)
        with Indexer.for_manifest(engine, world.city.url, world.city.city.manifest) as indexer:
            indexer.run_once()
        receiver.secrets = [current]
        (delivery,) = wait_for(receiver.events, timeout=20)
        assert delivery.verified, delivery.error
        verify_signature(delivery.body, delivery.headers["CityLedger-Signature"], [previous])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    engine.dispose()
    stored = database_bytes(url)
    assert [s for s in (current, previous) if s.encode() in stored] == []

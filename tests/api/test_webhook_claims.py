"""Claiming due webhook deliveries when several API replicas share one database: every due
row is claimed by exactly one replica, and what is delivered, failed, leased or belongs to a
removed endpoint is not claimed at all; each endpoint's lane claims only its own rows. On
SQLite and on the session's PostgreSQL server."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.core.config import Settings
from api.core.sealing import Sealer, sealer_for
from api.db import make_engine
from api.migrations import upgrade
from api.models import WebhookEndpoint, WebhookOutbox, utcnow
from api.webhooks import secret_store
from api.webhooks.delivery import Deliverer
from cityledger.testing.postgres import PostgresServer

MERCHANT = "0x" + "ab" * 20
REPLICAS = 4
DUE = 150
SETTINGS = Settings(webhook_batch=20, secret_key=secrets.token_urlsafe(48))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'api.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.new_database("claims")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _endpoint(session: Session, sealer: Sealer, *, deleted: bool = False) -> uuid.UUID:
    endpoint = WebhookEndpoint(
        merchant=MERCHANT,
        url="http://127.0.0.1:9/hooks",
        event_types="payment.settled",
        scan_from_block=0,
        deleted_at=utcnow() if deleted else None,
    )
    session.add(endpoint)
    session.flush()
    secret_store.issue(session, endpoint, sealer)
    return endpoint.id


def _outbox(
    session: Session,
    endpoint_id: uuid.UUID,
    name: str,
    next_attempt_at: datetime,
    delivered_at: datetime | None = None,
    failed_at: datetime | None = None,
) -> None:
    session.add(
        WebhookOutbox(
            event_id=name,
            event_type="payment.settled",
            endpoint_id=endpoint_id,
            merchant=MERCHANT,
            payload=json.dumps({"id": name}),
            next_attempt_at=next_attempt_at,
            delivered_at=delivered_at,
            failed_at=failed_at,
        )
    )


def test_each_due_row_is_claimed_by_one_replica(engine: Engine) -> None:
    now = utcnow()
    sealer = sealer_for(SETTINGS)
    with Session(engine) as session:
        live = _endpoint(session, sealer)
        other = _endpoint(session, sealer)
        removed = _endpoint(session, sealer, deleted=True)
        for n in range(DUE):
            _outbox(session, live, f"due-{n}", next_attempt_at=now - timedelta(seconds=1))
        _outbox(session, other, "other-endpoint", next_attempt_at=now - timedelta(seconds=2))
        _outbox(session, live, "delivered", next_attempt_at=now, delivered_at=now)
        _outbox(session, live, "failed", next_attempt_at=now, failed_at=now)
        _outbox(session, live, "leased", next_attempt_at=now + timedelta(minutes=5))
        _outbox(session, removed, "removed-endpoint", next_attempt_at=now)
        session.commit()

    deliverer = Deliverer(engine, SETTINGS, sealer)
    assert deliverer.due_endpoints(10, frozenset()) == [other, live]  # longest waiting first
    assert deliverer.due_endpoints(10, frozenset({other})) == [live]
    claims: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(REPLICAS)

    def replica() -> None:
        deliverer = Deliverer(engine, SETTINGS, sealer)
        start.wait()
        while claimed := deliverer.claim(live):
            target, due = claimed
            assert target.endpoint_id == live
            assert len(due) <= SETTINGS.webhook_batch
            with lock:
                claims.update(d.event_id for d in due)

    threads = [threading.Thread(target=replica) for _ in range(REPLICAS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert set(claims) == {f"due-{n}" for n in range(DUE)}
    assert max(claims.values()) == 1, [name for name, count in claims.items() if count > 1]
    with Session(engine) as session:
        leased = session.exec(
            select(WebhookOutbox).where(col(WebhookOutbox.event_id).startswith("due-"))
        ).all()
    assert all(row.next_attempt_at > now for row in leased)
    assert all(row.attempts == 0 for row in leased)  # claiming is not attempting
    assert deliverer.claim(removed) is None  # a removed endpoint's rows are never claimed
    claimed = deliverer.claim(other)
    assert claimed is not None
    assert [d.event_id for d in claimed[1]] == ["other-endpoint"]

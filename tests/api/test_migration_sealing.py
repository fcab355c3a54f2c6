"""Migration api_0002 on both databases: secrets an earlier version stored in clear are
encrypted (the current one, a previous one still in its overlap, the stored answer carrying
one), expired and deleted endpoints' secrets are dropped rather than copied, the clear-text
columns are gone, a downgrade gives the clear text back, and without a real key the
migration refuses to run."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from api.core.sealing import Sealer
from api.db import make_engine
from api.migrations import downgrade, upgrade
from cityledger.testing.postgres import PostgresServer
from ledger.indexer.db import upgrade as upgrade_index

endpoint = sa.table(
    "webhook_endpoint",
    sa.column("id", sa.Uuid()),
    sa.column("merchant", sa.String()),
    sa.column("url", sa.String()),
    sa.column("secret", sa.String()),
    sa.column("previous_secret", sa.String()),
    sa.column("previous_secret_expires_at", sa.DateTime(timezone=True)),
    sa.column("event_types", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("scan_from_block", sa.BigInteger()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("deleted_at", sa.DateTime(timezone=True)),
)
record = sa.table(
    "idempotency_record",
    sa.column("id", sa.Uuid()),
    sa.column("principal", sa.String()),
    sa.column("key", sa.String()),
    sa.column("method", sa.String()),
    sa.column("path", sa.String()),
    sa.column("request_hash", sa.String()),
    sa.column("status_code", sa.Integer()),
    sa.column("response_body", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
secret = sa.table(
    "webhook_secret",
    sa.column("endpoint_id", sa.Uuid()),
    sa.column("sealed", sa.Text()),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database("sealing")


def _legacy(url: str) -> dict[str, uuid.UUID]:
    """A database at api_0001 with clear-text secrets; the endpoints' ids by role."""
    upgrade_index(url)
    upgrade(url, "api_0001")
    engine = make_engine(url)
    now = datetime.now(UTC)
    if engine.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored without an offset, read back as UTC
    ids = {role: uuid.uuid4() for role in ("overlapping", "expired", "deleted")}
    rows = [
        ("overlapping", "whsec_current", "whsec_previous", now + timedelta(hours=1), None),
        ("expired", "whsec_alone", "whsec_expired", now - timedelta(hours=1), None),
        ("deleted", "whsec_deleted", None, None, now),
    ]
    with engine.begin() as connection:
        for role, current, previous, expires, deleted in rows:
            connection.execute(
                sa.insert(endpoint).values(
                    id=ids[role],
                    merchant="0x" + "ab" * 20,
                    url="https://hooks.example.com/x",
                    secret=current,
                    previous_secret=previous,
                    previous_secret_expires_at=expires,
                    event_types="payment.settled",
                    active=deleted is None,
                    scan_from_block=0,
                    created_at=now,
                    deleted_at=deleted,
                )
            )
        for key, body in (("with", {"secret": "whsec_current"}), ("without", {"ref": "0x12"})):
            connection.execute(
                sa.insert(record).values(
                    id=uuid.uuid4(),
                    principal="merchant:0x" + "ab" * 20,
                    key=key,
                    method="POST",
                    path="/api/v1/webhooks",
                    request_hash="0" * 64,
                    status_code=201,
                    response_body=json.dumps(body),
                    created_at=now,
                )
            )
    engine.dispose()
    return ids


def test_existing_secrets_are_sealed_and_unsealed_back(url: str) -> None:
    ids = _legacy(url)
    sealer = Sealer([Fernet.generate_key()], explicit=True)
    upgrade(url, sealer=sealer)
    engine = make_engine(url)
    try:
        assert {"secret", "previous_secret"}.isdisjoint(
            c["name"] for c in sa.inspect(engine).get_columns("webhook_endpoint")
        )
        with engine.connect() as connection:
            stored = connection.execute(sa.select(secret)).all()
            answers = {
                key: (bool(sealed), body)
                for key, sealed, body in connection.execute(
                    sa.text("SELECT key, response_sealed, response_body FROM idempotency_record")
                ).tuples()
            }
    finally:
        engine.dispose()
    opened = sorted(
        (row.endpoint_id, sealer.open(row.sealed), row.expires_at is None) for row in stored
    )
    assert opened == sorted(
        [
            (ids["overlapping"], "whsec_current", True),
            (ids["overlapping"], "whsec_previous", False),
            (ids["expired"], "whsec_alone", True),
        ]
    )
    sealed, body = answers["with"]
    assert sealed
    assert "whsec_" not in body
    assert json.loads(sealer.open(body)) == {"secret": "whsec_current"}
    assert not answers["without"][0]
    assert json.loads(answers["without"][1]) == {"ref": "0x12"}

    downgrade(url, "api_0001", sealer=sealer)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            secrets = {
                row.id: (row.secret, row.previous_secret)
                for row in connection.execute(
                    sa.select(endpoint.c.id, endpoint.c.secret, endpoint.c.previous_secret)
                )
            }
            bodies = connection.execute(sa.select(record.c.response_body)).scalars().all()
    finally:
        engine.dispose()
    assert secrets[ids["overlapping"]] == ("whsec_current", "whsec_previous")
    assert secrets[ids["expired"]] == ("whsec_alone", None)
    assert sorted((json.loads(b) for b in bodies), key=json.dumps) == sorted(
        [{"secret": "whsec_current"}, {"ref": "0x12"}], key=json.dumps
    )


@pytest.mark.filterwarnings("ignore:CITYLEDGER_API_SECRET_KEY is the default")
def test_the_migration_refuses_the_public_development_key(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _legacy(url)
    for name in (
        "CITYLEDGER_API_ENCRYPTION_KEYS",
        "CITYLEDGER_API_ENCRYPTION_KEYS_FILE",
        "CITYLEDGER_API_SECRET_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="CITYLEDGER_API_ENCRYPTION_KEYS"):
        upgrade(url)
    engine = make_engine(url)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"] for c in inspector.get_columns("webhook_endpoint")}
        tables = set(inspector.get_table_names())
    finally:
        engine.dispose()
    assert "secret" in columns  # nothing was changed
    assert "webhook_secret" not in tables

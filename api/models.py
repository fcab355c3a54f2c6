"""The API's own tables (the index tables live in :mod:`ledger.indexer.models`).

Both sets share one database; the API's migrations (``api/migrations``) keep their version in
``alembic_version_api``, the index's in ``alembic_version_index``. Times are tz-aware UTC
(SQLModel's ``UTCDateTime``: SQLite stores them without an offset, read back as UTC).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

ADDRESS = 42


def utcnow() -> datetime:
    return datetime.now(UTC)


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    column: Column[datetime] = Column(UTCDateTime(), nullable=nullable, index=index)
    if nullable:
        return Field(default=None, sa_column=column)
    return Field(default_factory=utcnow, sa_column=column)


def _bigint_id() -> Any:
    """An autoincrement BIGINT key (INTEGER on SQLite, where only that autoincrements)."""
    return Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )


class ApiKey(SQLModel, table=True):
    """A merchant's or a city service's key: only its SHA-256 digest is stored."""

    __tablename__ = "api_key"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    label: str = Field(max_length=100)
    principal_kind: str = Field(max_length=16)
    """``merchant`` | ``service``."""
    principal_address: str | None = Field(default=None, max_length=ADDRESS, index=True)
    scopes: str = Field(max_length=500)
    """Space-separated."""
    created_at: datetime = _time()
    revoked_at: datetime | None = _time(nullable=True)


class SiweNonce(SQLModel, table=True):
    """A sign-in nonce: single use, short-lived."""

    __tablename__ = "siwe_nonce"

    nonce: str = Field(primary_key=True, max_length=32)
    address: str | None = Field(default=None, max_length=ADDRESS)
    created_at: datetime = _time()
    expires_at: datetime = _time(index=True)
    used_at: datetime | None = _time(nullable=True)


class IdempotencyRecord(SQLModel, table=True):
    """The first result of a POST with an ``Idempotency-Key``, replayed to its repeats."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("principal", "key", name="uq_idempotency_principal_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    principal: str = Field(max_length=100)
    key: str = Field(max_length=255)
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    request_hash: str = Field(max_length=64)
    status_code: int | None = None
    """None while the first request runs."""
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    response_sealed: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    """The body is a sealed token (:mod:`api.core.sealing`): the answer carried a secret."""
    created_at: datetime = _time(index=True)
    completed_at: datetime | None = _time(nullable=True)


class WebhookEndpoint(SQLModel, table=True):
    """Where a merchant's events go, signed with its secrets (:class:`WebhookSecret`)."""

    __tablename__ = "webhook_endpoint"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    merchant: str = Field(max_length=ADDRESS, index=True)
    url: str = Field(max_length=2048)
    description: str | None = Field(default=None, max_length=200)
    previous_secret_expires_at: datetime | None = _time(nullable=True)
    """When the last rotated secret stops signing."""
    event_types: str = Field(max_length=500)
    """Space-separated."""
    active: bool = True
    scan_from_block: int = Field(sa_column=Column(BigInteger, nullable=False))
    """Events of later blocks are sent to it (none from before it was registered)."""
    created_at: datetime = _time()
    deleted_at: datetime | None = _time(nullable=True)


class WebhookSecret(SQLModel, table=True):
    """One signing secret of an endpoint, sealed (:mod:`api.core.sealing`): the current one
    (no expiry) and each rotated one until its overlap ends. Each rotation keeps its own
    expiry, so two rotations in a row cut no secret's overlap short; expired and deleted
    endpoints' rows are deleted."""

    __tablename__ = "webhook_secret"

    id: int | None = _bigint_id()
    endpoint_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("webhook_endpoint.id"), nullable=False, index=True)
    )
    sealed: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _time()
    expires_at: datetime | None = _time(nullable=True)
    """None for the current secret; else the end of its overlap."""


class WebhookOutbox(SQLModel, table=True):
    """One event to deliver to one endpoint: written once per (event, endpoint), kept."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_outbox_event_endpoint"),
        Index("ix_outbox_due", "delivered_at", "failed_at", "next_attempt_at"),
    )

    id: int | None = _bigint_id()
    event_id: str = Field(max_length=40)
    event_type: str = Field(max_length=40)
    endpoint_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("webhook_endpoint.id"), nullable=False, index=True)
    )
    merchant: str = Field(max_length=ADDRESS)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    """The exact body sent on every attempt."""
    created_at: datetime = _time()
    attempts: int = 0
    next_attempt_at: datetime = _time()
    delivered_at: datetime | None = _time(nullable=True)
    failed_at: datetime | None = _time(nullable=True)
    """Set when the attempts ran out."""
    last_error: str | None = Field(default=None, max_length=500)


class WebhookDelivery(SQLModel, table=True):
    """The log of every delivery attempt."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_delivery_endpoint", "endpoint_id", "attempted_at"),)

    id: int | None = _bigint_id()
    outbox_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("webhook_outbox.id"), nullable=False)
    )
    endpoint_id: uuid.UUID
    event_id: str = Field(max_length=40)
    attempt: int
    attempted_at: datetime = _time()
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int


class WebhookCursor(SQLModel, table=True):
    """How far the webhook scanner has read the index."""

    __tablename__ = "webhook_cursor"

    name: str = Field(primary_key=True, max_length=32)
    block_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = _time()


API_TABLES = (
    ApiKey.__tablename__,
    SiweNonce.__tablename__,
    IdempotencyRecord.__tablename__,
    WebhookEndpoint.__tablename__,
    WebhookSecret.__tablename__,
    WebhookOutbox.__tablename__,
    WebhookDelivery.__tablename__,
    WebhookCursor.__tablename__,
)

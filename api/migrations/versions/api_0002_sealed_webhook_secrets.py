"""Webhook secrets sealed at rest, one row per secret; sealed idempotent answers

Revision ID: api_0002
Revises: api_0001
Create Date: 2027-01-18

The signing secrets move from two clear-text columns of ``webhook_endpoint`` to
``webhook_secret`` (one sealed row per secret, each rotated one with its own expiry), and
stored idempotent answers that carry a secret are sealed (``response_sealed``). Existing rows
are sealed here, with the keys the API will run with (see :mod:`api.migrations`); secrets of
deleted endpoints and expired previous secrets are dropped, not copied. On SQLite the
migration runs with ``secure_delete`` so the clear text is overwritten in the file, and the
WAL is truncated afterwards (``env.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from api.core.sealing import Sealer
from api.migrations import SEALED_ROWS, SEALER

revision: str = "api_0002"
down_revision: str | None = "api_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECRET_MARK = "%whsec_%"
"""Stored answers holding a webhook secret (every secret starts ``whsec_``)."""

endpoint = sa.table(
    "webhook_endpoint",
    sa.column("id", sa.Uuid()),
    sa.column("secret", sa.String()),
    sa.column("previous_secret", sa.String()),
    sa.column("previous_secret_expires_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("deleted_at", sa.DateTime(timezone=True)),
)
secret = sa.table(
    "webhook_secret",
    sa.column("endpoint_id", sa.Uuid()),
    sa.column("sealed", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)
record = sa.table(
    "idempotency_record",
    sa.column("id", sa.Uuid()),
    sa.column("response_body", sa.Text()),
    sa.column("response_sealed", sa.Boolean()),
)


class MigrationKeyError(RuntimeError):
    """Existing secrets would be sealed under the public development key."""


def _sealer() -> Sealer:
    """The API's sealer: given by the caller, else from the environment as ``serve`` reads it."""
    from pydantic import ValidationError

    from api.core.config import DEFAULT_SECRET, Settings
    from api.core.sealing import sealer_for

    given = context.config.attributes.get(SEALER)
    if isinstance(given, Sealer):
        return given
    refusal = MigrationKeyError(
        "webhook secrets are stored in this database and must be encrypted: set "
        "CITYLEDGER_API_ENCRYPTION_KEYS (or the CITYLEDGER_API_SECRET_KEY the API runs "
        "with) in the environment of the migration"
    )
    try:
        settings = Settings()
    except ValidationError:  # no usable secret key in the environment
        raise refusal from None
    if settings.encryption_keys is None and settings.secret_key == DEFAULT_SECRET:
        raise refusal
    return sealer_for(settings)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def upgrade() -> None:
    bind = op.get_bind()
    # Read, and get the key, before changing anything: SQLite's DDL is not transactional
    # here, and a refusal must leave the database as it was.
    endpoints = bind.execute(
        sa.select(
            endpoint.c.id,
            endpoint.c.secret,
            endpoint.c.previous_secret,
            endpoint.c.previous_secret_expires_at,
            endpoint.c.created_at,
        ).where(endpoint.c.deleted_at.is_(None))
    ).all()
    answers = bind.execute(
        sa.select(record.c.id, record.c.response_body).where(
            record.c.response_body.like(SECRET_MARK)
        )
    ).all()
    sealer = _sealer() if endpoints or answers else None

    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete=ON")
    op.create_table(
        "webhook_secret",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoint.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_secret_endpoint_id", "webhook_secret", ["endpoint_id"])
    op.add_column(
        "idempotency_record",
        sa.Column("response_sealed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    if sealer is not None:
        _seal(bind, sealer, endpoints, answers)
        context.config.attributes[SEALED_ROWS] = True
    # Native DROP COLUMN (SQLite >= 3.35): a batch copy would drop a table the outbox's
    # foreign key points at.
    op.drop_column("webhook_endpoint", "previous_secret")
    op.drop_column("webhook_endpoint", "secret")


def _seal(
    bind: sa.Connection, sealer: Sealer, endpoints: Sequence[Any], answers: Sequence[Any]
) -> None:
    """Each live endpoint's current secret and a previous one still in its overlap, sealed
    into ``webhook_secret``; each stored answer holding a secret sealed in place."""
    now = datetime.now(UTC)
    rows = []
    for row in endpoints:
        created = _utc(row.created_at)
        rows.append(
            {
                "endpoint_id": row.id,
                "sealed": sealer.seal(row.secret),
                "created_at": created,
                "expires_at": None,
            }
        )
        expires = _utc(row.previous_secret_expires_at)
        if row.previous_secret and expires is not None and expires > now:
            rows.append(
                {
                    "endpoint_id": row.id,
                    "sealed": sealer.seal(row.previous_secret),
                    "created_at": created,
                    "expires_at": expires,
                }
            )
    if rows:
        op.bulk_insert(secret, rows)
    for answer in answers:
        bind.execute(
            sa.update(record)
            .where(record.c.id == answer.id)
            .values(response_body=sealer.seal(answer.response_body), response_sealed=True)
        )


def downgrade() -> None:
    bind = op.get_bind()
    stored = bind.execute(
        sa.select(secret.c.endpoint_id, secret.c.sealed, secret.c.expires_at).order_by(
            secret.c.endpoint_id, secret.c.expires_at
        )
    ).all()
    answers = bind.execute(
        sa.select(record.c.id, record.c.response_body).where(record.c.response_sealed)
    ).all()
    sealer = _sealer() if stored or answers else None
    op.add_column(
        "webhook_endpoint",
        sa.Column("secret", sa.String(length=100), server_default="", nullable=False),
    )
    op.add_column(
        "webhook_endpoint", sa.Column("previous_secret", sa.String(length=100), nullable=True)
    )
    if sealer is not None:
        for row in stored:
            column = "secret" if row.expires_at is None else "previous_secret"
            bind.execute(
                sa.update(endpoint)
                .where(endpoint.c.id == row.endpoint_id)
                .values({column: sealer.open(row.sealed)})
            )
        for answer in answers:
            bind.execute(
                sa.update(record)
                .where(record.c.id == answer.id)
                .values(response_body=sealer.open(answer.response_body))
            )
    op.drop_column("idempotency_record", "response_sealed")
    op.drop_index("ix_webhook_secret_endpoint_id", table_name="webhook_secret")
    op.drop_table("webhook_secret")

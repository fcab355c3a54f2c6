"""The index schema: cursor, blocks, events and the tables derived from them.

Revision ID: 0001_index
Revises:
Create Date: 2026-11-23

Generated with alembic autogenerate from ``ledger.indexer.models`` and checked by hand (SQLModel
string types written as plain ``sa.String``); ``tests/indexer/test_migrations.py`` proves the
migrated schema equals the models on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_index"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "account",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("district", sa.Integer(), nullable=False),
        sa.Column("credential_hash", sa.String(length=66), nullable=False),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_table(
        "balance",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_table(
        "block",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number"),
        sa.UniqueConstraint("hash"),
    )
    op.create_table(
        "cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("genesis_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contracts", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("args", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tx_hash", "log_index", name="uq_event_tx_log"),
    )
    op.create_index("ix_event_block", "event", ["block_number"], unique=False)
    op.create_index("ix_event_name", "event", ["contract", "name"], unique=False)

    op.create_table(
        "invoice",
        sa.Column("ref", sa.String(length=66), nullable=False),
        sa.Column("merchant", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=True),
        sa.Column("salt", sa.String(length=66), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payer", sa.String(length=42), nullable=True),
        sa.Column("paid_block", sa.BigInteger(), nullable=True),
        sa.Column("paid_tx", sa.String(length=66), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ref"),
    )
    op.create_index("ix_invoice_merchant", "invoice", ["merchant", "created_at"], unique=False)

    op.create_table(
        "payment",
        sa.Column("ref", sa.String(length=66), nullable=False),
        sa.Column("payer", sa.String(length=42), nullable=False),
        sa.Column("merchant", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("merchant_amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("city_share", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("points_clawed_back", sa.BigInteger(), nullable=False),
        sa.Column("city_share_returned", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ref"),
    )
    op.create_index("ix_payment_merchant", "payment", ["merchant", "timestamp"], unique=False)
    op.create_index("ix_payment_payer", "payment", ["payer", "timestamp"], unique=False)

    op.create_table(
        "redemption",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("merchant", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("settlement_ref", sa.String(length=66), nullable=True),
        sa.Column("reason", sa.String(length=66), nullable=True),
        sa.Column("requested_block", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_block", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_redemption_merchant", "redemption", ["merchant", "requested_at"], unique=False
    )

    op.create_table(
        "refund",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=66), nullable=False),
        sa.Column("payer", sa.String(length=42), nullable=False),
        sa.Column("merchant", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("from_merchant", sa.BigInteger(), nullable=False),
        sa.Column("from_city", sa.BigInteger(), nullable=False),
        sa.Column("points_clawed_back", sa.BigInteger(), nullable=False),
        sa.Column("refunded_total", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tx_hash", "log_index", name="uq_refund_tx_log"),
    )
    op.create_index("ix_refund_block", "refund", ["block_number"], unique=False)
    op.create_index("ix_refund_merchant", "refund", ["merchant", "timestamp"], unique=False)
    op.create_index(op.f("ix_refund_ref"), "refund", ["ref"], unique=False)

    op.create_table(
        "supply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("total_supply", sa.BigInteger(), nullable=False),
        sa.Column("total_minted", sa.BigInteger(), nullable=False),
        sa.Column("total_burned", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tx_hash", "log_index", name="uq_transfer_tx_log"),
    )
    op.create_index("ix_transfer_block", "transfer", ["block_number"], unique=False)
    op.create_index("ix_transfer_from", "transfer", ["sender", "block_number"], unique=False)
    op.create_index("ix_transfer_to", "transfer", ["recipient", "block_number"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_transfer_to", table_name="transfer")
    op.drop_index("ix_transfer_from", table_name="transfer")
    op.drop_index("ix_transfer_block", table_name="transfer")

    op.drop_table("transfer")
    op.drop_table("supply")
    op.drop_index(op.f("ix_refund_ref"), table_name="refund")
    op.drop_index("ix_refund_merchant", table_name="refund")
    op.drop_index("ix_refund_block", table_name="refund")

    op.drop_table("refund")
    op.drop_index("ix_redemption_merchant", table_name="redemption")

    op.drop_table("redemption")
    op.drop_index("ix_payment_payer", table_name="payment")
    op.drop_index("ix_payment_merchant", table_name="payment")

    op.drop_table("payment")
    op.drop_index("ix_invoice_merchant", table_name="invoice")

    op.drop_table("invoice")
    op.drop_index("ix_event_name", table_name="event")
    op.drop_index("ix_event_block", table_name="event")

    op.drop_table("event")
    op.drop_table("cursor")
    op.drop_table("block")
    op.drop_table("balance")
    op.drop_table("account")

"""The index schema: raw events plus the tables derived from them.

Append-only tables (``block``, ``event``, ``transfer``, ``refund``) carry the block they came
from, so a reorg deletes what lies above the common ancestor; the mutable derived tables
(``account``, ``balance``, ``payment``, ``invoice`` status, ``redemption``, ``supply``) are then
rebuilt by replaying the kept events. ``invoice`` rows are also written by the API when a
merchant creates an invoice (with its salt); the indexer fills in payment and cancellation.

Amounts are whole won in BIGINT; addresses are checksummed hex, hashes 0x-hex.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.payments.states import InvoiceStatus, PaymentStatus

ADDRESS = 42
HASH = 66


def _amount() -> int:
    """A BIGINT amount column (SQLModel maps ``int`` to INTEGER, too small for sums)."""
    amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    return amount


class Cursor(SQLModel, table=True):
    """Where the index stands: one row, committed with every batch."""

    __tablename__ = "cursor"

    id: int = Field(default=1, primary_key=True)
    chain_id: int
    genesis_hash: str = Field(max_length=HASH)
    block_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    block_hash: str = Field(max_length=HASH)
    updated_at: datetime
    contracts: str | None = Field(default=None)
    """The contracts indexed, as JSON ``{name: address}``: a contract added to the deployment
    later (the PaymentRouter of an upgraded city) is caught up from its deployment block."""


class Block(SQLModel, table=True):
    """Every indexed block's hash and parent, to find the common ancestor after a reorg."""

    __tablename__ = "block"

    number: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(max_length=HASH, unique=True)
    parent_hash: str = Field(max_length=HASH)
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))


class Event(SQLModel, table=True):
    """One decoded CityLedger log; ``args`` is its arguments as JSON (bytes as 0x-hex)."""

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_event_tx_log"),
        Index("ix_event_block", "block_number"),
        Index("ix_event_name", "contract", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    block_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    block_hash: str = Field(max_length=HASH)
    tx_hash: str = Field(max_length=HASH)
    log_index: int
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    contract: str = Field(max_length=64)
    address: str = Field(max_length=ADDRESS)
    name: str = Field(max_length=64)
    args: str


class Account(SQLModel, table=True):
    """An account's registration as the registry last reported it."""

    __tablename__ = "account"

    address: str = Field(primary_key=True, max_length=ADDRESS)
    kind: int
    status: int
    district: int
    credential_hash: str = Field(max_length=HASH)
    registered_block: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_block: int = Field(sa_column=Column(BigInteger, nullable=False))


class Balance(SQLModel, table=True):
    """An account's token balance and the points it earned net of claw-backs."""

    __tablename__ = "balance"

    address: str = Field(primary_key=True, max_length=ADDRESS)
    balance: int = _amount()
    points: int = _amount()
    updated_block: int = Field(sa_column=Column(BigInteger, nullable=False))


class Transfer(SQLModel, table=True):
    """Every token Transfer (mints from and burns to the zero address included): the history."""

    __tablename__ = "transfer"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_transfer_tx_log"),
        Index("ix_transfer_from", "sender", "block_number"),
        Index("ix_transfer_to", "recipient", "block_number"),
        Index("ix_transfer_block", "block_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    block_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    tx_hash: str = Field(max_length=HASH)
    log_index: int
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    sender: str = Field(max_length=ADDRESS)
    recipient: str = Field(max_length=ADDRESS)
    amount: int = _amount()


class Invoice(SQLModel, table=True):
    """An invoice: created by the API (with its order) or first seen paid or cancelled on chain.

    ``status``: ``open`` | ``paid`` | ``cancelled`` | ``expired``.
    """

    __tablename__ = "invoice"
    __table_args__ = (Index("ix_invoice_merchant", "merchant", "created_at"),)

    ref: str = Field(primary_key=True, max_length=HASH)
    merchant: str = Field(max_length=ADDRESS)
    amount: int = _amount()
    valid_until: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    salt: str | None = Field(default=None, max_length=HASH)
    description: str | None = Field(default=None, max_length=200)
    external_id: str | None = Field(default=None, max_length=100)
    status: str = Field(default=InvoiceStatus.OPEN, max_length=16)
    payer: str | None = Field(default=None, max_length=ADDRESS)
    paid_block: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    paid_tx: str | None = Field(default=None, max_length=HASH)
    created_at: datetime


class Payment(SQLModel, table=True):
    """A settled payment (id = invoice reference) and how much of it was refunded."""

    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_merchant", "merchant", "timestamp"),
        Index("ix_payment_payer", "payer", "timestamp"),
    )

    ref: str = Field(primary_key=True, max_length=HASH)
    payer: str = Field(max_length=ADDRESS)
    merchant: str = Field(max_length=ADDRESS)
    amount: int = _amount()
    merchant_amount: int = _amount()
    fee: int = _amount()
    points: int = _amount()
    city_share: int = _amount()
    refunded: int = _amount()
    points_clawed_back: int = _amount()
    city_share_returned: int = _amount()
    status: str = Field(default=PaymentStatus.SETTLED, max_length=20)
    """A :class:`~ledger.payments.states.PaymentStatus`."""
    block_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    tx_hash: str = Field(max_length=HASH)
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))


class Refund(SQLModel, table=True):
    """One (partial) refund of a payment."""

    __tablename__ = "refund"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_refund_tx_log"),
        Index("ix_refund_merchant", "merchant", "timestamp"),
        Index("ix_refund_block", "block_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=HASH, index=True)
    payer: str = Field(max_length=ADDRESS)
    merchant: str = Field(max_length=ADDRESS)
    amount: int = _amount()
    from_merchant: int = _amount()
    from_city: int = _amount()
    points_clawed_back: int = _amount()
    refunded_total: int = _amount()
    block_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    tx_hash: str = Field(max_length=HASH)
    log_index: int
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))


class Redemption(SQLModel, table=True):
    """A merchant's redemption request; ``status``: ``requested`` | ``confirmed`` | ``rejected``."""

    __tablename__ = "redemption"
    __table_args__ = (Index("ix_redemption_merchant", "merchant", "requested_at"),)

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    merchant: str = Field(max_length=ADDRESS)
    amount: int = _amount()
    status: str = Field(max_length=16)
    settlement_ref: str | None = Field(default=None, max_length=HASH)
    reason: str | None = Field(default=None, max_length=HASH)
    requested_block: int = Field(sa_column=Column(BigInteger, nullable=False))
    requested_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    decided_block: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    decided_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class Supply(SQLModel, table=True):
    """The token's supply as the index sees it: one row."""

    __tablename__ = "supply"

    id: int = Field(default=1, primary_key=True)
    total_supply: int = _amount()
    total_minted: int = _amount()
    total_burned: int = _amount()
    updated_block: int = Field(sa_column=Column(BigInteger, nullable=False))

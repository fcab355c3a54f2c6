"""Reads of the index that several routes share."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from ledger.indexer.models import Account, Block, Cursor, Invoice
from ledger.payments.expiry import invoice_expired
from ledger.payments.states import InvoiceStatus
from ledger.types import AccountKind, AccountStatus


@dataclass(frozen=True, slots=True)
class IndexHead:
    block_number: int
    timestamp: int | None


def index_head(session: Session) -> IndexHead | None:
    """The last indexed block (None before the indexer's first batch)."""
    cursor = session.get(Cursor, 1)
    if cursor is None:
        return None
    block = session.get(Block, cursor.block_number)
    return IndexHead(cursor.block_number, block.timestamp if block else None)


def effective_status(invoice: Invoice, head: IndexHead | None, grace: int) -> InvoiceStatus:
    """An open invoice past paying reads as expired before the worker marks it."""
    if invoice.status != InvoiceStatus.OPEN or invoice.valid_until is None:
        return InvoiceStatus(invoice.status)
    expired = invoice_expired(
        invoice.valid_until,
        now=time.time(),
        indexed_time=head.timestamp if head else None,
        caught_up=True,
        grace=grace,
    )
    return InvoiceStatus.EXPIRED if expired else InvoiceStatus.OPEN


def index_time(moment: datetime) -> datetime:
    """A time for the index's UTC columns."""
    return moment.astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def is_active_merchant(session: Session, address: str) -> bool:
    """Whether the registry holds ``address`` as an active merchant, as far as it is indexed
    (an invoice or a merchant key for anyone else is refused)."""
    account = session.get(Account, address)
    return (
        account is not None
        and account.kind == AccountKind.MERCHANT
        and account.status == AccountStatus.ACTIVE
    )

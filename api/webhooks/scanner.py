"""Scanning the index into the webhook outbox.

The router's events come from the index's ``event`` table, expired invoices from ``invoice``;
each becomes one outbox row per subscribed endpoint. Event ids derive from the chain and the
outbox is unique per (event, endpoint), so each scan re-reads the last
``webhook_rescan_blocks`` blocks (to survive a reorg of the index) without queueing anything
twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict

import structlog
from sqlalchemy import Engine, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.core.config import Settings
from api.index import IndexHead, index_head
from api.models import WebhookCursor, WebhookEndpoint, WebhookOutbox, utcnow
from api.services import Services
from api.webhooks.events import LOG_EVENTS, envelope, event_id, log_data
from ledger.exceptions import LedgerError
from ledger.indexer.models import Event, Invoice
from ledger.payments.expiry import invoice_expired
from ledger.payments.states import InvoiceStatus

log = structlog.get_logger("api.webhooks")

CURSOR = "events"
MAX_BLOCKS_PER_SCAN = 10_000
_IDS_PER_QUERY = 500


class Scanner:
    def __init__(self, engine: Engine, settings: Settings, services: Services) -> None:
        self.engine = engine
        self.settings = settings
        self.services = services
        self._last_expiry_scan = -1e9

    def scan_once(self) -> int:
        """Write outbox rows for new events of merchants with endpoints; returns how many."""
        with Session(self.engine) as session:
            head = index_head(session)
            if head is None:
                return 0
            endpoints = session.exec(
                select(WebhookEndpoint).where(
                    col(WebhookEndpoint.active), col(WebhookEndpoint.deleted_at).is_(None)
                )
            ).all()
            by_merchant: dict[str, list[WebhookEndpoint]] = defaultdict(list)
            for endpoint in endpoints:
                by_merchant[endpoint.merchant].append(endpoint)
            cursor = session.get(WebhookCursor, CURSOR)
            new = cursor is None
            if cursor is None:
                last = min((e.scan_from_block for e in endpoints), default=head.block_number)
                cursor = WebhookCursor(name=CURSOR, block_number=last)
            start = max(0, cursor.block_number - self.settings.webhook_rescan_blocks)
            end = min(head.block_number, start + MAX_BLOCKS_PER_SCAN)
            written = 0
            if by_merchant:
                written += self._scan_logs(session, by_merchant, start, end)
            if time.monotonic() - self._last_expiry_scan >= self.settings.expiry_scan_interval:
                self._last_expiry_scan = time.monotonic()
                written += self._scan_expiries(session, by_merchant, head)
            if new or end > cursor.block_number:
                # Written only when it moves: an idle API would otherwise update this row
                # every poll interval, forever.
                cursor.block_number = max(cursor.block_number, end)
                cursor.updated_at = utcnow()
                session.add(cursor)
            session.commit()
        if written:
            log.info("webhook_events_queued", count=written, block=end)
        return written

    def _scan_logs(
        self,
        session: Session,
        by_merchant: dict[str, list[WebhookEndpoint]],
        start: int,
        end: int,
    ) -> int:
        events = session.exec(
            select(Event)
            .where(
                col(Event.block_number) > start,
                col(Event.block_number) <= end,
                col(Event.name).in_(list(LOG_EVENTS)),
            )
            .order_by(col(Event.block_number), col(Event.log_index))
        ).all()
        # The rescan window is read again on every scan: skip what is queued already, so a
        # scan costs one read instead of an insert attempt per event and endpoint.
        identifiers = [event_id(e.tx_hash, e.log_index) for e in events]
        queued = _queued(session, identifiers)
        written = 0
        for event, identifier in zip(events, identifiers, strict=True):
            try:
                args = json.loads(event.args)
                merchant = str(args["merchant"])
            except (ValueError, KeyError, TypeError):
                log.warning(
                    "webhook_event_args_unreadable", tx=event.tx_hash, log_index=event.log_index
                )
                continue
            targets = [
                e
                for e in by_merchant.get(merchant, [])
                if LOG_EVENTS[event.name] in e.event_types.split()
                and event.block_number > e.scan_from_block
                and (identifier, e.id) not in queued
            ]
            if not targets:
                continue
            kind = LOG_EVENTS[event.name]
            body = envelope(identifier, kind, event.timestamp, log_data(event, args))
            written += self._enqueue(session, identifier, kind, merchant, body, targets)
        return written

    def _scan_expiries(
        self, session: Session, by_merchant: dict[str, list[WebhookEndpoint]], head: IndexHead
    ) -> int:
        now = time.time()
        cutoff = max(int(now) - self.settings.expiry_grace, head.timestamp or 0)
        candidates = session.exec(
            select(Invoice)
            .where(col(Invoice.status) == InvoiceStatus.OPEN, col(Invoice.valid_until) < cutoff)
            .limit(500)
        ).all()
        if not candidates:
            return 0
        caught_up = self._caught_up(head)
        written = 0
        for invoice in candidates:
            assert invoice.valid_until is not None
            if not invoice_expired(
                invoice.valid_until,
                now=now,
                indexed_time=head.timestamp,
                caught_up=caught_up,
                grace=self.settings.expiry_grace,
            ):
                continue
            marked = session.execute(
                update(Invoice)
                .where(col(Invoice.ref) == invoice.ref, col(Invoice.status) == InvoiceStatus.OPEN)
                .values(status=InvoiceStatus.EXPIRED)
            )
            if marked.rowcount != 1:  # type: ignore[attr-defined]
                continue
            targets = [
                e
                for e in by_merchant.get(invoice.merchant, [])
                if "invoice.expired" in e.event_types.split()
            ]
            if not targets:
                continue
            identifier = event_id("invoice.expired", invoice.ref)
            data = {
                "ref": invoice.ref,
                "merchant": invoice.merchant,
                "amount": invoice.amount,
                "valid_until": invoice.valid_until,
                "external_id": invoice.external_id,
            }
            body = envelope(identifier, "invoice.expired", int(now), data)
            written += self._enqueue(
                session, identifier, "invoice.expired", invoice.merchant, body, targets
            )
        return written

    def _caught_up(self, head: IndexHead) -> bool:
        try:
            return self.services.city.chain.block_number() <= head.block_number
        except LedgerError:
            return False

    def _enqueue(
        self,
        session: Session,
        identifier: str,
        kind: str,
        merchant: str,
        body: str,
        targets: list[WebhookEndpoint],
    ) -> int:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        now = utcnow()
        written = 0
        for endpoint in targets:
            statement = (
                insert(WebhookOutbox)
                .values(
                    event_id=identifier,
                    event_type=kind,
                    endpoint_id=endpoint.id,
                    merchant=merchant,
                    payload=body,
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now,
                )
                .on_conflict_do_nothing(index_elements=["event_id", "endpoint_id"])
            )
            written += session.execute(statement).rowcount  # type: ignore[attr-defined]
        return written


def _queued(session: Session, identifiers: list[str]) -> set[tuple[str, uuid.UUID]]:
    """(event id, endpoint id) of the outbox rows already written for these events."""
    found: set[tuple[str, uuid.UUID]] = set()
    for start in range(0, len(identifiers), _IDS_PER_QUERY):
        chunk = identifiers[start : start + _IDS_PER_QUERY]
        found.update(
            session.exec(
                select(WebhookOutbox.event_id, WebhookOutbox.endpoint_id).where(
                    col(WebhookOutbox.event_id).in_(chunk)
                )
            ).all()
        )
    return found

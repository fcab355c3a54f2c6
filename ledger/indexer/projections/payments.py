"""The payments domain's derived tables: ``payment`` (with its refunds' totals and state),
``refund`` (one row per refund), ``invoice`` (paid or cancelled; the API's own rows keep their
other columns), ``redemption``, and the points part of ``balance``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete

from ledger.indexer.db import reset_invoices, table
from ledger.indexer.decode import DecodedEvent
from ledger.indexer.projection import BalanceDeltas, Projection
from ledger.indexer.sql import insert_ignore, load_rows, upsert
from ledger.payments.states import InvoiceStatus, PaymentStatus, RedemptionState

ROUTER = "PaymentRouter"


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class PaymentsProjection(Projection):
    append_only = ("refund",)
    mutable = ("payment", "redemption")

    def __init__(self, connection: Connection, events: Sequence[DecodedEvent]) -> None:
        payment_keys = {
            e.args["invoiceRef"]
            for e in events
            if "invoiceRef" in e.args and e.name != "InvoiceCancelled"
        }
        redemption_keys = {e.args["redemptionId"] for e in events if "redemptionId" in e.args}
        self.payments = load_rows(connection, table("payment"), "ref", payment_keys)
        self.redemptions = load_rows(connection, table("redemption"), "id", redemption_keys)
        self.changed_payments: set[str] = set()
        self.changed_redemptions: set[int] = set()
        self.balances = BalanceDeltas()
        self.paid_invoices: dict[str, dict[str, Any]] = {}
        self.cancelled_invoices: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []

    @classmethod
    def reset(cls, connection: Connection) -> None:
        """Also forget what the indexer wrote into ``invoice`` (the API's rows stay, open)."""
        for name in cls.mutable:
            connection.execute(delete(table(name)))
        reset_invoices(connection)

    def write(self, connection: Connection, *, append: bool) -> None:
        if append:
            insert_ignore(connection, table("refund"), self.refunds, ["tx_hash", "log_index"])
        upsert(
            connection,
            table("payment"),
            [self.payments[r] for r in sorted(self.changed_payments) if r in self.payments],
            ["ref"],
        )
        upsert(
            connection,
            table("redemption"),
            [self.redemptions[i] for i in sorted(self.changed_redemptions)],
            ["id"],
        )
        self.balances.write(connection)
        invoice = table("invoice")
        upsert(
            connection,
            invoice,
            list(self.paid_invoices.values()),
            ["ref"],
            lambda s: {
                "status": s.excluded.status,
                "payer": s.excluded.payer,
                "paid_block": s.excluded.paid_block,
                "paid_tx": s.excluded.paid_tx,
            },
        )
        upsert(
            connection,
            invoice,
            list(self.cancelled_invoices.values()),
            ["ref"],
            lambda s: {"status": s.excluded.status},
        )


def _settled(p: PaymentsProjection, e: DecodedEvent, ts: int) -> None:
    a = e.args
    ref, payer = a["invoiceRef"], a["payer"]
    p.changed_payments.add(ref)
    p.payments[ref] = {
        "ref": ref,
        "payer": payer,
        "merchant": a["merchant"],
        "amount": a["amount"],
        "merchant_amount": a["merchantAmount"],
        "fee": a["fee"],
        "points": a["points"],
        "city_share": a["cityShare"],
        "refunded": 0,
        "points_clawed_back": 0,
        "city_share_returned": 0,
        "status": PaymentStatus.SETTLED,
        "block_number": e.block_number,
        "tx_hash": e.tx_hash,
        "timestamp": ts,
    }
    p.balances.add(payer, e.block_number, points=a["points"])
    p.cancelled_invoices.pop(ref, None)
    p.paid_invoices[ref] = {
        "ref": ref,
        "merchant": a["merchant"],
        "amount": a["amount"],
        "status": InvoiceStatus.PAID,
        "payer": payer,
        "paid_block": e.block_number,
        "paid_tx": e.tx_hash,
        "created_at": _utc(ts),
    }


def _refunded(p: PaymentsProjection, e: DecodedEvent, ts: int) -> None:
    a = e.args
    ref = a["invoiceRef"]
    p.refunds.append(
        {
            "ref": ref,
            "payer": a["payer"],
            "merchant": a["merchant"],
            "amount": a["amount"],
            "from_merchant": a["fromMerchant"],
            "from_city": a["fromCity"],
            "points_clawed_back": a["pointsClawedBack"],
            "refunded_total": a["refundedTotal"],
            "block_number": e.block_number,
            "tx_hash": e.tx_hash,
            "log_index": e.log_index,
            "timestamp": ts,
        }
    )
    p.balances.add(a["payer"], e.block_number, points=-a["pointsClawedBack"])
    payment = p.payments.get(ref)
    if payment is not None:
        p.changed_payments.add(ref)
        payment["refunded"] = a["refundedTotal"]
        payment["points_clawed_back"] += a["pointsClawedBack"]
        payment["city_share_returned"] += a["fromCity"]
        payment["status"] = PaymentStatus.after_refunds(a["refundedTotal"], payment["amount"])


def _cancelled(p: PaymentsProjection, e: DecodedEvent, ts: int) -> None:
    ref = e.args["invoiceRef"]
    p.cancelled_invoices[ref] = {
        "ref": ref,
        "merchant": e.args["merchant"],
        "amount": 0,
        "status": InvoiceStatus.CANCELLED,
        "created_at": _utc(ts),
    }


def _redemption_requested(p: PaymentsProjection, e: DecodedEvent, ts: int) -> None:
    rid = e.args["redemptionId"]
    p.changed_redemptions.add(rid)
    p.redemptions[rid] = {
        "id": rid,
        "merchant": e.args["merchant"],
        "amount": e.args["amount"],
        "status": RedemptionState.REQUESTED,
        "settlement_ref": None,
        "reason": None,
        "requested_block": e.block_number,
        "requested_at": ts,
        "decided_block": None,
        "decided_at": None,
    }


def _redemption_decided(status: RedemptionState, field: str, arg: str) -> Any:
    def handle(p: PaymentsProjection, e: DecodedEvent, ts: int) -> None:
        rid = e.args["redemptionId"]
        p.changed_redemptions.add(rid)
        row = p.redemptions.setdefault(
            rid,
            {
                "id": rid,
                "merchant": e.args["merchant"],
                "amount": e.args["amount"],
                "settlement_ref": None,
                "reason": None,
                "requested_block": e.block_number,
                "requested_at": ts,
            },
        )
        row.update(
            {"status": status, field: e.args[arg], "decided_block": e.block_number},
            decided_at=ts,
        )

    return handle


PaymentsProjection.handlers = {
    (ROUTER, "PaymentSettled"): _settled,
    (ROUTER, "PaymentRefunded"): _refunded,
    (ROUTER, "InvoiceCancelled"): _cancelled,
    (ROUTER, "RedemptionRequested"): _redemption_requested,
    (ROUTER, "RedemptionConfirmed"): _redemption_decided(
        RedemptionState.CONFIRMED, "settlement_ref", "settlementRef"
    ),
    (ROUTER, "RedemptionRejected"): _redemption_decided(
        RedemptionState.REJECTED, "reason", "reason"
    ),
}

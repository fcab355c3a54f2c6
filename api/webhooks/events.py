"""Webhook events: their stable ids and bodies, built from the index's chain events."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ledger.indexer.models import Event

LOG_EVENTS = {
    "PaymentSettled": "payment.settled",
    "PaymentRefunded": "payment.refunded",
    "RedemptionConfirmed": "settlement.confirmed",
}
"""The router's events that become webhooks, by the webhook type they become."""


def event_id(*parts: object) -> str:
    """A stable event id: the same chain log (or invoice expiry) always gets the same id."""
    return "evt_" + hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _int(value: Any) -> int:
    return int(value, 0) if isinstance(value, str) else int(value)


def log_data(event: Event, args: dict[str, Any]) -> dict[str, Any]:
    common = {
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "block_number": event.block_number,
        "timestamp": event.timestamp,
    }
    if event.name == "PaymentSettled":
        return {
            "ref": args["invoiceRef"],
            "payer": args["payer"],
            "merchant": args["merchant"],
            "amount": _int(args["amount"]),
            "merchant_amount": _int(args["merchantAmount"]),
            "fee": _int(args["fee"]),
            "points": _int(args["points"]),
            "city_share": _int(args["cityShare"]),
            **common,
        }
    if event.name == "PaymentRefunded":
        return {
            "ref": args["invoiceRef"],
            "payer": args["payer"],
            "merchant": args["merchant"],
            "amount": _int(args["amount"]),
            "from_merchant": _int(args["fromMerchant"]),
            "from_city": _int(args["fromCity"]),
            "points_clawed_back": _int(args["pointsClawedBack"]),
            "refunded_total": _int(args["refundedTotal"]),
            **common,
        }
    return {
        "redemption_id": _int(args["redemptionId"]),
        "merchant": args["merchant"],
        "amount": _int(args["amount"]),
        "settlement_ref": args["settlementRef"],
        **common,
    }


def envelope(identifier: str, kind: str, created: int, data: dict[str, Any]) -> str:
    """The exact body every attempt sends."""
    return json.dumps(
        {"id": identifier, "type": kind, "created": created, "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )

"""An account's token history, read from the token's event logs (no indexer needed).

Transfers in and out come from ``Transfer`` logs; a transfer from the zero address is a deposit
(a mint against a bank deposit), one to the zero address a redemption. ``Minted``/``Redeemed``
logs add their references, ``BalanceRecovered`` marks a key recovery, and the payment router's
``PaymentSettled``/``PaymentRefunded`` logs turn transfers into payments, sales and refunds with
the token points they earned or clawed back. Logs are read newest first in windows of blocks, so
``--limit`` stops the scan early on a long chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ledger.types import KRW, reference_text

if TYPE_CHECKING:
    from hexbytes import HexBytes
    from web3.types import EventData

    from ledger.contracts.payments import PaymentRouter
    from ledger.contracts.token import CityToken

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
WINDOW = 5_000
"""Blocks per eth_getLogs query (the embedded node refuses ranges over 10,000 by default)."""

Kind = Literal[
    "in",
    "out",
    "self",
    "deposit",
    "redeem",
    "recovered in",
    "recovered out",
    "payment",
    "sale",
    "refund in",
    "refund out",
]
_OUTGOING = ("out", "redeem", "recovered out", "payment", "refund out")
PAYMENT_KINDS = ("payment", "sale", "refund in", "refund out")
"""Movements whose reference is an invoice (0x and 64 hex digits)."""


@dataclass(frozen=True, slots=True)
class Movement:
    block: int
    log_index: int
    tx_hash: str
    kind: Kind
    counterparty: str | None
    """The other account; None for deposits and redemptions."""
    amount: KRW
    reference: str | None = None
    """Deposit or settlement reference, or the invoice of a payment or refund."""
    points: int | None = None
    """Token points the payer earned (+) or had clawed back (-), on the payer's payments."""

    @property
    def signed_amount(self) -> int:
        """Positive into the account, negative out of it, zero for a transfer to itself."""
        if self.kind == "self":
            return 0
        return -self.amount if self.kind in _OUTGOING else self.amount


def account_history(
    token: CityToken,
    account: str,
    router: PaymentRouter | None = None,
    *,
    first_block: int,
    last_block: int,
    limit: int | None,
    window: int = WINDOW,
    on_window: Callable[[int], None] | None = None,
) -> list[Movement]:
    """``account``'s movements, newest first; at most ``limit`` (None: all of them)."""
    found: list[Movement] = []
    high = last_block
    while high >= first_block and (limit is None or len(found) < limit):
        low = max(first_block, high - window + 1)
        found += _window(token, router, account, low, high)
        if on_window is not None:
            on_window(high - low + 1)
        high = low - 1
    found.sort(key=lambda m: (m.block, m.log_index), reverse=True)
    return found if limit is None else found[:limit]


@dataclass(frozen=True, slots=True)
class _PaymentNote:
    """What a payment or refund transaction meant for the account."""

    counterparty: str
    invoice: str
    points: int | None
    as_payer: bool
    refund: bool


def _payment_notes(
    router: PaymentRouter, account: str, low: int, high: int
) -> dict[HexBytes, _PaymentNote]:
    def logs(event: str, **filters: str) -> list[EventData]:
        return router.events(event, from_block=low, to_block=high, argument_filters=filters)

    notes: dict[HexBytes, _PaymentNote] = {}
    for refund, event in [(False, "PaymentSettled"), (True, "PaymentRefunded")]:
        for e in logs(event, payer=account) + logs(event, merchant=account):
            args = e["args"]
            as_payer = args["payer"] == account
            points = -args["pointsClawedBack"] if refund else args["points"]
            notes[e["transactionHash"]] = _PaymentNote(
                args["merchant"] if as_payer else args["payer"],
                "0x" + bytes(args["invoiceRef"]).hex(),
                points if as_payer else None,
                as_payer,
                refund,
            )
    return notes


def _window(
    token: CityToken, router: PaymentRouter | None, account: str, low: int, high: int
) -> list[Movement]:
    def logs(event: str, **filters: str) -> list[EventData]:
        return token.events(event, from_block=low, to_block=high, argument_filters=filters)

    transfers = {
        (e["transactionHash"], e["logIndex"]): e
        for e in logs("Transfer", **{"from": account}) + logs("Transfer", to=account)
    }
    references: dict[HexBytes, str] = {}
    for e in logs("Minted", to=account):
        references[e["transactionHash"]] = reference_text(e["args"]["depositRef"])
    for e in logs("Redeemed", account=account):
        references[e["transactionHash"]] = reference_text(e["args"]["settlementRef"])
    recoveries = {
        e["transactionHash"]
        for e in logs("BalanceRecovered", **{"from": account})
        + logs("BalanceRecovered", to=account)
    }
    notes = _payment_notes(router, account, low, high) if router is not None else {}
    movements = []
    for event in transfers.values():
        sender, recipient = event["args"]["from"], event["args"]["to"]
        tx_hash = event["transactionHash"]
        kind: Kind
        counterparty: str | None
        reference = references.get(tx_hash)
        points = None
        note = notes.get(tx_hash)
        if note is not None and account in (sender, recipient) and sender != recipient:
            incoming = recipient == account
            if note.refund:
                kind = "refund in" if incoming else "refund out"
            else:
                kind = "sale" if incoming else "payment"
            counterparty = sender if incoming else recipient
            reference = note.invoice
            # Once per payment: on the leg with the merchant, not the city's share.
            points = note.points if counterparty == note.counterparty else None
        elif sender == ZERO_ADDRESS:
            kind, counterparty = "deposit", None
        elif recipient == ZERO_ADDRESS:
            kind, counterparty = "redeem", None
        elif sender == recipient:
            kind, counterparty = "self", sender
        elif recipient == account:
            kind = "recovered in" if tx_hash in recoveries else "in"
            counterparty = sender
        else:
            kind = "recovered out" if tx_hash in recoveries else "out"
            counterparty = recipient
        movements.append(
            Movement(
                block=event["blockNumber"],
                log_index=event["logIndex"],
                tx_hash=tx_hash.to_0x_hex(),
                kind=kind,
                counterparty=counterparty,
                amount=KRW(event["args"]["value"]),
                reference=reference,
                points=points,
            )
        )
    return movements

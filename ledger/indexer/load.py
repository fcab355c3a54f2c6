"""Write one batch of blocks and decoded events, and everything derived from them, atomically.

:func:`load_batch` runs ONE database transaction: lock the cursor, check the batch extends it,
insert blocks and events, apply the derived updates, move the cursor, commit. Because the
derived updates commit together with the cursor, a crash before the commit leaves nothing of
the batch, and a batch applied again finds the cursor at or past its blocks and changes nothing
(rows are also inserted with ON CONFLICT DO NOTHING on their natural keys, so no event or
transfer is ever stored twice). Inserts are SQLAlchemy Core ``executemany``.

Derived tables:

* append-only, one row per event: ``transfer`` (every token Transfer), ``refund``;
* mutable, keyed: ``account`` (registry), ``balance`` (token balance and points earned net of
  claw-backs), ``payment``, ``invoice`` (status, payer, paid block; rows the API created keep
  their other columns), ``redemption``, ``supply``.

:func:`apply_events` is the one place that turns events into derived rows; the reorg rollback
replays kept events through it to rebuild the mutable tables.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from ledger.indexer.db import table, write_transaction
from ledger.indexer.decode import DecodedEvent
from ledger.indexer.errors import CursorMovedError, IndexerError, ParentMismatchError
from ledger.indexer.extract import Batch, Header
from ledger.payments.states import InvoiceStatus, PaymentStatus, RedemptionState
from ledger.types import AccountStatus

TOKEN = "CityToken"
REGISTRY = "ResidentRegistry"
ROUTER = "PaymentRouter"
ZERO_ADDRESS = "0x" + "00" * 20
KEY_CHUNK = 2_000
"""Keys per ``IN (...)`` when loading rows to update (far below every backend's limit)."""

DERIVING_EVENTS: frozenset[tuple[str, str]] = frozenset(
    {
        (TOKEN, "Transfer"),
        (TOKEN, "Minted"),
        (TOKEN, "Redeemed"),
        (REGISTRY, "AccountRegistered"),
        (REGISTRY, "AccountUpdated"),
        (REGISTRY, "AccountFrozen"),
        (REGISTRY, "AccountUnfrozen"),
        (REGISTRY, "AccountRecovered"),
        (ROUTER, "PaymentSettled"),
        (ROUTER, "PaymentRefunded"),
        (ROUTER, "InvoiceCancelled"),
        (ROUTER, "RedemptionRequested"),
        (ROUTER, "RedemptionConfirmed"),
        (ROUTER, "RedemptionRejected"),
    }
)
"""The events that change a derived table; the others are only stored in ``event``."""


@dataclass(frozen=True)
class CursorState:
    chain_id: int
    genesis_hash: str
    block_number: int
    block_hash: str
    contracts: str | None = None
    """JSON ``{name: address}`` of the contracts indexed (see :func:`contracts_json`)."""

    def at(self, number: int, block_hash: str) -> CursorState:
        return dataclasses.replace(self, block_number=number, block_hash=block_hash)


def contracts_json(contracts: Mapping[str, str]) -> str:
    """The canonical JSON of an ``address → name`` mapping, as ``{name: address}``."""
    return json.dumps(
        {name: address for address, name in sorted(contracts.items())}, sort_keys=True
    )


@dataclass(frozen=True)
class LoadResult:
    blocks: int
    events: int
    cursor: CursorState


def dialect_insert(connection: Connection, target: Table) -> Any:
    """``INSERT`` with ON CONFLICT support for the connection's backend."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(target)
    if name == "sqlite":
        return sqlite.insert(target)
    raise IndexerError(f"the index supports SQLite and PostgreSQL, not {name}")


def insert_ignore(
    connection: Connection, target: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    if rows:
        statement = dialect_insert(connection, target).on_conflict_do_nothing(
            index_elements=list(keys)
        )
        connection.execute(statement, list(rows))


def upsert(
    connection: Connection,
    target: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    update: Callable[[Any], Mapping[str, Any]] | None = None,
) -> None:
    """Insert ``rows``, or on a key conflict set the columns ``update(statement)`` names
    (default: every non-key column to the new value)."""
    if not rows:
        return
    statement = dialect_insert(connection, target)
    set_ = (
        update(statement)
        if update is not None
        else {c.name: statement.excluded[c.name] for c in target.columns if c.name not in keys}
    )
    connection.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=set_), list(rows)
    )


def read_cursor(connection: Connection, *, lock: bool = False) -> CursorState | None:
    cursor = table("cursor")
    query = select(
        cursor.c.chain_id,
        cursor.c.genesis_hash,
        cursor.c.block_number,
        cursor.c.block_hash,
        cursor.c.contracts,
    ).where(cursor.c.id == 1)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    return None if row is None else CursorState(*row)


def write_cursor(connection: Connection, state: CursorState) -> None:
    upsert(
        connection,
        table("cursor"),
        [
            {
                "id": 1,
                "chain_id": state.chain_id,
                "genesis_hash": state.genesis_hash,
                "block_number": state.block_number,
                "block_hash": state.block_hash,
                "updated_at": datetime.now(UTC),
                "contracts": state.contracts,
            }
        ],
        ["id"],
    )


def insert_blocks(connection: Connection, headers: Iterable[Header]) -> None:
    insert_ignore(
        connection,
        table("block"),
        [
            {
                "number": h.number,
                "hash": h.hash,
                "parent_hash": h.parent_hash,
                "timestamp": h.timestamp,
            }
            for h in headers
        ],
        ["number"],
    )


def init_cursor(
    engine: Engine,
    chain_id: int,
    genesis_hash: str,
    before_start: Header | None,
    contracts: str | None = None,
) -> CursorState:
    """Start an empty index just before the first block to index (``before_start`` is that
    block's predecessor, None when indexing starts at genesis). Returns the cursor in force:
    another indexer's, if one won the race."""
    state = CursorState(
        chain_id,
        genesis_hash,
        before_start.number if before_start else -1,
        before_start.hash if before_start else "0x" + "00" * 32,
        contracts,
    )
    with write_transaction(engine) as connection:
        existing = read_cursor(connection, lock=True)
        if existing is not None:
            return existing
        if before_start is not None:
            insert_blocks(connection, [before_start])
        write_cursor(connection, state)
    return state


def load_batch(
    engine: Engine, batch: Batch, events: Sequence[DecodedEvent], *, expected: CursorState
) -> LoadResult:
    """Apply ``batch`` (its blocks and decoded ``events``) in one transaction.

    Blocks at or below the cursor are skipped (a batch re-run after it committed changes
    nothing). Raises :class:`ParentMismatchError` if the first new block does not extend the
    indexed chain, :class:`CursorMovedError` if the cursor is not where the caller read it.
    """
    with write_transaction(engine) as connection:
        cursor = read_cursor(connection, lock=True)
        if cursor is None or (cursor.chain_id, cursor.genesis_hash, cursor.contracts) != (
            expected.chain_id,
            expected.genesis_hash,
            expected.contracts,
        ):
            raise CursorMovedError("the index was reset or re-initialised under this indexer")
        headers = [h for h in batch.headers if h.number > cursor.block_number]
        if not headers:
            return LoadResult(0, 0, cursor)
        first = headers[0]
        if first.number != cursor.block_number + 1:
            raise CursorMovedError(
                f"the batch starts at block {first.number}, the index is at {cursor.block_number}"
            )
        if first.parent_hash != cursor.block_hash:
            raise ParentMismatchError(
                f"block {first.number}'s parent {first.parent_hash} is not the indexed block "
                f"{cursor.block_number} ({cursor.block_hash})"
            )
        new_events = [e for e in events if e.block_number > cursor.block_number]
        timestamps = {h.number: h.timestamp for h in headers}
        insert_blocks(connection, headers)
        insert_events(connection, new_events, timestamps)
        apply_events(connection, new_events, timestamps, append=True)
        last = headers[-1]
        state = cursor.at(last.number, last.hash)
        write_cursor(connection, state)
    return LoadResult(len(headers), len(new_events), state)


def insert_events(
    connection: Connection, events: Sequence[DecodedEvent], timestamps: Mapping[int, int]
) -> None:
    insert_ignore(
        connection,
        table("event"),
        [
            {
                "block_number": e.block_number,
                "block_hash": e.block_hash,
                "tx_hash": e.tx_hash,
                "log_index": e.log_index,
                "timestamp": timestamps[e.block_number],
                "contract": e.contract,
                "address": e.address,
                "name": e.name,
                "args": json.dumps(e.args, separators=(",", ":")),
            }
            for e in events
        ],
        ["tx_hash", "log_index"],
    )


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _load_rows(
    connection: Connection, target: Table, key: str, keys: Iterable[Any]
) -> dict[Any, dict[str, Any]]:
    wanted = sorted(set(keys))
    rows: dict[Any, dict[str, Any]] = {}
    column = target.c[key]
    for start in range(0, len(wanted), KEY_CHUNK):
        chunk = wanted[start : start + KEY_CHUNK]
        for row in connection.execute(select(target).where(column.in_(chunk))):
            rows[row._mapping[key]] = dict(row._mapping)
    return rows


class _Derived:
    """The derived changes of a run of events, gathered in memory, then written in bulk."""

    def __init__(self, connection: Connection, events: Sequence[DecodedEvent]) -> None:
        account_keys: set[str] = set()
        payment_keys: set[str] = set()
        redemption_keys: set[int] = set()
        for e in events:
            if e.contract == REGISTRY:
                for name in ("account", "oldAccount", "newAccount"):
                    if name in e.args:
                        account_keys.add(e.args[name])
            elif e.contract == ROUTER:
                if "invoiceRef" in e.args and e.name != "InvoiceCancelled":
                    payment_keys.add(e.args["invoiceRef"])
                if "redemptionId" in e.args:
                    redemption_keys.add(e.args["redemptionId"])
        self.accounts = _load_rows(connection, table("account"), "address", account_keys)
        self.payments = _load_rows(connection, table("payment"), "ref", payment_keys)
        self.redemptions = _load_rows(connection, table("redemption"), "id", redemption_keys)
        self.changed_accounts: set[str] = set()
        self.changed_payments: set[str] = set()
        self.changed_redemptions: set[int] = set()
        self.balances: dict[str, list[int]] = {}
        """address → [balance delta, points delta, last block]."""
        self.supply = [0, 0, 0, -1]
        """[supply delta, minted delta, burned delta, last block]."""
        self.paid_invoices: dict[str, dict[str, Any]] = {}
        self.cancelled_invoices: dict[str, dict[str, Any]] = {}
        self.transfers: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []

    def balance(self, address: str, block: int, amount: int = 0, points: int = 0) -> None:
        entry = self.balances.get(address)
        if entry is None:
            self.balances[address] = [amount, points, block]
        else:
            entry[0] += amount
            entry[1] += points
            entry[2] = block

    def account(self, address: str) -> dict[str, Any] | None:
        self.changed_accounts.add(address)
        return self.accounts.get(address)

    def write(self, connection: Connection, *, append: bool) -> None:
        if append:
            insert_ignore(connection, table("transfer"), self.transfers, ["tx_hash", "log_index"])
            insert_ignore(connection, table("refund"), self.refunds, ["tx_hash", "log_index"])
        upsert(
            connection,
            table("account"),
            [self.accounts[a] for a in sorted(self.changed_accounts) if a in self.accounts],
            ["address"],
        )
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
        balance = table("balance")
        upsert(
            connection,
            balance,
            [
                {"address": a, "balance": d[0], "points": d[1], "updated_block": d[2]}
                for a, d in sorted(self.balances.items())
            ],
            ["address"],
            lambda s: {
                "balance": balance.c.balance + s.excluded.balance,
                "points": balance.c.points + s.excluded.points,
                "updated_block": s.excluded.updated_block,
            },
        )
        if self.supply[3] >= 0:
            supply = table("supply")
            upsert(
                connection,
                supply,
                [
                    {
                        "id": 1,
                        "total_supply": self.supply[0],
                        "total_minted": self.supply[1],
                        "total_burned": self.supply[2],
                        "updated_block": self.supply[3],
                    }
                ],
                ["id"],
                lambda s: {
                    "total_supply": supply.c.total_supply + s.excluded.total_supply,
                    "total_minted": supply.c.total_minted + s.excluded.total_minted,
                    "total_burned": supply.c.total_burned + s.excluded.total_burned,
                    "updated_block": s.excluded.updated_block,
                },
            )
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


Handler = Callable[[_Derived, DecodedEvent, int], None]


def _transfer(d: _Derived, e: DecodedEvent, ts: int) -> None:
    sender, recipient, value = e.args["from"], e.args["to"], e.args["value"]
    block = e.block_number
    d.transfers.append(
        {
            "block_number": block,
            "tx_hash": e.tx_hash,
            "log_index": e.log_index,
            "timestamp": ts,
            "sender": sender,
            "recipient": recipient,
            "amount": value,
        }
    )
    if sender == ZERO_ADDRESS:
        d.supply[0] += value
    else:
        d.balance(sender, block, -value)
    if recipient == ZERO_ADDRESS:
        d.supply[0] -= value
    else:
        d.balance(recipient, block, value)
    d.supply[3] = block


def _minted(d: _Derived, e: DecodedEvent, _ts: int) -> None:
    d.supply[1] += e.args["amount"]
    d.supply[3] = e.block_number


def _redeemed(d: _Derived, e: DecodedEvent, _ts: int) -> None:
    d.supply[2] += e.args["amount"]
    d.supply[3] = e.block_number


def _registered(d: _Derived, e: DecodedEvent, _ts: int) -> None:
    address = e.args["account"]
    d.account(address)
    d.accounts[address] = {
        "address": address,
        "kind": e.args["kind"],
        "status": int(AccountStatus.ACTIVE),
        "district": e.args["district"],
        "credential_hash": e.args["credentialHash"],
        "registered_block": e.block_number,
        "updated_block": e.block_number,
    }


def _updated(d: _Derived, e: DecodedEvent, _ts: int) -> None:
    row = d.account(e.args["account"])
    if row is not None:
        row.update(
            kind=e.args["kind"],
            district=e.args["district"],
            credential_hash=e.args["credentialHash"],
            updated_block=e.block_number,
        )


def _status(status: AccountStatus) -> Handler:
    def handle(d: _Derived, e: DecodedEvent, _ts: int) -> None:
        row = d.account(e.args["account"])
        if row is not None:
            row.update(status=int(status), updated_block=e.block_number)

    return handle


def _recovered(d: _Derived, e: DecodedEvent, _ts: int) -> None:
    old, new = d.account(e.args["oldAccount"]), e.args["newAccount"]
    d.account(new)
    if old is None:
        return
    d.accounts[new] = {
        **old,
        "address": new,
        "status": int(AccountStatus.ACTIVE),
        "updated_block": e.block_number,
    }
    old.update(status=int(AccountStatus.RETIRED), updated_block=e.block_number)


def _settled(d: _Derived, e: DecodedEvent, ts: int) -> None:
    a = e.args
    ref, payer = a["invoiceRef"], a["payer"]
    d.changed_payments.add(ref)
    d.payments[ref] = {
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
    d.balance(payer, e.block_number, points=a["points"])
    d.cancelled_invoices.pop(ref, None)
    d.paid_invoices[ref] = {
        "ref": ref,
        "merchant": a["merchant"],
        "amount": a["amount"],
        "status": InvoiceStatus.PAID,
        "payer": payer,
        "paid_block": e.block_number,
        "paid_tx": e.tx_hash,
        "created_at": _utc(ts),
    }


def _refunded(d: _Derived, e: DecodedEvent, ts: int) -> None:
    a = e.args
    ref = a["invoiceRef"]
    d.refunds.append(
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
    d.balance(a["payer"], e.block_number, points=-a["pointsClawedBack"])
    payment = d.payments.get(ref)
    if payment is not None:
        d.changed_payments.add(ref)
        payment["refunded"] = a["refundedTotal"]
        payment["points_clawed_back"] += a["pointsClawedBack"]
        payment["city_share_returned"] += a["fromCity"]
        payment["status"] = PaymentStatus.after_refunds(a["refundedTotal"], payment["amount"])


def _cancelled(d: _Derived, e: DecodedEvent, ts: int) -> None:
    ref = e.args["invoiceRef"]
    d.cancelled_invoices[ref] = {
        "ref": ref,
        "merchant": e.args["merchant"],
        "amount": 0,
        "status": InvoiceStatus.CANCELLED,
        "created_at": _utc(ts),
    }


def _redemption_requested(d: _Derived, e: DecodedEvent, ts: int) -> None:
    rid = e.args["redemptionId"]
    d.changed_redemptions.add(rid)
    d.redemptions[rid] = {
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


def _redemption_decided(status: RedemptionState, field: str, arg: str) -> Handler:
    def handle(d: _Derived, e: DecodedEvent, ts: int) -> None:
        rid = e.args["redemptionId"]
        d.changed_redemptions.add(rid)
        row = d.redemptions.setdefault(
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


HANDLERS: dict[tuple[str, str], Handler] = {
    (TOKEN, "Transfer"): _transfer,
    (TOKEN, "Minted"): _minted,
    (TOKEN, "Redeemed"): _redeemed,
    (REGISTRY, "AccountRegistered"): _registered,
    (REGISTRY, "AccountUpdated"): _updated,
    (REGISTRY, "AccountFrozen"): _status(AccountStatus.FROZEN),
    (REGISTRY, "AccountUnfrozen"): _status(AccountStatus.ACTIVE),
    (REGISTRY, "AccountRecovered"): _recovered,
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
assert set(HANDLERS) == DERIVING_EVENTS


def apply_events(
    connection: Connection,
    events: Sequence[DecodedEvent],
    timestamps: Mapping[int, int],
    *,
    append: bool,
) -> None:
    """Apply ``events`` (in chain order) to the derived tables; ``append=False`` skips the
    append-only tables (a replay after a rollback, where those rows are kept)."""
    relevant = [e for e in events if (e.contract, e.name) in DERIVING_EVENTS]
    if not relevant:
        return
    derived = _Derived(connection, relevant)
    for event in relevant:
        HANDLERS[event.contract, event.name](derived, event, timestamps[event.block_number])
    derived.write(connection, append=append)

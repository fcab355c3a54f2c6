"""The core domain's derived tables: ``account`` (the registry), ``balance`` (token amounts),
``supply`` and ``transfer`` (one row per token Transfer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ledger.indexer.db import table
from ledger.indexer.decode import DecodedEvent
from ledger.indexer.projection import BalanceDeltas, Projection
from ledger.indexer.sql import insert_ignore, load_rows, upsert
from ledger.types import AccountStatus

TOKEN = "CityToken"
REGISTRY = "ResidentRegistry"
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass
class SupplyDelta:
    supply: int = 0
    minted: int = 0
    burned: int = 0
    block: int = -1
    """The last block that changed it; -1: nothing did."""


class CoreProjection(Projection):
    append_only = ("transfer",)
    mutable = ("account", "balance", "supply")

    def __init__(self, connection: Connection, events: Sequence[DecodedEvent]) -> None:
        keys = {
            e.args[name]
            for e in events
            if e.contract == REGISTRY
            for name in ("account", "oldAccount", "newAccount")
            if name in e.args
        }
        self.accounts = load_rows(connection, table("account"), "address", keys)
        self.changed_accounts: set[str] = set()
        self.balances = BalanceDeltas()
        self.supply = SupplyDelta()
        self.transfers: list[dict[str, Any]] = []

    def account(self, address: str) -> dict[str, Any] | None:
        self.changed_accounts.add(address)
        return self.accounts.get(address)

    def write(self, connection: Connection, *, append: bool) -> None:
        if append:
            insert_ignore(connection, table("transfer"), self.transfers, ["tx_hash", "log_index"])
        upsert(
            connection,
            table("account"),
            [self.accounts[a] for a in sorted(self.changed_accounts) if a in self.accounts],
            ["address"],
        )
        self.balances.write(connection)
        if self.supply.block >= 0:
            supply = table("supply")
            upsert(
                connection,
                supply,
                [
                    {
                        "id": 1,
                        "total_supply": self.supply.supply,
                        "total_minted": self.supply.minted,
                        "total_burned": self.supply.burned,
                        "updated_block": self.supply.block,
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


def _transfer(p: CoreProjection, e: DecodedEvent, ts: int) -> None:
    sender, recipient, value = e.args["from"], e.args["to"], e.args["value"]
    block = e.block_number
    p.transfers.append(
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
        p.supply.supply += value
    else:
        p.balances.add(sender, block, amount=-value)
    if recipient == ZERO_ADDRESS:
        p.supply.supply -= value
    else:
        p.balances.add(recipient, block, amount=value)
    p.supply.block = block


def _minted(p: CoreProjection, e: DecodedEvent, _ts: int) -> None:
    p.supply.minted += e.args["amount"]
    p.supply.block = e.block_number


def _redeemed(p: CoreProjection, e: DecodedEvent, _ts: int) -> None:
    p.supply.burned += e.args["amount"]
    p.supply.block = e.block_number


def _registered(p: CoreProjection, e: DecodedEvent, _ts: int) -> None:
    address = e.args["account"]
    p.account(address)
    p.accounts[address] = {
        "address": address,
        "kind": e.args["kind"],
        "status": int(AccountStatus.ACTIVE),
        "district": e.args["district"],
        "credential_hash": e.args["credentialHash"],
        "registered_block": e.block_number,
        "updated_block": e.block_number,
    }


def _updated(p: CoreProjection, e: DecodedEvent, _ts: int) -> None:
    row = p.account(e.args["account"])
    if row is not None:
        row.update(
            kind=e.args["kind"],
            district=e.args["district"],
            credential_hash=e.args["credentialHash"],
            updated_block=e.block_number,
        )


def _status(status: AccountStatus) -> Any:
    def handle(p: CoreProjection, e: DecodedEvent, _ts: int) -> None:
        row = p.account(e.args["account"])
        if row is not None:
            row.update(status=int(status), updated_block=e.block_number)

    return handle


def _recovered(p: CoreProjection, e: DecodedEvent, _ts: int) -> None:
    old, new = p.account(e.args["oldAccount"]), e.args["newAccount"]
    p.account(new)
    if old is None:
        return
    p.accounts[new] = {
        **old,
        "address": new,
        "status": int(AccountStatus.ACTIVE),
        "updated_block": e.block_number,
    }
    old.update(status=int(AccountStatus.RETIRED), updated_block=e.block_number)


CoreProjection.handlers = {
    (TOKEN, "Transfer"): _transfer,
    (TOKEN, "Minted"): _minted,
    (TOKEN, "Redeemed"): _redeemed,
    (REGISTRY, "AccountRegistered"): _registered,
    (REGISTRY, "AccountUpdated"): _updated,
    (REGISTRY, "AccountFrozen"): _status(AccountStatus.FROZEN),
    (REGISTRY, "AccountUnfrozen"): _status(AccountStatus.ACTIVE),
    (REGISTRY, "AccountRecovered"): _recovered,
}

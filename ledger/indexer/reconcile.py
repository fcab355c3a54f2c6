"""Check the index against the chain: every balance, every registration, and the supply.

All reads are ``eth_call`` at the indexed block (the cursor), sent in JSON-RPC batches, so the
comparison is exact even while the chain moves on. Besides each row, the sum of the indexed
balances must equal ``totalSupply`` (a holder missing from the index shows up there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector
from sqlalchemy import Engine, select

from ledger.indexer.db import table
from ledger.indexer.errors import IndexerError
from ledger.indexer.extract import RpcClient
from ledger.indexer.load import read_cursor
from ledger.indexer.projections.core import REGISTRY, TOKEN

SUPPLY_FUNCTIONS = ("totalSupply", "totalMinted", "totalBurned")
PROGRESS_CHUNK = 5_000
"""Accounts compared per step of the progress report (each step is a few JSON-RPC batches)."""
SUPPLY_COLUMNS = {
    "totalSupply": "total_supply",
    "totalMinted": "total_minted",
    "totalBurned": "total_burned",
}
ACCOUNT_FIELDS = ("kind", "status", "district", "credential_hash")


def _selector(signature: str) -> str:
    return "0x" + bytes(function_signature_to_4byte_selector(signature)).hex()


def _with_address(signature: str, address: str) -> str:
    return _selector(signature) + address[2:].lower().rjust(64, "0")


@dataclass(frozen=True)
class Difference:
    what: str
    """``balance``, ``account.<field>``, ``supply.<function>`` or ``sum of balances``."""
    key: str
    """The account, or empty for the supply."""
    indexed: object
    chain: object


@dataclass
class ReconcileReport:
    block: int
    balances: int = 0
    accounts: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def reconcile(
    engine: Engine,
    rpc_url: str,
    contracts: Mapping[str, str],
    report_progress: Callable[[int, int], None] | None = None,
) -> ReconcileReport:
    """Compare the index in ``engine`` with the chain at ``rpc_url`` at the indexed block.

    ``contracts`` maps addresses to contract names (the manifest's);
    ``report_progress(checked, to_check)`` hears of each batch of accounts compared.
    """
    by_name = {name: address for address, name in contracts.items()}
    token, registry = by_name[TOKEN], by_name.get(REGISTRY)
    with engine.connect() as connection:
        cursor = read_cursor(connection)
        if cursor is None or cursor.block_number < 0:
            raise IndexerError("the index is empty: run `cityledger index` first")
        balance, account, supply = table("balance"), table("account"), table("supply")
        balances: dict[str, int] = {}
        for address, amount in connection.execute(select(balance.c.address, balance.c.balance)):
            balances[address] = amount
        accounts = {
            row.address: row
            for row in connection.execute(
                select(account.c.address, *(account.c[f] for f in ACCOUNT_FIELDS))
            )
        }
        supply_row = connection.execute(select(supply)).first()
    report = ReconcileReport(cursor.block_number, len(balances), len(accounts))
    block = hex(cursor.block_number)
    to_check = len(balances) + len(accounts)
    checked = 0
    with RpcClient(rpc_url) as rpc:

        def calls(to: str, data: Sequence[str]) -> list[str]:
            nonlocal checked
            answers: list[str] = []
            for start in range(0, len(data), PROGRESS_CHUNK):
                chunk = data[start : start + PROGRESS_CHUNK]
                batch = [("eth_call", [{"to": to, "data": d}, block]) for d in chunk]
                answers += [str(r) for r in rpc.batch(batch)]
                checked += len(chunk)
                if report_progress is not None:
                    report_progress(min(checked, to_check), to_check)
            return answers

        holders = sorted(balances)
        chain_balances = calls(token, [_with_address("balanceOf(address)", a) for a in holders])
        for address, raw in zip(holders, chain_balances, strict=True):
            if int(raw, 16) != balances[address]:
                report.differences.append(
                    Difference("balance", address, balances[address], int(raw, 16))
                )
        totals = [int(r, 16) for r in calls(token, [_selector(f"{f}()") for f in SUPPLY_FUNCTIONS])]
        for function, chain_value in zip(SUPPLY_FUNCTIONS, totals, strict=True):
            indexed = 0 if supply_row is None else supply_row._mapping[SUPPLY_COLUMNS[function]]
            if indexed != chain_value:
                report.differences.append(
                    Difference(f"supply.{function}", "", indexed, chain_value)
                )
        if sum(balances.values()) != totals[0]:
            report.differences.append(
                Difference("sum of balances", "", sum(balances.values()), totals[0])
            )
        if registry is not None and accounts:
            members = sorted(accounts)
            answers = calls(
                registry, [_with_address("registrationOf(address)", a) for a in members]
            )
            for address, raw in zip(members, answers, strict=True):
                kind, status, district, _, credential = abi_decode(
                    ["(uint8,uint8,uint32,uint64,bytes32)"], bytes.fromhex(raw[2:])
                )[0]
                chain_fields = (kind, status, district, "0x" + credential.hex())
                row = accounts[address]
                for name, chain_value in zip(ACCOUNT_FIELDS, chain_fields, strict=True):
                    if row._mapping[name] != chain_value:
                        report.differences.append(
                            Difference(f"account.{name}", address, row._mapping[name], chain_value)
                        )
    return report

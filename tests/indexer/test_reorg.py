"""Reorgs forced on anvil (evm_snapshot/evm_revert, anvil_reorg, anvil_rollback), on SQLite and
PostgreSQL: the indexer must notice, roll back to the common ancestor, rebuild, and end equal to
an index built from scratch on the new chain. A divergence deeper than the reorg limit is a
chain reset: refused, nothing written."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from cityledger.testing.city import TestCity
from cityledger.testing.processes import rpc
from ledger.chain import Chain
from ledger.city import City
from ledger.indexer.db import make_engine, table, upgrade
from ledger.indexer.errors import ChainResetError
from ledger.payments.orders import Order
from ledger.types import AccountKind
from tests.contracts.helpers import Town
from tests.indexer.helpers import assert_matches_chain, index, snapshot

pytestmark = pytest.mark.anvil


def fresh(town: Town) -> Town:
    """The same city through a new Chain (its local nonce cache would be ahead after a revert),
    handing out the people the old Town had not."""
    city = City.at(Chain(town.test_city.url), town.test_city.city.manifest)
    again = Town(dataclasses.replace(town.test_city, city=city))
    again._handed_out = town._handed_out
    return again


@pytest.fixture(scope="module")
def base_town(anvil_city: TestCity) -> Town:
    town = Town(anvil_city)
    town.payments.set_fee_schedule(town.merchant_admin, 200, 5_000)
    return town


@pytest.fixture
def town(base_town: Town) -> Iterator[Town]:
    """Each test talks to the chain through a new Chain: the previous test rewrote history."""
    town = fresh(base_town)
    yield town
    base_town._handed_out = town._handed_out


def _clean_equals(engine: Engine, city: City, tmp_path: Path) -> None:
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.sqlite3'}")
    upgrade(clean)
    index(clean, city)
    indexed = snapshot(engine)
    # The invoices the API created (with their salt) are only in the indexed database.
    indexed["invoice"] = [row for row in indexed["invoice"] if row[4] is None]
    assert indexed == snapshot(clean)
    clean.dispose()


def _invoice(engine: Engine, ref: str) -> dict[str, object] | None:
    invoice = table("invoice")
    with engine.connect() as connection:
        row = connection.execute(select(invoice).where(invoice.c.ref == ref)).first()
    return None if row is None else dict(row._mapping)


def test_a_reverted_fork_is_rolled_back_and_replaced(
    engine: Engine, town: Town, tmp_path: Path
) -> None:
    url = town.test_city.url
    alice, bob = town.resident(50_000), town.resident(50_000)
    shop = town.resident(0, AccountKind.MERCHANT)
    until = town.latest_timestamp() + 10**6
    api_order, chain_order = (Order.new(shop.address, 8_000, until) for _ in range(2))
    with engine.begin() as connection:
        connection.execute(
            insert(table("invoice")).values(
                ref="0x" + api_order.ref.hex(),
                merchant=shop.address,
                amount=api_order.amount,
                salt="0x" + api_order.salt.hex(),
                status="open",
                created_at=datetime.now(UTC),
            )
        )
    index(engine, town.test_city.city)
    snapshot_id = rpc(url, "evm_snapshot")

    # Fork A: indexed, then abandoned.
    carol = town.resident(5_000)
    town.token.transfer(alice, bob.address, 100)
    town.payments.pay(alice, api_order)
    town.payments.pay(bob, chain_order)
    town.payments.refund(shop, chain_order.ref, 3_000)
    town.registry.freeze(town.registrar, bob.address)
    fork_a = index(engine, town.test_city.city, batch_blocks=3)
    assert fork_a.events > 0
    assert _invoice(engine, "0x" + api_order.ref.hex())["status"] == "paid"  # type: ignore[index]
    assert _invoice(engine, "0x" + chain_order.ref.hex()) is not None

    # Fork B: the chain goes back and takes another way, longer than fork A.
    assert rpc(url, "evm_revert", snapshot_id) is True
    town_b = fresh(town)
    town_b.token.transfer(bob, alice.address, 7)
    dave = town_b.resident(1_000)
    for _ in range(12):
        town_b.token.transfer(alice, dave.address, 1)
    assert town_b.chain.block_number() > fork_a.cursor

    stats = index(engine, town_b.test_city.city, batch_blocks=4)
    assert stats.reorgs == 1
    assert_matches_chain(engine, town_b.test_city.city)
    _clean_equals(engine, town_b.test_city.city, tmp_path)
    api = _invoice(engine, "0x" + api_order.ref.hex())
    assert api is not None
    assert (api["status"], api["payer"], api["salt"]) == ("open", None, "0x" + api_order.salt.hex())
    assert _invoice(engine, "0x" + chain_order.ref.hex()) is None
    account = table("account")
    with engine.connect() as connection:
        gone = connection.execute(select(account).where(account.c.address == carol.address))
        assert gone.first() is None
    town._handed_out = town_b._handed_out


def test_anvil_reorg_at_the_same_height_is_noticed(
    engine: Engine, town: Town, tmp_path: Path
) -> None:
    url = town.test_city.url
    erin, frank = town.resident(10_000), town.resident(10_000)
    town.token.transfer(erin, frank.address, 11)
    town.token.transfer(frank, erin.address, 22)
    before = index(engine, town.test_city.city)
    # Replace the last two blocks (both transfers) by two blocks holding one other transfer.
    nonce = town.chain.w3.eth.get_transaction_count(erin.address, "latest") - 1
    params: Any = {
        "from": erin.address,
        "nonce": nonce,
        "gas": 200_000,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
        "chainId": town.chain.chain_id,
    }
    tx: Any = town.token.contract.functions.transfer(frank.address, 5).build_transaction(params)
    raw = "0x" + bytes(erin.sign_transaction(tx).raw_transaction).hex()
    rpc(url, "anvil_reorg", 2, [[raw, 0]])
    assert town.chain.block_number() == before.cursor
    stats = index(engine, town.test_city.city)
    assert stats.reorgs == 1
    assert_matches_chain(engine, town.test_city.city)
    _clean_equals(engine, town.test_city.city, tmp_path)


def test_a_shorter_chain_within_the_limit_is_a_reorg(
    engine: Engine, town: Town, tmp_path: Path
) -> None:
    gina = town.resident(3_000)
    town.token.redeem(gina, 1_000, "ROLLBACK-1")
    before = index(engine, town.test_city.city)
    rpc(town.test_city.url, "anvil_rollback", 2)
    assert town.chain.block_number() == before.cursor - 2
    stats = index(engine, town.test_city.city)
    assert stats.reorgs == 1
    assert stats.cursor == before.cursor - 2
    assert_matches_chain(engine, town.test_city.city)
    _clean_equals(engine, town.test_city.city, tmp_path)


def test_a_divergence_deeper_than_the_limit_is_a_chain_reset(engine: Engine, town: Town) -> None:
    hank = town.resident(4_000)
    for amount in range(1, 6):
        town.token.redeem(hank, amount, f"DEEP-{amount}")
    index(engine, town.test_city.city)
    before = snapshot(engine)
    rpc(town.test_city.url, "anvil_reorg", 5, [])
    with pytest.raises(ChainResetError, match="reorg limit"):
        index(engine, town.test_city.city, max_reorg_depth=3)
    assert snapshot(engine) == before
    stats = index(engine, town.test_city.city, max_reorg_depth=10)
    assert stats.reorgs == 1
    assert_matches_chain(engine, town.test_city.city)

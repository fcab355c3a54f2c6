"""The indexer against the embedded node, on SQLite and on PostgreSQL.

Token and registry activity (registrations, mints, transfers, freezes, updates, a lost-key
recovery, a redemption) is indexed and must equal the chain: every balance, registration and
the supply read back through ``eth_call`` at the indexed block, and the transfer history equal
to the token's Transfer logs. Then: a second run writes nothing, a batch applied twice changes
nothing, a crash inside a batch's transaction leaves nothing of it, reconcile finds a tampered
row, and a chain reset is refused without writing.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select, text, update
from typer.testing import CliRunner

from cityledger.cli import app
from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.city import TestCity, deploy_test_city
from cityledger.testing.processes import ROOT, NodeProcess, free_port
from ledger.indexer import load
from ledger.indexer.db import make_engine, table, upgrade
from ledger.indexer.errors import ChainResetError
from ledger.indexer.load import CursorState, load_batch, read_cursor
from ledger.indexer.runner import Indexer
from ledger.types import AccountKind, AccountStatus
from tests.contracts.helpers import Town, new_ref
from tests.indexer.helpers import assert_matches_chain, counts, index, indexer, snapshot


@pytest.fixture(scope="module")
def town(test_city: TestCity) -> Town:
    return Town(test_city)


@pytest.fixture(scope="module")
def activity(town: Town) -> dict[str, Any]:
    """Registry and token activity of several kinds, once per module."""
    alice, bob, carol = (town.resident(50_000) for _ in range(3))
    shop = town.resident(0, AccountKind.MERCHANT)
    lost = town.resident(20_000)
    fresh = town.person()
    town.token.transfer(alice, bob.address, 1_234)
    town.token.transfer(bob, shop.address, 10_000)
    town.token.transfer(carol, shop.address, 7)
    town.registry.freeze(town.registrar, carol.address)
    town.registry.update(town.registrar, bob.address, AccountKind.PROSUMER, 5102, b"\x07" * 32)
    town.registry.freeze(town.registrar, alice.address)
    town.registry.unfreeze(town.registrar, alice.address)
    town.registry.recover(town.registrar, lost.address, fresh.address)
    town.token.redeem(shop, 3_000, new_ref("set"))
    return {"alice": alice, "bob": bob, "carol": carol, "shop": shop, "lost": lost, "new": fresh}


def _account(engine: Engine, address: str) -> dict[str, Any]:
    account = table("account")
    with engine.connect() as connection:
        row = connection.execute(select(account).where(account.c.address == address)).one()
    return dict(row._mapping)


def test_token_and_registry_activity_equals_the_chain(
    engine: Engine, town: Town, activity: dict[str, LocalAccount]
) -> None:
    stats = index(engine, town.test_city.city, batch_blocks=7)
    assert stats.batches > 1
    assert stats.cursor == stats.head == town.chain.block_number()
    assert_matches_chain(engine, town.test_city.city)

    carol, bob = activity["carol"].address, activity["bob"].address
    assert _account(engine, carol)["status"] == AccountStatus.FROZEN
    assert _account(engine, activity["alice"].address)["status"] == AccountStatus.ACTIVE
    assert (_account(engine, bob)["kind"], _account(engine, bob)["district"]) == (
        AccountKind.PROSUMER,
        5102,
    )
    old, new = _account(engine, activity["lost"].address), _account(engine, activity["new"].address)
    assert old["status"] == AccountStatus.RETIRED
    assert new["status"] == AccountStatus.ACTIVE
    assert new["registered_block"] == old["registered_block"]
    assert new["credential_hash"] == old["credential_hash"]

    token = town.token
    with engine.connect() as connection:
        supply = connection.execute(select(table("supply"))).one()._mapping
        events = connection.execute(text("SELECT count(*) FROM event")).scalar()
    assert (supply["total_supply"], supply["total_minted"], supply["total_burned"]) == (
        token.total_supply(),
        token.total_minted(),
        token.total_burned(),
    )
    every_log = town.chain.w3.eth.get_logs(
        {
            "fromBlock": town.test_city.city.manifest.deployment_block or 0,
            "toBlock": stats.cursor,
            "address": [e["address"] for e in town.test_city.city.manifest.contracts.values()],
        }
    )
    assert events == len(every_log) == stats.events


def test_a_restart_resumes_exactly_where_it_stopped(
    engine: Engine, town: Town, activity: dict[str, LocalAccount]
) -> None:
    city = town.test_city.city
    index(engine, city, batch_blocks=50)
    before = snapshot(engine)
    again = index(engine, city)
    assert (again.blocks, again.events, again.batches) == (0, 0, 0)
    assert snapshot(engine) == before

    head = town.chain.block_number()
    town.token.transfer(activity["alice"], activity["shop"].address, 99)
    after = index(engine, city)
    assert after.blocks == town.chain.block_number() - head
    assert after.events == 1
    grown = counts(engine)
    assert grown["transfer"] == len(before["transfer"]) + 1
    assert grown["event"] == len(before["event"]) + 1
    assert grown["block"] == len(before["block"]) + after.blocks
    assert_matches_chain(engine, city)


def test_a_batch_applied_again_changes_nothing(
    engine: Engine, town: Town, activity: dict[str, LocalAccount], tmp_path: Path
) -> None:
    city = town.test_city.city
    with indexer(engine, city) as run:
        cursor = run._start()
        first = cursor.block_number + 1
        batch = run.extractor.fetch(first, first + 29)
        events = run.decoder.decode_all(batch.logs)
        loaded = load_batch(engine, batch, events, expected=cursor)
        assert loaded.events == len(events) > 0
        once = snapshot(engine)
        again = load_batch(engine, batch, events, expected=cursor)
        assert (again.blocks, again.events, again.cursor) == (0, 0, loaded.cursor)
        assert snapshot(engine) == once
        # A batch overlapping the cursor applies only its new blocks.
        overlap = run.extractor.fetch(first + 20, first + 39)
        partial = load_batch(
            engine, overlap, run.decoder.decode_all(overlap.logs), expected=loaded.cursor
        )
        assert partial.blocks == 10
    index(engine, city)
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.sqlite3'}")
    upgrade(clean)
    index(clean, city)
    assert snapshot(engine) == snapshot(clean)
    clean.dispose()


def test_a_crash_inside_a_batch_leaves_nothing_of_it(
    engine: Engine,
    town: Town,
    activity: dict[str, LocalAccount],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    city = town.test_city.city
    index(engine, city, batch_blocks=10)
    town.token.transfer(activity["alice"], activity["bob"].address, 5)
    town.registry.freeze(town.registrar, activity["bob"].address)
    town.registry.unfreeze(town.registrar, activity["bob"].address)
    before = snapshot(engine)

    def crash(*_: object) -> None:
        raise RuntimeError("power cut after the derived updates, before the cursor")

    monkeypatch.setattr(load, "write_cursor", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        index(engine, city)
    assert snapshot(engine) == before
    monkeypatch.undo()

    index(engine, city)
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.sqlite3'}")
    upgrade(clean)
    index(clean, city)
    assert snapshot(engine) == snapshot(clean)
    clean.dispose()
    assert_matches_chain(engine, city)


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _options(engine: Engine, city: TestCity) -> list[str]:
    return [
        "--db-url",
        engine.url.render_as_string(hide_password=False),
        "--rpc-url",
        city.url,
        "--manifest",
        str(city.manifest_path),
    ]


def test_reconcile_exits_0_when_equal_and_1_with_the_differences(
    engine: Engine, town: Town, activity: dict[str, LocalAccount]
) -> None:
    options = _options(engine, town.test_city)
    indexed = _cli("index", *options, "--batch-blocks", "25", "--log-level", "warning")
    assert indexed.exit_code == 0, indexed.output
    assert "indexed" in indexed.output
    equal = _cli("index", "reconcile", *options)
    assert equal.exit_code == 0, equal.output
    assert "matches the chain" in equal.output

    shop = activity["shop"].address
    balance, account = table("balance"), table("account")
    with engine.begin() as connection:
        connection.execute(
            update(balance).where(balance.c.address == shop).values(balance=balance.c.balance + 1)
        )
        connection.execute(
            update(account).where(account.c.address == activity["carol"].address).values(status=1)
        )
    tampered = _cli("index", "reconcile", *options, "--json")
    assert tampered.exit_code == 1
    assert '"what": "balance"' in tampered.output
    assert shop in tampered.output
    assert '"what": "sum of balances"' in tampered.output
    assert '"what": "account.status"' in tampered.output
    table_output = _cli("index", "reconcile", *options)
    assert table_output.exit_code == 1
    assert "balance" in table_output.output
    assert "account.status" in table_output.output


def test_a_chain_reset_is_reported_loudly_and_nothing_is_written(
    engine: Engine,
    town: Town,
    activity: dict[str, LocalAccount],
    accounts: list[LocalAccount],
    embedded_node: NodeProcess,
    tmp_path: Path,
) -> None:
    index(engine, town.test_city.city)
    before = snapshot(engine)

    # 1. Another genesis entirely.
    other = tmp_path / "other"
    other.mkdir()
    write_genesis(other / "genesis.json", make_accounts(3, "elsewhere"))
    foreign = NodeProcess(
        other / "genesis.json", other / "node", free_port(), ("--block-period", "0")
    )
    foreign.start()
    try:
        elsewhere = Indexer.for_manifest(engine, foreign.url, town.test_city.city.manifest)
        with pytest.raises(ChainResetError, match="genesis block"):
            elsewhere.run_once()
        elsewhere.close()
    finally:
        foreign.stop()
    assert snapshot(engine) == before

    # 2. The same genesis on a new data directory: the dev chain was restarted and redeployed.
    shutil.copy(embedded_node.genesis_path, tmp_path / "genesis.json")
    restarted = NodeProcess(
        tmp_path / "genesis.json", tmp_path / "node", free_port(), ("--block-period", "0")
    )
    restarted.start()
    try:
        again = deploy_test_city(restarted.url, accounts, tmp_path / "deployments" / "again.json")
        assert again.city.token.address == town.token.address  # same deployer, same nonces
        Town(again).resident(777)
        with pytest.raises(ChainResetError, match="index --reset"):
            index(engine, again.city)
        assert snapshot(engine) == before

        result = _cli("index", *_options(engine, again), "--log-level", "warning")
        assert result.exit_code == 3, result.output
        assert "CHAIN RESET" in result.output
        assert "--reset" in result.output
        assert snapshot(engine) == before

        reset = _cli("index", *_options(engine, again), "--reset", "--log-level", "warning")
        assert reset.exit_code == 0, reset.output
        assert_matches_chain(engine, again.city)
        assert snapshot(engine) != before
    finally:
        restarted.stop()


def test_follow_keeps_up_with_the_head_until_stopped(
    engine: Engine, town: Town, activity: dict[str, LocalAccount]
) -> None:
    city = town.test_city.city
    stop = threading.Event()
    with indexer(engine, city, batch_blocks=20) as run:
        worker = threading.Thread(target=run.follow, args=(stop, 0.05))
        worker.start()
        try:
            for amount in (1, 2, 3):
                town.token.transfer(activity["bob"], activity["alice"].address, amount)
                head = town.chain.block_number()
                deadline = time.monotonic() + 30
                while (run.cursor() or _NO_CURSOR).block_number < head:
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
        finally:
            stop.set()
            worker.join(30)
        assert not worker.is_alive()
    assert_matches_chain(engine, city)


def test_the_command_follows_and_stops_cleanly_on_sigterm(
    engine: Engine, town: Town, activity: dict[str, LocalAccount], tmp_path: Path
) -> None:
    log = tmp_path / "follow.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cityledger",
                "index",
                *_options(engine, town.test_city),
                "--follow",
                "--poll-interval",
                "0.1",
                "--log-format",
                "json",
            ],
            stdout=output,
            stderr=output,
            cwd=ROOT,
        )
    try:
        town.token.transfer(activity["alice"], activity["bob"].address, 42)
        head = town.chain.block_number()
        deadline = time.monotonic() + 60
        while _cursor_of(engine) < head:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    assert code == 0, log.read_text()
    assert '"event": "batch_indexed"' in log.read_text()
    assert_matches_chain(engine, town.test_city.city)


_NO_CURSOR = CursorState(0, "", -1, "")


def _cursor_of(engine: Engine) -> int:
    with engine.connect() as connection:
        return (read_cursor(connection) or _NO_CURSOR).block_number


def test_log_ranges_the_node_refuses_are_halved(
    node_factory: Any, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    """A node that scans at most 4 blocks per eth_getLogs (as Besu and hosted nodes cap theirs)
    still gets every log: the indexer halves the range until the node answers."""
    write_genesis(tmp_path / "genesis.json", accounts)
    node = node_factory(
        tmp_path / "genesis.json", "--block-period", "0", "--rpc-max-log-range", "4"
    )
    city = deploy_test_city(node.url, accounts, tmp_path / "deployments" / "narrow.json")
    Town(city).resident(1_000)
    engine = make_engine(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    upgrade(engine)
    with indexer(engine, city.city, batch_blocks=500) as run:
        stats = run.run_once()
        assert run.reader.log_window <= 4
    assert stats.batches == 1
    assert_matches_chain(engine, city.city)
    engine.dispose()

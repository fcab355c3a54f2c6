"""Opening a data directory: a new chain from genesis, or an existing one proven intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils import to_canonical_address

from cityledger.testing.accounts import make_accounts
from cityledger.testing.inprocess import open_node, transfer
from ledger.exceptions import ConfigError
from ledger.node.config import ChainParams, GenesisConfig
from ledger.node.errors import GenesisMismatchError, StoreCorruptedError
from ledger.node.genesis import META_GENESIS, META_HEAD, open_chain
from ledger.node.store import LevelStore

ALICE, BOB = make_accounts(2, "genesis")


def _genesis(**config: object) -> GenesisConfig:
    return GenesisConfig(
        config=ChainParams(**config),  # type: ignore[arg-type]
        alloc={ALICE.address: {"balance": 10**18}},  # type: ignore[dict-item]
        allowlist=[ALICE.address],
    )


def _chain_with_one_block(data_dir: Path) -> None:
    node = open_node(data_dir, _genesis())
    node.submit_raw_transaction(transfer(ALICE, BOB.address, 5, 0, chain_id=44051))
    assert node.seal_once() == 1
    node.close()


def test_new_chain_has_allocations_and_zero_base_fee(tmp_path: Path) -> None:
    node = open_node(tmp_path, _genesis())
    assert node.head.block_number == 0
    assert node.head.base_fee_per_gas == 0
    accounts = node.accounts_at(node.head)
    assert accounts.get_balance(to_canonical_address(ALICE.address)) == 10**18
    node.close()


def test_reopen_keeps_the_head_and_accepts_changed_runtime_settings(tmp_path: Path) -> None:
    _chain_with_one_block(tmp_path)
    node = open_node(tmp_path, _genesis(block_period_seconds=2, max_batch_size=7))
    assert node.head.block_number == 1
    node.close()


@pytest.mark.parametrize(
    "changed",
    [
        _genesis(chain_id=1),
        _genesis(contract_size_limit=49_152),
        GenesisConfig(alloc={BOB.address: {"balance": 1}}),  # type: ignore[dict-item]
    ],
    ids=["chain-id", "contract-size-limit", "alloc"],
)
def test_a_different_genesis_is_refused(tmp_path: Path, changed: GenesisConfig) -> None:
    _chain_with_one_block(tmp_path)
    with pytest.raises(GenesisMismatchError, match="different genesis"):
        open_node(tmp_path, changed)


def _tamper(data_dir: Path, key: bytes, value: bytes | None) -> None:
    store = LevelStore(data_dir / "chain", sync=False)
    if value is None:
        del store[key]
    else:
        store[key] = value
    store.commit()
    store.close()


def test_missing_head_pointer_is_refused(tmp_path: Path) -> None:
    _chain_with_one_block(tmp_path)
    _tamper(tmp_path, META_HEAD, None)
    with pytest.raises(StoreCorruptedError, match="head pointer is missing"):
        open_node(tmp_path, _genesis())


def test_head_pointer_to_an_unknown_block_is_refused(tmp_path: Path) -> None:
    _chain_with_one_block(tmp_path)
    _tamper(tmp_path, META_HEAD, b"\x11" * 32)
    with pytest.raises(StoreCorruptedError, match="block data is missing"):
        open_node(tmp_path, _genesis())


def test_missing_state_is_refused(tmp_path: Path) -> None:
    _chain_with_one_block(tmp_path)
    store = LevelStore(tmp_path / "chain", sync=False)
    _, head = open_chain(store, _genesis())
    del store[head.state_root]
    store.commit()
    store.close()
    with pytest.raises(StoreCorruptedError, match="state root of block 1 is missing"):
        open_node(tmp_path, _genesis())


def test_chain_data_without_our_metadata_is_refused_not_overwritten(tmp_path: Path) -> None:
    _chain_with_one_block(tmp_path)
    _tamper(tmp_path, META_GENESIS, None)
    with pytest.raises(StoreCorruptedError, match="without CityLedger's metadata"):
        open_node(tmp_path, _genesis())


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"alloc": {"0x1234": {"balance": "1"}}}), "not an address"),
        (json.dumps({"gasLimit": "0x1000"}), "at least 30,000,000"),
        (json.dumps({"config": {"chainId": "0xzz"}}), "not an integer"),
        (json.dumps({"surprise": 1}), "Extra inputs are not permitted"),
    ],
)
def test_bad_genesis_files_give_one_clear_error(
    tmp_path: Path, document: str, message: str
) -> None:
    path = tmp_path / "genesis.json"
    path.write_text(document)
    with pytest.raises(ConfigError, match=message):
        GenesisConfig.load(path)


def test_genesis_file_round_trips(tmp_path: Path) -> None:
    genesis = _genesis(chain_id=7)
    genesis.dump(tmp_path / "g.json")
    assert GenesisConfig.load(tmp_path / "g.json") == genesis


def test_building_a_large_genesis_reports_progress_and_the_same_state(tmp_path: Path) -> None:
    """3,500 allocations: a report every REPORT_EVERY accounts and one at the end, counting up
    to the total, and the same state root as a build nobody watched."""
    holders = [f"0x{i:040x}" for i in range(1, 3_501)]
    genesis = GenesisConfig.model_validate(
        {"alloc": {a: {"balance": hex(10**18)} for a in holders}, "allowlist": [ALICE.address]}
    )
    reports: list[tuple[int, int]] = []
    roots = []
    for name, report in (("watched", lambda d, t: reports.append((d, t))), ("plain", None)):
        store = LevelStore(tmp_path / name, sync=False)
        _, head = open_chain(store, genesis, report)
        roots.append(head.state_root)
        store.close()
    assert roots[0] == roots[1]
    assert reports == [(1_000, 3_500), (2_000, 3_500), (3_000, 3_500), (3_500, 3_500)]

"""`cityledger node/up/genesis` from a user's seat: help, clean errors, demo set-up."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from eth_account import Account
from typer.testing import CliRunner

from cityledger.cli import app
from cityledger.demo.devnet import DEMO_ROLES, init_devnet
from cityledger.testing.accounts import make_accounts, write_genesis
from ledger.node.config import GenesisConfig

runner = CliRunner()


def test_node_help_documents_every_option() -> None:
    result = runner.invoke(app, ["node", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in (
        "--genesis",
        "--data-dir",
        "--port",
        "--block-period",
        "--max-batch",
        "--max-nonce-gap",
        "--fsync",
        "--rpc-max-log-range",
        "--max-tx-size",
        "--sender-bytes-per-second",
        "--sender-burst-bytes",
        "--rpc-gas-cap",
        "--rpc-call-timeout",
        "--rpc-batch-call-budget",
        "--log-format",
    ):
        assert option in result.output


def test_bad_genesis_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "g.json").write_text('{"gasLimit": "0x10"}')
    result = runner.invoke(app, ["node", "--genesis", str(tmp_path / "g.json")])
    assert result.exit_code == 1
    assert "at least 30,000,000" in result.output
    assert "Traceback" not in result.output

    missing = runner.invoke(app, ["node", "--genesis", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1
    assert "cannot read genesis file" in missing.output


def test_node_refuses_a_data_dir_from_another_genesis(tmp_path: Path) -> None:
    accounts = make_accounts(2, "cli")
    write_genesis(tmp_path / "a.json", accounts[:1])
    write_genesis(tmp_path / "b.json", accounts[1:])
    from cityledger.testing.inprocess import open_node

    open_node(tmp_path / "data", GenesisConfig.load(tmp_path / "a.json")).close()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cityledger",
            "node",
            "--genesis",
            str(tmp_path / "b.json"),
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "different genesis" in result.stderr
    assert "Traceback" not in result.stderr


def test_genesis_command_writes_a_loadable_file(tmp_path: Path) -> None:
    account = make_accounts(1, "cli-genesis")[0]
    result = runner.invoke(
        app,
        [
            "genesis",
            str(tmp_path / "g.json"),
            "--chain-id",
            "7",
            "--fund",
            f"{account.address}=100",
        ],
    )
    assert result.exit_code == 0, result.output
    genesis = GenesisConfig.load(tmp_path / "g.json")
    assert genesis.config.chain_id == 7
    assert genesis.alloc[account.address].balance == 100
    assert genesis.allowlist == [account.address]
    bad = runner.invoke(app, ["genesis", str(tmp_path / "h.json"), "--fund", "0xabc=ten"])
    assert bad.exit_code == 1


def test_devnet_makes_encrypted_private_keystores_once(tmp_path: Path) -> None:
    genesis, accounts = init_devnet(tmp_path, scrypt_n=2**4)
    assert [a.alias for a in accounts] == list(DEMO_ROLES)
    assert sorted(genesis.allowlist) == sorted(a.address for a in accounts)
    password = (tmp_path / "demo-password").read_text()
    keystore = tmp_path / "keystore" / "treasury.json"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "demo-password").stat().st_mode) == 0o600
    document = json.loads(keystore.read_text())
    assert "privateKey" not in json.dumps(document)
    key = Account.decrypt(document, password)
    assert Account.from_key(key).address == accounts[1].address

    again, accounts_again = init_devnet(tmp_path)
    assert again == genesis
    assert accounts_again == accounts


def test_up_serves_the_demo_chain_to_web3(tmp_path: Path) -> None:
    """What `make up` runs: a fresh data dir becomes a serving chain with funded accounts."""
    from web3 import Web3

    from cityledger.testing.processes import free_port, wait_until_serving

    port = free_port()
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cityledger",
            "up",
            "--data-dir",
            str(tmp_path / "city"),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=log,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", process, 120, tmp_path / "up.log")
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
        genesis = GenesisConfig.load(tmp_path / "city" / "genesis.json")
        assert w3.eth.chain_id == genesis.config.chain_id
        for address in genesis.allowlist:
            assert w3.eth.get_balance(address) > 0
    finally:
        process.terminate()
        assert process.wait(30) == 0

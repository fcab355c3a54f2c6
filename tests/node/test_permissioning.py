"""Account permissioning on a running node: the admin API, persistence and SIGHUP reload."""

from __future__ import annotations

import signal
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.inprocess import transfer
from cityledger.testing.processes import NodeProcess
from ledger.node.rpc import codes

TOKEN = "test-admin-token-4f1c"
NEWCOMER = make_accounts(1, "perm-newcomer")[0]

_HTTP = httpx.Client()


def rpc(node: NodeProcess, method: str, *params: object, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return _HTTP.post(node.url, json=body, headers=headers, timeout=10).json()


def send(node: NodeProcess, raw: bytes) -> dict:
    return rpc(node, "eth_sendRawTransaction", "0x" + raw.hex())


@pytest.fixture
def genesis(tmp_path: Path, accounts: list[LocalAccount]) -> Path:
    # The newcomer has funds but is not on the list.
    write_genesis(tmp_path / "genesis.json", [*accounts[:2], NEWCOMER], allowlisted=accounts[:2])
    return tmp_path / "genesis.json"


def test_admin_methods_need_the_token(
    node_factory: Callable[..., NodeProcess], genesis: Path
) -> None:
    node = node_factory(genesis, CITYLEDGER_NODE_ADMIN_TOKEN=TOKEN)
    for token in (None, "wrong-token"):
        error = rpc(node, "perm_addAccountsToAllowlist", [NEWCOMER.address], token=token)["error"]
        assert error["code"] == codes.UNAUTHORIZED
        assert "admin token" in error["message"]
    assert NEWCOMER.address not in rpc(node, "perm_getAccountsAllowlist", token=TOKEN)["result"]


def test_admin_methods_are_off_without_a_configured_token(
    node_factory: Callable[..., NodeProcess], genesis: Path
) -> None:
    node = node_factory(genesis)
    error = rpc(node, "perm_getAccountsAllowlist", token="anything")["error"]
    assert error["code"] == codes.UNAUTHORIZED


def test_allowlist_changes_take_effect_and_persist(
    node_factory: Callable[..., NodeProcess], genesis: Path, accounts: list[LocalAccount]
) -> None:
    node = node_factory(genesis, CITYLEDGER_NODE_ADMIN_TOKEN=TOKEN)
    raw = transfer(NEWCOMER, accounts[0].address, 1, 0)
    assert send(node, raw)["error"]["code"] == codes.SENDER_NOT_AUTHORIZED

    added = rpc(node, "perm_addAccountsToAllowlist", [NEWCOMER.address.lower()], token=TOKEN)
    assert added["result"] == "Success"
    assert "result" in send(node, raw)

    bad = rpc(node, "perm_addAccountsToAllowlist", ["0x1234"], token=TOKEN)
    assert bad["error"]["code"] == codes.INVALID_PARAMS

    node.stop()
    on_disk = tomllib.loads((node.data_dir / "permissions_config.toml").read_text())
    assert NEWCOMER.address in on_disk["accounts-allowlist"]
    node.start()
    listed = rpc(node, "perm_getAccountsAllowlist", token=TOKEN)["result"]
    assert sorted(listed) == sorted([a.address for a in accounts[:2]] + [NEWCOMER.address])

    rpc(node, "perm_removeAccountsFromAllowlist", [accounts[1].address], token=TOKEN)
    refused = send(node, transfer(accounts[1], accounts[0].address, 1, 0))
    assert refused["error"]["code"] == codes.SENDER_NOT_AUTHORIZED


def test_sighup_reloads_an_edited_allowlist_file(
    node_factory: Callable[..., NodeProcess], genesis: Path, accounts: list[LocalAccount]
) -> None:
    node = node_factory(genesis)
    path = node.data_dir / "permissions_config.toml"
    path.write_text(f'accounts-allowlist = ["{NEWCOMER.address}"]\n')
    assert node.process is not None
    node.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "error" in (answer := send(node, transfer(NEWCOMER, accounts[0].address, 1, 0))):
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)
    refused = send(node, transfer(accounts[0], NEWCOMER.address, 1, 0))
    assert refused["error"]["code"] == codes.SENDER_NOT_AUTHORIZED


def test_sigterm_seals_accepted_transactions_before_exit(
    node_factory: Callable[..., NodeProcess], genesis: Path, accounts: list[LocalAccount]
) -> None:
    node = node_factory(genesis, "--block-period", "30")
    first = send(node, transfer(accounts[0], accounts[1].address, 1, 0))["result"]
    while rpc(node, "eth_getTransactionReceipt", first)["result"] is None:
        time.sleep(0.01)
    waiting = send(node, transfer(accounts[0], accounts[1].address, 1, 1))["result"]
    assert rpc(node, "eth_getTransactionReceipt", waiting)["result"] is None
    assert node.stop() == 0
    node.start()
    receipt = rpc(node, "eth_getTransactionReceipt", waiting)["result"]
    assert receipt is not None
    assert receipt["status"] == "0x1"

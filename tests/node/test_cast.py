"""Foundry's ``cast`` against the embedded node: what a developer types works unchanged.

cast fills EIP-1559 fees on its own: it sends ``maxFeePerGas = maxPriorityFeePerGas = 1`` wei
even though the node answers ``eth_maxPriorityFeePerGas`` and the base fee with 0, so a cast
transaction pays 1 wei per gas to the block's coinbase. The test accounts hold native balance, so
that works; ``--gas-price 0 --priority-gas-price 0`` makes a transaction free.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from cityledger.testing.accounts import CHAIN_ID
from cityledger.testing.processes import CAST, NodeProcess, rpc
from ledger.contracts import Artifact, load_artifact

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"
INCREMENTED_TOPIC = HexBytes(keccak(text="Incremented(address,uint256,uint256)")).to_0x_hex()
pytestmark = pytest.mark.skipif(
    not CAST.exists(), reason=f"{CAST} is missing: cd contracts && npm ci"
)


def cast(
    node: NodeProcess, command: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``cast <command> --rpc-url <node> <args>`` in a clean environment (options go before
    the arguments: ``send --create <code>`` takes everything after the code as its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETH_", "FOUNDRY_"))}
    result = subprocess.run(
        [str(CAST), command, "--rpc-url", node.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, "NO_COLOR": "1", "FOUNDRY_DISABLE_NIGHTLY_WARNING": "1"},
    )
    if check:
        assert result.returncode == 0, f"cast {command} {' '.join(args)[:200]}: {result.stderr}"
    return result


def cast_json(node: NodeProcess, command: str, *args: str) -> Any:
    return json.loads(cast(node, command, "--json", *args).stdout)


def private_key(account: LocalAccount) -> str:
    return HexBytes(account.key).to_0x_hex()


def balance(node: NodeProcess, address: str) -> int:
    return int(str(rpc(node.url, "eth_getBalance", address, "latest")), 16)


@dataclass(frozen=True)
class Deployed:
    address: str
    receipt: dict[str, Any]
    sender: LocalAccount
    balance_before: int


@pytest.fixture(scope="module")
def probe_artifact() -> Artifact:
    return load_artifact("Probe", FIXTURES)


@pytest.fixture(scope="module")
def deployed(
    embedded_node: NodeProcess, accounts: list[LocalAccount], probe_artifact: Artifact
) -> Deployed:
    """Probe deployed with ``cast send --create`` and no fee or gas flags."""
    sender = accounts[0]
    before = balance(embedded_node, sender.address)
    receipt = cast_json(
        embedded_node,
        "send",
        "--private-key",
        private_key(sender),
        "--create",
        HexBytes(probe_artifact.bytecode).to_0x_hex(),
    )
    assert receipt["status"] == "0x1", receipt
    return Deployed(to_checksum_address(receipt["contractAddress"]), receipt, sender, before)


def test_chain_id_and_block_number(embedded_node: NodeProcess, deployed: Deployed) -> None:
    assert cast(embedded_node, "chain-id").stdout.strip() == str(CHAIN_ID)
    head = int(str(rpc(embedded_node.url, "eth_blockNumber")), 16)
    assert head >= int(deployed.receipt["blockNumber"], 16) >= 1
    assert int(cast(embedded_node, "block-number").stdout) == head


def test_create_deploys_the_contract(
    embedded_node: NodeProcess, deployed: Deployed, probe_artifact: Artifact
) -> None:
    receipt = deployed.receipt
    expected = keccak(rlp.encode([HexBytes(deployed.sender.address), 0]))[12:]
    assert deployed.address == to_checksum_address(expected)  # sender's first transaction
    assert receipt["to"] is None
    code = rpc(embedded_node.url, "eth_getCode", deployed.address, "latest")
    assert HexBytes(str(code)) == probe_artifact.deployed_bytecode
    # cast's 1-wei tip (see the module docstring), paid from the sender's native balance.
    assert int(receipt["effectiveGasPrice"], 16) == 1
    paid = int(receipt["gasUsed"], 16)
    assert balance(embedded_node, deployed.sender.address) == deployed.balance_before - paid


def test_send_call_receipt_and_logs(embedded_node: NodeProcess, deployed: Deployed) -> None:
    key = private_key(deployed.sender)
    before = cast_json(embedded_node, "call", deployed.address, "count()(uint256)")
    sent = cast_json(
        embedded_node, "send", "--private-key", key, deployed.address, "increment(uint256)", "3"
    )
    assert sent["status"] == "0x1"
    (after,) = cast_json(embedded_node, "call", deployed.address, "count()(uint256)")
    assert int(after) == int(before[0]) + 3

    receipt = cast_json(embedded_node, "receipt", sent["transactionHash"])
    assert receipt["status"] == "0x1"
    assert receipt["transactionHash"] == sent["transactionHash"]
    (log,) = receipt["logs"]
    sender_topic = HexBytes(bytes(12) + HexBytes(deployed.sender.address)).to_0x_hex()
    assert to_checksum_address(log["address"]) == deployed.address
    assert log["topics"][:2] == [INCREMENTED_TOPIC, sender_topic]
    assert int(log["topics"][2], 16) == int(after)  # newCount
    assert int(log["data"], 16) == 3  # step

    logs = cast_json(embedded_node, "logs", "--from-block", "0", "--address", deployed.address)
    assert [(x["transactionHash"], x["logIndex"], x["topics"]) for x in logs] == [
        (sent["transactionHash"], log["logIndex"], log["topics"])
    ]
    transaction = cast_json(embedded_node, "tx", sent["transactionHash"])
    assert transaction["hash"] == sent["transactionHash"]
    assert int(transaction["maxPriorityFeePerGas"], 16) == 1


def test_zero_fee_flags_make_a_transaction_free(
    embedded_node: NodeProcess, deployed: Deployed, accounts: list[LocalAccount]
) -> None:
    sender = accounts[1]
    before = balance(embedded_node, sender.address)
    receipt = cast_json(
        embedded_node,
        "send",
        "--private-key",
        private_key(sender),
        "--gas-price",
        "0",
        "--priority-gas-price",
        "0",
        deployed.address,
        "setSlot(uint256)",
        "7",
    )
    assert receipt["status"] == "0x1"
    assert int(receipt["effectiveGasPrice"], 16) == 0
    assert balance(embedded_node, sender.address) == before


def test_balance(embedded_node: NodeProcess, accounts: list[LocalAccount]) -> None:
    address = accounts[2].address
    assert int(cast(embedded_node, "balance", address).stdout) == balance(embedded_node, address)


def test_sender_outside_the_allowlist_is_refused(
    embedded_node: NodeProcess, deployed: Deployed
) -> None:
    """A fresh key (no balance, not allowlisted): eth_estimateGas answers (reads are open to
    everyone and gas is free), then eth_sendRawTransaction refuses the sender."""
    stranger = Account.from_key(secrets.token_bytes(32))
    result = cast(
        embedded_node,
        "send",
        "--private-key",
        private_key(stranger),
        deployed.address,
        "increment(uint256)",
        "1",
        check=False,
    )
    assert result.returncode != 0
    assert (
        f"error code -32007: sender account {stranger.address.lower()} is not authorized to send "
        "transactions" in result.stderr
    ), result.stderr
    assert rpc(embedded_node.url, "eth_getTransactionCount", stranger.address, "pending") == "0x0"

"""Free gas is not free storage: a size limit per transaction and an admission rate per sender
(issue 15, item 3). Before, any allowlisted account got 1-2 MiB calldata transactions mined
and grew every node's store by 3.3 MB in 1.2 s."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import to_canonical_address

from cityledger.testing.accounts import CHAIN_ID, make_accounts, write_genesis
from cityledger.testing.processes import NodeProcess
from ledger.node.config import (
    DEFAULT_MAX_TX_SIZE,
    ChainParams,
    GenesisConfig,
    NodeOptions,
)
from ledger.node.genesis import genesis_fingerprint
from ledger.node.ratelimit import SenderRateLimiter
from ledger.node.rpc import codes

_HTTP = httpx.Client()


def rpc(node: NodeProcess, method: str, *params: Any) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    answer: dict[str, Any] = _HTTP.post(node.url, json=body, timeout=30).json()
    return answer


def with_calldata(account: LocalAccount, nonce: int, size: int) -> bytes:
    """A signed transaction whose calldata is ``size`` zero bytes (gas covers the floor)."""
    tx = {
        "to": account.address,
        "data": bytes(size),
        "gas": 21_000 + 10 * size + 100_000,
        "nonce": nonce,
        "chainId": CHAIN_ID,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
    }
    return bytes(account.sign_transaction(tx).raw_transaction)


def mined(node: NodeProcess, tx_hash: str) -> dict[str, Any]:
    while (receipt := rpc(node, "eth_getTransactionReceipt", tx_hash)["result"]) is None:
        time.sleep(0.01)
    return receipt


def send(node: NodeProcess, raw: bytes) -> dict[str, Any]:
    return rpc(node, "eth_sendRawTransaction", "0x" + raw.hex())


def test_a_transaction_over_128_kib_is_refused_and_changes_nothing(
    embedded_node: NodeProcess, accounts: list[LocalAccount]
) -> None:
    sender = accounts[7]
    nonce = int(
        rpc(embedded_node, "eth_getTransactionCount", sender.address, "pending")["result"], 16
    )
    head = rpc(embedded_node, "eth_blockNumber")["result"]
    oversized = with_calldata(sender, nonce, 140_000)
    assert len(oversized) > DEFAULT_MAX_TX_SIZE
    error = send(embedded_node, oversized)["error"]
    assert error["code"] == codes.OVERSIZED_DATA
    assert f"exceeds the limit of {DEFAULT_MAX_TX_SIZE}" in error["message"]
    assert rpc(embedded_node, "eth_blockNumber")["result"] == head
    assert rpc(embedded_node, "txpool_status")["result"]["pending"] == "0x0"

    fits = with_calldata(sender, nonce, 120_000)
    assert len(fits) <= DEFAULT_MAX_TX_SIZE
    assert mined(embedded_node, send(embedded_node, fits)["result"])["status"] == "0x1"


@pytest.fixture
def slow_senders(tmp_path: Path) -> tuple[Path, list[LocalAccount]]:
    """A genesis whose senders may add 1 byte a second after a 128 KiB burst."""
    people = make_accounts(2, "rate")
    write_genesis(
        tmp_path / "genesis.json", people, senderBytesPerSecond=1, senderBurstBytes=131_072
    )
    return tmp_path / "genesis.json", people


def test_the_genesis_rate_refuses_one_senders_flood_and_spares_the_others(
    node_factory: Callable[..., NodeProcess], slow_senders: tuple[Path, list[LocalAccount]]
) -> None:
    genesis, (flooder, neighbour) = slow_senders
    node = node_factory(genesis, "--block-period", "0")
    first = send(node, with_calldata(flooder, 0, 100_000))["result"]
    refused = send(node, with_calldata(flooder, 1, 100_000))["error"]
    assert refused["code"] == codes.LIMIT_EXCEEDED
    assert "sender rate limit" in refused["message"]
    assert rpc(node, "eth_getTransactionCount", flooder.address, "pending")["result"] == "0x1"
    # Small transactions still fit what is left of the burst; the neighbour has its own.
    assert "result" in send(node, with_calldata(flooder, 1, 1_000))
    assert mined(node, send(node, with_calldata(neighbour, 0, 100_000))["result"])["status"]
    assert mined(node, first)["status"] == "0x1"


def test_the_command_line_overrides_the_genesis_rate(
    node_factory: Callable[..., NodeProcess], slow_senders: tuple[Path, list[LocalAccount]]
) -> None:
    genesis, (flooder, _) = slow_senders
    node = node_factory(genesis, "--block-period", "0", "--sender-bytes-per-second", "0")
    hashes = [send(node, with_calldata(flooder, n, 100_000))["result"] for n in range(4)]
    assert [mined(node, h)["status"] for h in hashes] == ["0x1"] * 4


def test_a_smaller_size_limit_from_the_command_line(
    node_factory: Callable[..., NodeProcess], slow_senders: tuple[Path, list[LocalAccount]]
) -> None:
    genesis, (sender, _) = slow_senders
    node = node_factory(genesis, "--max-tx-size", "60000", "--sender-burst-bytes", "60000")
    error = send(node, with_calldata(sender, 0, 61_000))["error"]
    assert "exceeds the limit of 60000" in error["message"]


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    limiter = SenderRateLimiter(rate=100, burst=1_000, clock=lambda: now[0])
    alice, bob = to_canonical_address("0x" + "aa" * 20), to_canonical_address("0x" + "bb" * 20)
    assert limiter.wait_needed(alice, 1_000) == 0
    limiter.charge(alice, 900)
    assert limiter.wait_needed(alice, 300) == pytest.approx(2.0)
    assert limiter.wait_needed(bob, 1_000) == 0
    now[0] = 2.0
    assert limiter.wait_needed(alice, 300) == 0
    now[0] = 1_000.0
    assert limiter.wait_needed(alice, 1_001) == pytest.approx(0.01)  # never above the burst
    assert limiter.tracked() == 0  # a full bucket is forgotten


def test_an_unlimited_rate_admits_everything() -> None:
    limiter = SenderRateLimiter(rate=0, burst=1)
    alice = to_canonical_address("0x" + "aa" * 20)
    limiter.charge(alice, 10**9)
    assert limiter.wait_needed(alice, 10**9) == 0


def test_limits_that_would_refuse_valid_transactions_forever_are_config_errors() -> None:
    with pytest.raises(ValueError, match="senderBurstBytes 1000 is below maxTxSize"):
        ChainParams(sender_burst_bytes=1_000)
    with pytest.raises(ValueError, match="raise maxTxSize"):
        ChainParams(contract_size_limit=100_000)
    with pytest.raises(ValueError, match="senderBurstBytes"):
        NodeOptions(data_dir=Path("x"), max_tx_size=2_000_000)
    ChainParams(contract_size_limit=100_000, max_tx_size=210_000, sender_burst_bytes=210_000)


def test_the_new_limits_leave_existing_chains_fingerprints_alone() -> None:
    """Admission limits are runtime policy: a data directory made before they existed (or
    with other values) still opens. The hashes were computed on the commit before them."""
    assert genesis_fingerprint(GenesisConfig()).hex() == (
        "c60587944eb57189f52e64b2a325e4f3035f0a8d0ecb25405012b7996e8a5a7c"
    )
    changed = GenesisConfig(
        config=ChainParams(max_tx_size=300_000, sender_bytes_per_second=0, sender_burst_bytes=1)
    )
    assert genesis_fingerprint(changed) == genesis_fingerprint(GenesisConfig())

"""A storage error must not leave a node that accepts but never seals (issue 15, item 18).

Before, a failed block write killed the sealer thread while the process lived on: /health
turned 503, eth_sendRawTransaction kept answering hashes that would never be mined, and the
node did not recover when space returned. The node is now crash-only: it stops admitting, shuts
down and exits non-zero, and a restart on the same data directory reopens every block that was
acknowledged.

A full disk is staged with RLIMIT_FSIZE, lowered on the running node just above the size of
LevelDB's current log file: the next block's write fails with EFBIG (CPython ignores SIGXFSZ),
which reaches the node exactly as ENOSPC would, as an I/O error from LevelDB. "Space returns"
when the node is restarted without the limit.
"""

from __future__ import annotations

import resource
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import CHAIN_ID, make_accounts, write_genesis
from cityledger.testing.processes import NodeProcess, free_port

_HTTP = httpx.Client()
EXIT_TIMEOUT = 60.0
"""Generous: the node stops within a block period and a graceful shutdown."""


def rpc(node: NodeProcess, method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return _HTTP.post(node.url, json=body, timeout=30).json()


def with_calldata(account: LocalAccount, nonce: int, size: int) -> bytes:
    tx = {
        "to": account.address,
        "data": b"\x01" * size,
        "gas": 21_000 + 40 * size + 100_000,
        "nonce": nonce,
        "chainId": CHAIN_ID,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
    }
    return bytes(account.sign_transaction(tx).raw_transaction)


def receipt_of(node: NodeProcess, tx_hash: str) -> dict[str, Any]:
    while (receipt := rpc(node, "eth_getTransactionReceipt", tx_hash)["result"]) is None:
        time.sleep(0.01)
    result: dict[str, Any] = receipt
    return result


def newest_log(chain: Path) -> Path:
    return max(chain.glob("*.log"), key=lambda p: int(p.stem))


def test_a_failed_block_write_stops_the_node_and_a_restart_recovers(tmp_path: Path) -> None:
    (sender,) = make_accounts(1, "storage-failure")
    write_genesis(tmp_path / "genesis.json", [sender])
    node = NodeProcess(
        tmp_path / "genesis.json", tmp_path / "node", free_port(), ("--block-period", "0")
    )
    node.start()
    process = node.process
    assert process is not None
    try:
        served = {}
        for nonce in range(4):  # ~80 kB of log: room for the node's own log lines below it
            tx_hash = rpc(
                node, "eth_sendRawTransaction", "0x" + with_calldata(sender, nonce, 20_000).hex()
            )["result"]
            served[tx_hash] = receipt_of(node, tx_hash)

        log_size = newest_log(tmp_path / "node" / "chain").stat().st_size
        assert node.log_path.stat().st_size < log_size
        _, hard = resource.prlimit(process.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (log_size + 2_048, hard))

        doomed = with_calldata(sender, 4, 30_000)
        doomed_hash = rpc(node, "eth_sendRawTransaction", "0x" + doomed.hex())["result"]
        exit_code = process.wait(EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("the node kept running after it could not write a block") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert exit_code == 1
    output = " ".join(node.log_path.read_text().split())  # the CLI wraps its error line
    assert "could not write block 5" in output
    assert "blocks up to 4 are intact" in output

    restarted = NodeProcess(
        tmp_path / "genesis.json", tmp_path / "node", free_port(), ("--block-period", "0")
    ).start()
    try:
        assert rpc(restarted, "eth_blockNumber")["result"] == "0x4"
        for tx_hash, receipt in served.items():
            assert rpc(restarted, "eth_getTransactionReceipt", tx_hash)["result"] == receipt
        # The block that failed never was: its transaction is gone, as after kill -9, and the
        # same signed bytes are mined when sent again.
        assert rpc(restarted, "eth_getTransactionByHash", doomed_hash)["result"] is None
        resent = rpc(restarted, "eth_sendRawTransaction", "0x" + doomed.hex())["result"]
        assert resent == doomed_hash
        assert receipt_of(restarted, resent)["status"] == "0x1"
        health = _HTTP.get(restarted.url + "/health", timeout=10)
        assert health.status_code == 200
    finally:
        restarted.stop()

"""ledger.receipts.ReceiptWatcher on real nodes: each waiter gets its own receipt from the
block that holds it, on the embedded node and anvil, and through a node without
eth_getBlockReceipts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from cityledger.testing.processes import NodeProcess, free_port
from ledger.receipts import ReceiptWatcher


def _signed_transfers(w3: Web3, senders: list[LocalAccount]) -> list[bytes]:
    """One pre-signed 1-wei transfer per sender, to the next sender."""
    raws = []
    for index, sender in enumerate(senders):
        tx = {
            "to": senders[(index + 1) % len(senders)].address,
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 2 * 10**9,
            "maxPriorityFeePerGas": 0,
            "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
        raws.append(bytes(sender.sign_transaction(tx).raw_transaction))
    return raws


def _wait_all(w3: Web3, watcher: ReceiptWatcher, raws: list[bytes]) -> list[tuple[bytes, dict]]:
    """Start a waiter per transaction, then send them all; each waiter's receipt and hash."""
    hashes = [bytes(Web3.keccak(raw)) for raw in raws]
    with ThreadPoolExecutor(len(raws)) as pool:
        futures = [pool.submit(watcher.wait, tx_hash, 30.0) for tx_hash in hashes]
        time.sleep(0.1)  # the waiters are registered before anything is mined
        for raw in raws:
            w3.eth.send_raw_transaction(raw)
        return [(tx_hash, future.result()) for tx_hash, future in zip(hashes, futures, strict=True)]


def test_every_waiter_gets_its_own_receipt(any_chain: Web3, accounts: list[LocalAccount]) -> None:
    watcher = ReceiptWatcher(any_chain)
    results = _wait_all(any_chain, watcher, _signed_transfers(any_chain, accounts[:8]))
    for tx_hash, receipt in results:
        assert receipt is not None
        assert bytes(receipt["transactionHash"]) == tx_hash
        assert receipt["status"] == 1
        assert any_chain.eth.get_transaction_receipt(tx_hash)["blockHash"] == receipt["blockHash"]


def test_a_mined_transaction_is_answered_at_once(
    any_chain: Web3, accounts: list[LocalAccount]
) -> None:
    (raw,) = _signed_transfers(any_chain, accounts[8:9])
    tx_hash = any_chain.eth.send_raw_transaction(raw)
    mined = any_chain.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    receipt = ReceiptWatcher(any_chain).wait(bytes(tx_hash), 0.0)
    assert receipt is not None
    assert receipt["blockNumber"] == mined["blockNumber"]


def test_an_unknown_transaction_times_out_and_the_follower_stops(any_chain: Web3) -> None:
    watcher = ReceiptWatcher(any_chain)
    assert watcher.wait(b"\x11" * 32, 0.3) is None
    deadline = time.monotonic() + 5
    while watcher._thread is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert watcher._thread is None, "the follower thread outlived its last waiter"


def test_two_callers_waiting_for_one_hash_both_get_it(
    any_chain: Web3, accounts: list[LocalAccount]
) -> None:
    (raw,) = _signed_transfers(any_chain, accounts[9:10])
    tx_hash = bytes(Web3.keccak(raw))
    watcher = ReceiptWatcher(any_chain)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(watcher.wait, tx_hash, 30.0) for _ in range(2)]
        time.sleep(0.1)
        any_chain.eth.send_raw_transaction(raw)
        receipts = [future.result() for future in futures]
    assert receipts[0] is not None
    assert receipts[1] is not None
    assert bytes(receipts[0]["transactionHash"]) == tx_hash
    assert receipts[0]["blockHash"] == receipts[1]["blockHash"]


class _NoBlockReceipts:
    """A JSON-RPC front for a real node that answers eth_getBlockReceipts as an older node
    does (method not found) and passes everything else on."""

    def __init__(self, upstream: str) -> None:
        self.refused = 0
        self.head_reads = 0
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                if isinstance(request, dict) and request.get("method") == "eth_blockNumber":
                    front.head_reads += 1
                if isinstance(request, dict) and request.get("method") == "eth_getBlockReceipts":
                    front.refused += 1
                    answer = json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": request.get("id"),
                            "error": {"code": -32601, "message": "Method not found"},
                        }
                    ).encode()
                else:
                    answer = httpx.post(upstream, content=body, timeout=30).content
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def older_node(embedded_node: NodeProcess) -> Iterator[_NoBlockReceipts]:
    front = _NoBlockReceipts(embedded_node.url)
    thread = threading.Thread(target=front.server.serve_forever, daemon=True)
    thread.start()
    yield front
    front.server.shutdown()


def test_a_node_without_block_receipts_is_followed_per_transaction(
    older_node: _NoBlockReceipts, embedded_node: NodeProcess, accounts: list[LocalAccount]
) -> None:
    w3 = Web3(Web3.HTTPProvider(older_node.url, request_kwargs={"timeout": 30}))
    watcher = ReceiptWatcher(w3)
    # The follower must be past its first look (which finds mined receipts one by one in any
    # case) before anything is sent, so that the new blocks reach it as blocks.
    parked = threading.Thread(target=watcher.wait, args=(b"\x33" * 32, 3.0))
    parked.start()
    deadline = time.monotonic() + 10
    while older_node.head_reads < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    results = _wait_all(w3, watcher, _signed_transfers(w3, accounts[10:12]))
    parked.join()
    assert older_node.refused >= 1, "the watcher never tried eth_getBlockReceipts"
    for tx_hash, receipt in results:
        assert receipt is not None
        assert bytes(receipt["transactionHash"]) == tx_hash

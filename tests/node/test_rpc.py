"""The JSON-RPC surface of a running node: protocol errors, bad params and refused
transactions all get a JSON-RPC error, nothing changes, and the node keeps serving."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.inprocess import transfer
from cityledger.testing.processes import NodeProcess
from ledger.node.rpc import codes

STRANGER = make_accounts(1, "rpc-stranger")[0]

_HTTP = httpx.Client()


def post(node: NodeProcess, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return _HTTP.post(node.url, content=content, timeout=10, **kwargs)


def call(node: NodeProcess, method: str, *params: Any) -> dict[str, Any]:
    document: dict[str, Any] = post(
        node, {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}
    ).json()
    return document


def error_of(node: NodeProcess, method: str, *params: Any) -> dict[str, Any]:
    document = call(node, method, *params)
    assert "error" in document, document
    error: dict[str, Any] = document["error"]
    return error


def state(node: NodeProcess, accounts: list[LocalAccount]) -> list[tuple[str, str]]:
    return [
        (
            call(node, "eth_getBalance", a.address, "latest")["result"],
            call(node, "eth_getTransactionCount", a.address, "pending")["result"],
        )
        for a in accounts
    ]


def test_malformed_json_is_a_parse_error(embedded_node: NodeProcess) -> None:
    response = post(embedded_node, b'{"jsonrpc": "2.0", "method": ')
    assert response.status_code == 200
    assert response.json()["error"]["code"] == codes.PARSE_ERROR
    assert response.json()["id"] is None


@pytest.mark.parametrize(
    ("request_body", "code", "message"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_noSuchThing"}, -32601, "does not exist"),
        ({"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}, -32600, "jsonrpc"),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, -32600, "method must be a string"),
        ({"jsonrpc": "2.0", "id": [1], "method": "eth_chainId"}, -32600, "bad id"),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": {}}, -32602, "list"),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": []}, -32602, "1 to 2"),
        ("just a string", -32600, "expected an object"),
        ([], -32600, "empty batch"),
    ],
)
def test_invalid_requests(
    embedded_node: NodeProcess, request_body: Any, code: int, message: str
) -> None:
    error = post(embedded_node, request_body).json()["error"]
    assert error["code"] == code
    assert message in error["message"]


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("eth_getBalance", ["0x1234", "latest"], "20-byte address"),
        ("eth_getBalance", ["not hex", "latest"], "hex data"),
        ("eth_getBlockByNumber", ["0xzz", False], "hex quantity"),
        ("eth_getBlockByNumber", ["latest", "yes"], "true or false"),
        ("eth_getTransactionReceipt", ["0x1234"], "32-byte hash"),
        ("eth_call", ["not an object", "latest"], "expected an object"),
        ("eth_getLogs", [{"topics": "0x00"}], "filter.topics"),
        ("eth_getLogs", [{"fromBlock": "0x5", "toBlock": "0x1"}], "after toBlock"),
        ("eth_sendRawTransaction", ["0x"], "empty transaction"),
        ("eth_sendRawTransaction", ["0x02abcdef"], "invalid transaction encoding"),
        ("eth_feeHistory", ["0x2", "latest", [50, 10]], "ascending"),
    ],
)
def test_bad_params_are_invalid_params(
    embedded_node: NodeProcess, method: str, params: list[Any], message: str
) -> None:
    error = error_of(embedded_node, method, *params)
    assert error["code"] == codes.INVALID_PARAMS
    assert message in error["message"]


def test_batch_answers_each_request_and_skips_notifications(embedded_node: NodeProcess) -> None:
    answers = post(
        embedded_node,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": "b", "method": "eth_nothing"},
            42,
        ],
    ).json()
    assert [a["id"] for a in answers] == [1, "b", None]
    assert answers[0]["result"] == hex(44051)
    assert answers[1]["error"]["code"] == -32601
    assert answers[2]["error"]["code"] == -32600


def test_notification_only_gets_no_content(embedded_node: NodeProcess) -> None:
    response = post(embedded_node, {"jsonrpc": "2.0", "method": "eth_chainId"})
    assert response.status_code == 204


def test_oversized_batch_and_body_are_refused(embedded_node: NodeProcess) -> None:
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(1001)]
    assert "exceeds the limit" in post(embedded_node, batch).json()["error"]["message"]
    response = post(embedded_node, b"[" + b" " * (6 * 1024 * 1024) + b"]")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == codes.INVALID_REQUEST


def test_get_is_not_rpc_but_health_answers(embedded_node: NodeProcess) -> None:
    assert _HTTP.get(embedded_node.url).status_code == 405
    health = _HTTP.get(embedded_node.url + "/health").json()
    assert health["chainId"] == 44051
    assert health["sealer"] == "ok"


def test_refused_transactions_change_nothing(
    embedded_node: NodeProcess, accounts: list[LocalAccount]
) -> None:
    sender, receiver = accounts[8], accounts[9]
    before = state(embedded_node, [sender, receiver, STRANGER])
    nonce = int(
        call(embedded_node, "eth_getTransactionCount", sender.address, "pending")["result"], 16
    )
    cases = [
        (transfer(sender, receiver.address, 1, nonce, chain_id=1), -32000, "invalid chain id"),
        (transfer(STRANGER, receiver.address, 0, 0), -32007, "not authorized"),
        (transfer(sender, receiver.address, 1, nonce + 1000), -32006, "nonce too high"),
        (transfer(sender, receiver.address, 10**30, nonce), -32004, "insufficient funds"),
        (transfer(sender, receiver.address, 1, nonce, gas=1000), -32003, "intrinsic gas"),
    ]
    if nonce > 0:
        cases.append((transfer(sender, receiver.address, 1, nonce - 1), -32001, "nonce too low"))
    for raw, code, message in cases:
        error = error_of(embedded_node, "eth_sendRawTransaction", "0x" + raw.hex())
        assert error["code"] == code, error
        assert message in error["message"], error
    assert state(embedded_node, [sender, receiver, STRANGER]) == before
    assert _HTTP.get(embedded_node.url + "/health").json()["sealer"] == "ok"


def test_state_queries_at_unknown_blocks(embedded_node: NodeProcess) -> None:
    error = error_of(embedded_node, "eth_getBalance", STRANGER.address, "0xffffff")
    assert error["message"] == "header not found"
    assert call(embedded_node, "eth_getBlockByNumber", "0xffffff", False)["result"] is None
    assert call(embedded_node, "eth_getBlockByHash", "0x" + "11" * 32, False)["result"] is None
    assert call(embedded_node, "eth_getTransactionByHash", "0x" + "11" * 32)["result"] is None


def test_log_queries_are_bounded(
    node_factory: Any, tmp_path: Any, accounts: list[LocalAccount]
) -> None:
    write_genesis(tmp_path / "g.json", accounts[:2])
    node = node_factory(tmp_path / "g.json", "--block-period", "0", "--rpc-max-log-range", "2")
    for nonce in range(3):
        raw = transfer(accounts[0], accounts[1].address, 1, nonce)
        tx_hash = call(node, "eth_sendRawTransaction", "0x" + raw.hex())["result"]
        while call(node, "eth_getTransactionReceipt", tx_hash)["result"] is None:
            time.sleep(0.01)
    assert call(node, "eth_getLogs", {"fromBlock": "0x1", "toBlock": "0x2"})["result"] == []
    error = error_of(node, "eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    assert error["code"] == codes.LIMIT_EXCEEDED
    assert "exceeds the limit of 2" in error["message"]


def test_send_transaction_explains_that_the_node_holds_no_keys(embedded_node: NodeProcess) -> None:
    error = error_of(embedded_node, "eth_sendTransaction", {"from": STRANGER.address})
    assert "eth_sendRawTransaction" in error["message"]


def test_pending_transaction_is_visible_before_its_receipt(
    node_factory: Any, tmp_path: Any, accounts: list[LocalAccount]
) -> None:
    write_genesis(tmp_path / "g.json", accounts[:2])
    node = node_factory(tmp_path / "g.json", "--block-period", "5")
    first = transfer(accounts[0], accounts[1].address, 1, 0)
    first_hash = call(node, "eth_sendRawTransaction", "0x" + first.hex())["result"]
    while call(node, "eth_getTransactionReceipt", first_hash)["result"] is None:
        time.sleep(0.01)  # an idle node seals the first arrival at once
    raw = transfer(accounts[0], accounts[1].address, 1, 1)
    tx_hash = call(node, "eth_sendRawTransaction", "0x" + raw.hex())["result"]
    seen = call(node, "eth_getTransactionByHash", tx_hash)["result"]
    assert seen["blockNumber"] is None
    assert seen["blockTimestamp"] is None
    assert seen["from"] == accounts[0].address
    assert call(node, "eth_getTransactionReceipt", tx_hash)["result"] is None
    assert call(node, "txpool_status")["result"]["pending"] == "0x1"
    assert call(node, "eth_getTransactionCount", accounts[0].address, "pending")["result"] == "0x2"
    assert call(node, "eth_getTransactionCount", accounts[0].address, "latest")["result"] == "0x1"


RETURN_TIMESTAMP = "0x4260005260206000f3"
"""Init code that returns ``block.timestamp`` (TIMESTAMP; MSTORE at 0; RETURN 32 bytes)."""


def test_pending_calls_run_at_the_next_blocks_time(embedded_node: NodeProcess) -> None:
    """A dry run of a time-dependent transaction (a voting window, a deadline) must see the time
    the transaction will: ``pending`` runs in the next block's context, ``latest`` in the head's."""
    head = call(embedded_node, "eth_getBlockByNumber", "latest", False)["result"]
    stamp = int(head["timestamp"], 16)
    latest = call(embedded_node, "eth_call", {"data": RETURN_TIMESTAMP}, "latest")["result"]
    before = int(time.time())
    pending = call(embedded_node, "eth_call", {"data": RETURN_TIMESTAMP}, "pending")["result"]
    assert int(latest, 16) == stamp
    assert int(pending, 16) >= max(stamp + 1, before)


def test_transaction_objects_carry_their_blocks_timestamp(
    embedded_node: NodeProcess, accounts: list[LocalAccount]
) -> None:
    """execution-apis requires ``blockTimestamp`` on transaction objects, as on receipts and
    logs (issue 15, item 6): every way of reading a mined transaction gives its block's."""
    sender, receiver = accounts[10], accounts[11]
    nonce = int(
        call(embedded_node, "eth_getTransactionCount", sender.address, "pending")["result"], 16
    )
    tx_hash = call(
        embedded_node,
        "eth_sendRawTransaction",
        "0x" + transfer(sender, receiver.address, 1, nonce).hex(),
    )["result"]
    while (receipt := call(embedded_node, "eth_getTransactionReceipt", tx_hash)["result"]) is None:
        time.sleep(0.01)
    block = call(embedded_node, "eth_getBlockByHash", receipt["blockHash"], True)["result"]
    index = receipt["transactionIndex"]
    views = [
        call(embedded_node, "eth_getTransactionByHash", tx_hash)["result"],
        block["transactions"][int(index, 16)],
        call(embedded_node, "eth_getTransactionByBlockHashAndIndex", block["hash"], index)[
            "result"
        ],
        call(embedded_node, "eth_getTransactionByBlockNumberAndIndex", block["number"], index)[
            "result"
        ],
    ]
    assert [view["hash"] for view in views] == [tx_hash] * 4
    assert [view["blockTimestamp"] for view in views] == [block["timestamp"]] * 4

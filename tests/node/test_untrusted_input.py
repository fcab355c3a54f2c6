"""Untrusted bytes at the JSON-RPC port: whatever their shape, the answer is a JSON-RPC error
and the node keeps serving (issue 15, item 1).

py_ecc raises the recursion limit to 100,000 in every process that imports py-evm, so a parser
that recurses per nesting level overflows the C stack on deep input instead of raising: one
~200 KB body of nested arrays killed the node with SIGSEGV.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import rlp

from cityledger.testing.processes import NodeProcess
from ledger.node.rpc import codes
from ledger.node.rpc.body import MAX_DEPTH

_HTTP = httpx.Client()


def post(node: NodeProcess, body: bytes) -> httpx.Response:
    return _HTTP.post(node.url, content=body, timeout=30)


def still_serving(node: NodeProcess) -> bool:
    answer = post(node, b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}').json()
    return bool(answer["result"] == hex(44051))


def send_raw(node: NodeProcess, raw: bytes) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_sendRawTransaction",
        "params": ["0x" + raw.hex()],
    }
    error: dict[str, Any] = post(node, json.dumps(body).encode()).json()["error"]
    return error


def nested_lists(depth: int) -> bytes:
    """RLP of ``depth`` lists, each holding the next: c1 c0, then long-form prefixes."""
    item = b"\xc0"
    for _ in range(depth):
        item = rlp.codec.length_prefix(len(item), 0xC0) + item
    return item


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="arrays-100k-deep"),
        pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="objects-100k-deep"),
        pytest.param(b"[" * 1_000_000, id="unclosed-1M-deep"),
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"eth_call","params":' + b"[" * 200_000,
            id="deep-params",
        ),
    ],
)
def test_deeply_nested_bodies_are_parse_errors_not_crashes(
    embedded_node: NodeProcess, body: bytes
) -> None:
    answer = post(embedded_node, body).json()
    assert answer["error"]["code"] == codes.PARSE_ERROR
    assert f"deeper than {MAX_DEPTH}" in answer["error"]["message"]
    assert answer["id"] is None
    assert still_serving(embedded_node)


def test_nesting_up_to_the_limit_is_parsed_and_judged_on_its_content(
    embedded_node: NodeProcess,
) -> None:
    inner = b"[" * (MAX_DEPTH - 2) + b"]" * (MAX_DEPTH - 2)
    body = b'[{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":' + inner + b"}]"
    (answer,) = post(embedded_node, body).json()
    assert answer["error"]["code"] == codes.INVALID_PARAMS
    brackets_in_strings = json.dumps(
        {"jsonrpc": "2.0", "id": "[[[[" * 100, "method": "eth_chainId"}
    ).encode()
    assert post(embedded_node, brackets_in_strings).json()["result"] == hex(44051)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'{"jsonrpc":"2.0","id":' + b"7" * 5_000 + b',"method":"eth_chainId"}',
            id="5000-digit-id",
        ),
        pytest.param(b'{"jsonrpc":"2.0","id":NaN,"method":"eth_chainId"}', id="nan-id"),
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"eth_feeHistory","params":[Infinity,"latest",[]]}',
            id="infinity-param",
        ),
        pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
    ],
)
def test_numbers_and_constants_json_cannot_hold_are_parse_errors(
    embedded_node: NodeProcess, body: bytes
) -> None:
    """Python's json raised ValueError on a 5,000-digit integer (the node answered HTTP 500)
    and accepted NaN, which it then echoed back as an id: not JSON at all."""
    response = post(embedded_node, body)
    assert response.status_code == 200
    assert response.json()["error"]["code"] == codes.PARSE_ERROR
    assert still_serving(embedded_node)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\x05" + rlp.encode([1, 2, 3]), id="unknown-type-5"),
        pytest.param(b"\x7f\xc0", id="unknown-type-7f"),
        pytest.param(
            b"\x02" + rlp.encode([[1, [2]], 3, [4], 5, 6, 7, 8, 9, 10, 11, 12, 13]),
            id="lists-where-integers-go",
        ),
        pytest.param(rlp.encode([[b"\x01"], 2, 3, 4, 5, 6, 7, 8, 9]), id="legacy-list-nonce"),
        pytest.param(b"\x02" + nested_lists(20_000), id="20000-nested-lists"),
        pytest.param(b"\x02\xf9\xff\xff\x80", id="length-past-the-end"),
        pytest.param(b"\x02" + rlp.encode([1, 2]) + b"\x80", id="trailing-bytes"),
        pytest.param(b"\x81", id="neither-type-nor-list"),
    ],
)
def test_garbage_transaction_bytes_are_invalid_params(
    embedded_node: NodeProcess, raw: bytes
) -> None:
    """A raw transaction of the wrong shape is the client's error, said as such: an unknown
    type byte used to surface as an internal error (-32603), lists where integers belong as
    a bare Python TypeError."""
    error = send_raw(embedded_node, raw)
    assert error["code"] == codes.INVALID_PARAMS, error
    assert "invalid transaction encoding" in error["message"], error
    assert still_serving(embedded_node)


def test_quantities_larger_than_256_bits_are_invalid_params(embedded_node: NodeProcess) -> None:
    """A storage slot of 2**256 reached py-evm and came back as an internal error."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_getStorageAt",
        "params": ["0x" + "11" * 20, hex(2**256), "latest"],
    }
    error = post(embedded_node, json.dumps(body).encode()).json()["error"]
    assert error["code"] == codes.INVALID_PARAMS
    assert "256 bits" in error["message"]

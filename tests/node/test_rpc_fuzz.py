"""Fuzzing the JSON-RPC port of a running node (issue 15, acceptance).

Each property sends one kind of hostile input — deep nesting, huge and malformed numbers, wrong
types, oversize and nested batches, garbage RLP — and requires a JSON-RPC error for every
request in it (never an internal error, a dropped connection or an HTTP 500), then checks that
the node still answers and still reports a healthy sealer.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import rlp
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityledger.testing.inprocess import transfer
from cityledger.testing.processes import RPC_BATCH_LIMIT, NodeProcess
from ledger.node.rpc import codes
from ledger.node.rpc.methods import MODULES

ADDRESS = "0x" + "ab" * 20
METHODS = sorted(
    info.name
    for module in MODULES
    for member in vars(module).values()
    if (info := getattr(member, "__rpc__", None)) is not None
)
FUZZ = settings(
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_HTTP = httpx.Client()


def post(node: NodeProcess, body: bytes) -> Any:
    response = _HTTP.post(node.url, content=body, timeout=60)
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return response.json()


def assert_error(answer: Any) -> None:
    assert isinstance(answer, dict), answer
    assert answer.get("jsonrpc") == "2.0", answer
    assert "result" not in answer, answer
    error = answer["error"]
    assert isinstance(error["code"], int), answer
    assert error["code"] != codes.INTERNAL_ERROR, answer
    assert isinstance(error["message"], str), answer


def assert_alive(node: NodeProcess) -> None:
    chain = post(node, b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}')
    assert chain["result"] == hex(44051)
    assert _HTTP.get(node.url + "/health", timeout=10).json()["sealer"] == "ok"


def request(method: str, params: Any, request_id: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


# -- deep nesting ---------------------------------------------------------------------------


@st.composite
def deep_bodies(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(65, 300_000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'[{"b":', b"}]")]))
    inner = opener * depth + draw(st.sampled_from([b"1", b'"x"', b"", b"null"]))
    closed = inner + (closer * depth if draw(st.booleans()) else b"")
    where = draw(st.sampled_from(["whole", "params", "id"]))
    if where == "whole":
        return closed
    return b'{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","' + where.encode() + b'":' + closed


@FUZZ
@given(deep_bodies())
def test_deep_nesting(embedded_node: NodeProcess, body: bytes) -> None:
    answer = post(embedded_node, body)
    assert_error(answer)
    assert answer["error"]["code"] == codes.PARSE_ERROR
    assert_alive(embedded_node)


# -- huge and malformed numbers --------------------------------------------------------------

_HEX = "0123456789abcdefABCDEF"
too_wide = st.builds(
    lambda first, rest: "0x" + first + rest,
    st.sampled_from("123456789abcdef"),
    st.text(_HEX, min_size=64, max_size=5_000),
)
"""More than 256 bits (a 65-digit hex number with a nonzero first digit at least)."""
not_hex = st.one_of(
    st.sampled_from(["0x", "0X", "-0x1", " 0x1", "0x1 ", "0x1_0", "0x+1", "1e5", "12", "0xg"]),
    st.text(max_size=40).filter(
        lambda t: t not in ("latest", "earliest", "pending", "safe", "finalized")
    ),
    st.text(max_size=40).map(lambda t: "0x" + t + "z"),
)
json_numbers = st.one_of(
    st.integers(-(10**80), 10**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(10, 4_300).map(lambda n: int("7" * n)),
)
malformed_quantities = st.one_of(too_wide, not_hex, json_numbers)

quantity_positions = [
    lambda q: request("eth_getBlockByNumber", [q, False]),
    lambda q: request("eth_getBalance", [ADDRESS, q]),
    lambda q: request("eth_getTransactionCount", [ADDRESS, q]),
    lambda q: request("eth_getStorageAt", [ADDRESS, q, "latest"]),
    lambda q: request("eth_getStorageAt", [ADDRESS, "0x0", q]),
    lambda q: request("eth_getTransactionByBlockNumberAndIndex", ["0x0", q]),
    lambda q: request("eth_call", [{"to": ADDRESS, "value": q}, "latest"]),
    lambda q: request("eth_call", [{"to": ADDRESS, "gas": q}, "latest"]),
    lambda q: request("eth_estimateGas", [{"to": ADDRESS, "gasPrice": q}]),
    lambda q: request("eth_feeHistory", ["0x1", q, []]),
    lambda q: request("eth_getLogs", [{"fromBlock": q}]),
]


@FUZZ
@given(st.sampled_from(quantity_positions), malformed_quantities)
def test_huge_and_malformed_numbers(embedded_node: NodeProcess, position: Any, value: Any) -> None:
    answer = post(embedded_node, encode(position(value)))
    assert_error(answer)
    assert answer["error"]["code"] == codes.INVALID_PARAMS
    assert_alive(embedded_node)


@FUZZ
@given(st.integers(4_301, 50_000), st.sampled_from(["id", "params"]))
def test_integers_longer_than_python_converts(
    embedded_node: NodeProcess, digits: int, where: str
) -> None:
    body = b'{"jsonrpc":"2.0","method":"eth_blockNumber","' + where.encode() + b'":'
    number = b"9" * digits
    answer = post(embedded_node, body + (number if where == "id" else b"[" + number + b"]") + b"}")
    assert_error(answer)
    assert answer["error"]["code"] == codes.PARSE_ERROR
    assert_alive(embedded_node)


# -- wrong types -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
wrong_firsts = st.one_of(
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.lists(json_values, max_size=4),
)
"""Never a valid first parameter: no method takes a bool, a fraction or a list first."""


@FUZZ
@given(st.sampled_from(METHODS), wrong_firsts, st.lists(json_values, max_size=2))
def test_wrong_parameter_types(
    embedded_node: NodeProcess, method: str, first: Any, rest: list[Any]
) -> None:
    assert_error(post(embedded_node, encode(request(method, [first, *rest]))))
    assert_alive(embedded_node)


envelopes = st.one_of(
    st.builds(
        lambda v: {"jsonrpc": v, "id": 1, "method": "eth_chainId"},
        json_values.filter(lambda v: v != "2.0"),
    ),
    st.builds(
        lambda v: {"jsonrpc": "2.0", "id": 1, "method": v},
        json_values.filter(lambda v: not isinstance(v, str)),
    ),
    st.builds(
        lambda v: {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": v},
        json_values.filter(lambda v: not isinstance(v, list) and v is not None),
    ),
    st.builds(
        lambda v: {"jsonrpc": "2.0", "id": v, "method": "eth_chainId"},
        st.one_of(
            st.booleans(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.lists(json_values, min_size=0, max_size=3),
            st.dictionaries(st.text(max_size=4), json_values, max_size=3),
        ),
    ),
    json_values.filter(lambda v: not isinstance(v, (dict, list))),
)


@FUZZ
@given(envelopes)
def test_wrong_envelope_types(embedded_node: NodeProcess, document: Any) -> None:
    answer = post(embedded_node, encode(document))
    assert_error(answer)
    assert answer["error"]["code"] in (codes.INVALID_REQUEST, codes.INVALID_PARAMS)
    assert_alive(embedded_node)


# -- oversize and nested batches -------------------------------------------------------------


@settings(FUZZ, max_examples=15)
@given(st.integers(RPC_BATCH_LIMIT + 1, 4 * RPC_BATCH_LIMIT))
def test_oversize_batches(embedded_node: NodeProcess, size: int) -> None:
    answer = post(embedded_node, encode([request("eth_chainId", [], i) for i in range(size)]))
    assert_error(answer)
    assert answer["error"]["code"] == codes.INVALID_REQUEST
    assert "exceeds the limit" in answer["error"]["message"]
    assert_alive(embedded_node)


invalid_entries = st.one_of(
    st.lists(json_values, max_size=3),  # a batch inside a batch
    st.lists(st.lists(json_values, max_size=2), min_size=1, max_size=2),
    json_values.filter(lambda v: not isinstance(v, (dict, list))),
    envelopes.filter(lambda v: isinstance(v, dict)),
)


@FUZZ
@given(st.lists(invalid_entries, min_size=1, max_size=50))
def test_nested_batches(embedded_node: NodeProcess, entries: list[Any]) -> None:
    answers = post(embedded_node, encode(entries))
    assert isinstance(answers, list)
    assert len(answers) == len(entries)
    for answer in answers:
        assert_error(answer)
    assert_alive(embedded_node)


# -- garbage RLP -----------------------------------------------------------------------------

rlp_items = st.recursive(
    st.binary(max_size=70)
    | st.integers(0, 2**256 - 1).map(lambda n: n.to_bytes(32, "big").lstrip(b"\0")),
    lambda inner: st.lists(inner, max_size=14),
    max_leaves=40,
)


def _deep(depth: int) -> bytes:
    item = b"\xc0"
    for _ in range(depth):
        item = rlp.codec.length_prefix(len(item), 0xC0) + item
    return item


@st.composite
def garbage_transactions(draw: st.DrawFn, signed: bytes) -> bytes:
    kind = draw(st.sampled_from(["random", "typed", "deep", "mangled", "cut"]))
    if kind == "random":
        return draw(st.binary(max_size=3_000))
    if kind == "typed":
        prefix = draw(
            st.sampled_from([b"", b"\x00", b"\x01", b"\x02", b"\x04", b"\x05", b"\x7f", b"\x80"])
        )
        return prefix + rlp.encode(draw(rlp_items))
    if kind == "deep":
        return draw(st.sampled_from([b"", b"\x02"])) + _deep(draw(st.integers(9, 30_000)))
    if kind == "mangled":
        position = draw(st.integers(0, len(signed) - 1))
        flip = draw(st.integers(1, 255))
        return signed[:position] + bytes([signed[position] ^ flip]) + signed[position + 1 :]
    return signed[: draw(st.integers(0, len(signed) - 1))]


def test_garbage_rlp(embedded_node: NodeProcess, accounts: list[LocalAccount]) -> None:
    """Every answer is an error that is not internal; a signed transaction with one byte
    changed recovers to an unknown sender, or breaks its encoding or signature."""
    signed = transfer(accounts[11], accounts[10].address, 1, 10**6)

    @FUZZ
    @given(garbage_transactions(signed))
    def run(raw: bytes) -> None:
        answer = post(embedded_node, encode(request("eth_sendRawTransaction", ["0x" + raw.hex()])))
        assert_error(answer)
        assert_alive(embedded_node)

    run()
    assert post(embedded_node, encode(request("txpool_status", [])))["result"]["pending"] == "0x0"

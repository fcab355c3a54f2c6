"""The fast decoder against web3.py's reference decoder (``get_event_data``), for random
arguments of every event of every committed ABI, plus synthetic events with the types the city's
ABIs do not use yet (signed ints, arrays, tuples, an indexed string)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3._utils.events import get_event_data

from ledger.contracts.artifacts import ARTIFACTS_DIR, load_artifact
from ledger.indexer.decode import UNKNOWN_EVENT, Decoder, EventSpec, contract_events
from ledger.indexer.extract import RawLog

CODEC = Web3().codec

SYNTHETIC_ABI: list[dict[str, Any]] = [
    {
        "type": "event",
        "name": "Synthetic",
        "anonymous": False,
        "inputs": [
            {"name": "label", "type": "string", "indexed": True},
            {"name": "delta", "type": "int16", "indexed": True},
            {"name": "tag", "type": "bytes4", "indexed": True},
            {"name": "balance", "type": "int256", "indexed": False},
            {"name": "amounts", "type": "uint64[]", "indexed": False},
            {"name": "flags", "type": "bool[2]", "indexed": False},
            {
                "name": "pair",
                "type": "tuple",
                "indexed": False,
                "components": [
                    {"name": "who", "type": "address"},
                    {"name": "note", "type": "bytes"},
                ],
            },
            {"name": "memo", "type": "string", "indexed": False},
        ],
    }
]


def _artifact_events() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(Path(ARTIFACTS_DIR).glob("*.json")):
        for entry in load_artifact(path.stem).abi:
            if entry["type"] == "event" and not entry.get("anonymous", False):
                found.append((path.stem, entry))
    return found


EVENTS = [*_artifact_events(), *(("Synthetic", e) for e in SYNTHETIC_ABI)]


def values_of(entry: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind: str = entry["type"]
    if kind.endswith("]"):
        inner = {**entry, "type": kind[: kind.rindex("[")]}
        size = kind[kind.rindex("[") + 1 : -1]
        items = values_of(inner)
        if size:
            return st.lists(items, min_size=int(size), max_size=int(size))
        return st.lists(items, max_size=4)
    if kind == "tuple":
        return st.tuples(*(values_of(c) for c in entry["components"]))
    if kind == "address":
        return st.binary(min_size=20, max_size=20).map(to_checksum_address)
    if kind == "bool":
        return st.booleans()
    if kind == "string":
        return st.text(max_size=40)
    if kind == "bytes":
        return st.binary(max_size=80)
    if kind.startswith("bytes"):
        width = int(kind[5:])
        return st.binary(min_size=width, max_size=width)
    if kind.startswith("uint"):
        return st.integers(0, 2 ** int(kind[4:]) - 1)
    if kind.startswith("int"):
        bits = int(kind[3:])
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    raise AssertionError(f"no strategy for {kind}")


def _abi_type(entry: dict[str, Any]) -> str:
    if entry["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in entry["components"])
        return f"({inner}){entry['type'][5:]}"
    return str(entry["type"])


def _topic(entry: dict[str, Any], value: Any) -> bytes:
    kind = entry["type"]
    if kind == "string":
        return keccak(text=value)
    if kind == "bytes":
        return keccak(value)
    return encode([kind], [value])


@st.composite
def logs(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(contract, event ABI, raw log as a node serves it) with random arguments."""
    contract, entry = draw(st.sampled_from(EVENTS))
    args = {i["name"]: draw(values_of(i)) for i in entry["inputs"]}
    indexed = [i for i in entry["inputs"] if i["indexed"]]
    data_inputs = [i for i in entry["inputs"] if not i["indexed"]]
    spec = EventSpec.from_abi(contract, entry)
    topics = [spec.topic0] + ["0x" + _topic(i, args[i["name"]]).hex() for i in indexed]
    data = encode([_abi_type(i) for i in data_inputs], [args[i["name"]] for i in data_inputs])
    log = {
        "address": "0x" + "11" * 20,
        "topics": topics,
        "data": "0x" + data.hex(),
        "blockNumber": "0x7",
        "blockHash": "0x" + "22" * 32,
        "transactionHash": "0x" + "33" * 32,
        "transactionIndex": "0x0",
        "logIndex": "0x3",
    }
    return contract, entry, log


def normalized(value: Any) -> Any:
    """web3's decoded values in the indexer's JSON form."""
    if isinstance(value, bytes | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [normalized(v) for v in value]
    if isinstance(value, Mapping):
        return {k: normalized(v) for k, v in value.items()}
    return value


def _web3_args(entry: dict[str, Any], log: dict[str, Any]) -> dict[str, Any]:
    receipt = {
        **log,
        "topics": [HexBytes(t) for t in log["topics"]],
        "data": HexBytes(log["data"]),
        "blockNumber": 7,
        "logIndex": 3,
        "transactionIndex": 0,
        "blockHash": HexBytes(log["blockHash"]),
        "transactionHash": HexBytes(log["transactionHash"]),
    }
    decoded = get_event_data(CODEC, entry, receipt)
    return {name: normalized(value) for name, value in decoded["args"].items()}


@settings(max_examples=400, deadline=None)
@given(logs())
def test_decode_equals_web3_get_event_data(
    case: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    contract, entry, log = case
    decoder = Decoder({log["address"]: contract}, {contract: [entry]})
    event = decoder.decode(RawLog.from_json(log))
    assert event.name == entry["name"]
    assert event.contract == contract
    assert event.args == _web3_args(entry, log)
    assert list(event.args) == [i["name"] for i in entry["inputs"]]


def test_every_committed_event_has_a_spec() -> None:
    for contract, entry in _artifact_events():
        specs = contract_events(contract, [entry])
        assert [s.name for s in specs.values()] == [entry["name"]]


def test_an_unknown_topic_is_kept_raw() -> None:
    decoder = Decoder({"0x" + "11" * 20: "CityToken"})
    log = RawLog(
        1, "0x" + "22" * 32, "0x" + "33" * 32, 0, "0x" + "11" * 20, ("0x" + "44" * 32,), "0x"
    )
    event = decoder.decode(log)
    assert event.name == UNKNOWN_EVENT
    assert event.args == {"topics": ["0x" + "44" * 32], "data": "0x"}


def test_a_log_with_the_wrong_number_of_topics_is_refused() -> None:
    decoder = Decoder({"0x" + "11" * 20: "CityToken"})
    (transfer,) = [s for s in decoder.specs["CityToken"].values() if s.name == "Transfer"]
    log = RawLog(
        1,
        "0x" + "22" * 32,
        "0x" + "33" * 32,
        0,
        "0x" + "11" * 20,
        (transfer.topic0,),
        "0x" + "00" * 32,
    )
    with pytest.raises(ValueError, match="indexed arguments"):
        decoder.decode(log)

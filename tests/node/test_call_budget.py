"""One ``eth_call`` must not stall everyone (issue 15, item 2).

Unauthenticated calls and estimates ran up to a 50 M gas cap (~2 minutes of py-evm here) in the
dispatcher's single execution slot, a batch could queue 1,000 of them, and a 12 M-gas loop made a
plain ``balanceOf`` take 30.5 s instead of 0.03 s. Now calls have a lower gas cap, a wall-clock
budget each and one per batch, and take turns in the slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from py_ecc.optimized_bn128 import G1, G2, normalize

from cityledger.testing.accounts import write_genesis
from cityledger.testing.inprocess import transfer
from cityledger.testing.processes import NodeProcess, free_port
from ledger.node.config import DEFAULT_RPC_GAS_CAP
from ledger.node.rpc import codes
from ledger.node.rpc.slot import ExecutionSlot

ENDLESS_LOOP = "0x5b600056"
"""Init code: JUMPDEST; PUSH1 0; JUMP. Runs until gas or time runs out."""
RETURN_GAS = "0x5a60005260206000f3"
"""Init code that returns the gas left (GAS; MSTORE at 0; RETURN 32 bytes)."""
RETURN_TIMESTAMP = "0x4260005260206000f3"
"""Init code that returns ``block.timestamp``: a cheap call."""
ECPAIRING = "0x" + "00" * 19 + "08"


def _pairing_input(pairs: int) -> str:
    """``pairs`` copies of (G1, G2) in EIP-197's encoding: valid points, so every pair is
    computed (~0.5 s each in py_ecc)."""
    x1, y1 = normalize(G1)
    x2, y2 = normalize(G2)
    words = [int(x1), int(y1), *x2.coeffs[::-1], *y2.coeffs[::-1]]
    one = b"".join(int(w).to_bytes(32, "big") for w in words)
    return "0x" + (one * pairs).hex()


_HTTP = httpx.Client()


def post(node: NodeProcess, body: Any, timeout: float = 60) -> Any:
    return _HTTP.post(node.url, json=body, timeout=timeout).json()


def rpc(node: NodeProcess, method: str, *params: Any, timeout: float = 60) -> dict[str, Any]:
    document: dict[str, Any] = post(
        node, {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout
    )
    return document


@pytest.fixture
def genesis(tmp_path: Path, accounts: list[LocalAccount]) -> Path:
    write_genesis(tmp_path / "genesis.json", accounts[:2])
    return tmp_path / "genesis.json"


@pytest.fixture(scope="module")
def strict_node(
    tmp_path_factory: pytest.TempPathFactory, accounts: list[LocalAccount]
) -> Iterator[NodeProcess]:
    """Gas is no limit here (a billion), time is: 0.5 s a call, 1 s a batch."""
    root = tmp_path_factory.mktemp("strict")
    write_genesis(root / "genesis.json", accounts[:2])
    flags = ("--rpc-gas-cap", str(10**9), "--rpc-call-timeout", "0.5")
    node = NodeProcess(
        root / "genesis.json", root / "node", free_port(), (*flags, "--rpc-batch-call-budget", "1")
    )
    yield node.start()
    node.stop()


def test_calls_are_capped_at_25_million_gas_by_default(
    node_factory: Callable[..., NodeProcess], genesis: Path
) -> None:
    node = node_factory(genesis)
    left = int(rpc(node, "eth_call", {"data": RETURN_GAS, "gas": hex(10**9)})["result"], 16)
    assert DEFAULT_RPC_GAS_CAP == 25_000_000
    assert DEFAULT_RPC_GAS_CAP - 60_000 < left < DEFAULT_RPC_GAS_CAP
    capped = node_factory(genesis, "--rpc-gas-cap", "1000000")
    left = int(rpc(capped, "eth_call", {"data": RETURN_GAS})["result"], 16)
    assert 900_000 < left < 1_000_000


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("eth_call", [{"data": ENDLESS_LOOP}, "latest"]),
        ("eth_estimateGas", [{"data": ENDLESS_LOOP}]),
        ("eth_call", [{"to": ECPAIRING, "data": _pairing_input(60)}, "latest"]),
    ],
    ids=["loop-call", "loop-estimate", "pairing-precompile"],
)
def test_an_execution_past_its_time_budget_is_aborted(
    strict_node: NodeProcess, method: str, params: list[Any]
) -> None:
    """Only time can stop these: a loop, its gas estimate, and 60 bn128 pairings (~30 s inside
    one precompile, where no opcode loop runs)."""
    error = rpc(strict_node, method, *params)["error"]
    assert error == {"code": codes.SERVER_ERROR, "message": "execution aborted (timeout = 0.5s)"}
    assert rpc(strict_node, "eth_blockNumber")["result"] == "0x0"


def test_a_batchs_calls_share_one_budget(strict_node: NodeProcess) -> None:
    node = strict_node
    endless = {"jsonrpc": "2.0", "method": "eth_call", "params": [{"data": ENDLESS_LOOP}]}
    batch = [{**endless, "id": i} for i in range(5)]
    batch.append({"jsonrpc": "2.0", "id": 5, "method": "eth_chainId"})
    answers = {answer["id"]: answer for answer in post(node, batch)}
    assert [answers[i]["error"]["message"] for i in (0, 1)] == [
        "execution aborted (timeout = 0.5s)",
        answers[1]["error"]["message"],  # its time is what the batch had left: at most 0.5 s
    ]
    assert answers[1]["error"]["message"].startswith("execution aborted")
    for spent in (answers[i]["error"] for i in (2, 3, 4)):
        assert spent["code"] == codes.LIMIT_EXCEEDED
        assert "execution budget of 1 s is spent" in spent["message"]
    assert answers[5]["result"] == hex(44051)


def test_a_heavy_call_holds_up_neither_cheap_calls_nor_the_sealer(
    node_factory: Callable[..., NodeProcess], genesis: Path, accounts: list[LocalAccount]
) -> None:
    """Everything asked while a 10-second call runs is answered before it ends."""
    node = node_factory(genesis, "--rpc-gas-cap", str(10**9), "--rpc-call-timeout", "10")
    heavy: dict[str, Any] = {}

    def run_heavy() -> None:
        heavy.update(rpc(node, "eth_call", {"data": ENDLESS_LOOP}))

    thread = threading.Thread(target=run_heavy)
    thread.start()
    time.sleep(0.5)  # let it take the execution slot first
    cheap = [rpc(node, "eth_call", {"data": RETURN_TIMESTAMP}) for _ in range(5)]
    tx_hash = rpc(
        node,
        "eth_sendRawTransaction",
        "0x" + transfer(accounts[0], accounts[1].address, 1, 0).hex(),
    )["result"]
    while (receipt := rpc(node, "eth_getTransactionReceipt", tx_hash)["result"]) is None:
        time.sleep(0.01)
    balance = rpc(node, "eth_getBalance", accounts[1].address, "latest")["result"]
    still_running = thread.is_alive() and not heavy
    thread.join()
    assert still_running, "the cheap calls and the transaction waited for the heavy call"
    assert all("result" in answer for answer in cheap)
    assert receipt["status"] == "0x1"
    assert int(balance, 16) > 0
    assert heavy["error"]["message"] == "execution aborted (timeout = 10s)"


def test_the_slot_holder_steps_back_for_whoever_waits() -> None:
    """Unit level: a holder that offers its turn lets a waiter in, then carries on."""
    slot = ExecutionSlot(turn=0.0)
    holding, served = threading.Event(), threading.Event()
    offers = 0

    def holder() -> None:
        nonlocal offers
        with slot.hold() as turn:
            holding.set()
            while not served.is_set() and offers < 1_000_000:
                offers += 1
                slot.take_turns(turn)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait()
    with slot.hold():
        served.set()
    thread.join()
    assert served.is_set()
    assert offers < 1_000_000
    assert slot.waiting == 0

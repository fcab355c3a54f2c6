"""The committed contract artifacts: current with their sources, loadable, and deployable."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_tester.exceptions import TransactionFailed
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.logs import DISCARD
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.eth_tester.defaults import API_ENDPOINTS
from web3.types import RPCEndpoint, RPCResponse

from ledger.contracts import Artifact, ArtifactNotFoundError, load_artifact

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "contracts"
PROBE_TOO_LARGE = keccak(text="ProbeTooLarge(uint256,uint256)")[:4]
ERROR_STRING = keccak(text="Error(string)")[:4]
SHA256_HEX_LENGTH = 64


class _RevertedError(Exception):
    """Carries a revert's return data from an endpoint to :class:`RevertDataProvider`."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.data = data


def _revert_data(error: TransactionFailed) -> bytes:
    """Recover the raw revert data from the shapes eth-tester 0.13 reports it in."""
    arg = error.args[0] if error.args else b""
    if isinstance(arg, Exception):  # estimate_gas: eth.exceptions.Revert(b"...")
        arg = arg.args[0] if arg.args else b""
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str) and arg.startswith(("b'", 'b"')):  # call: str(b"...")
        value = ast.literal_eval(arg)
        if isinstance(value, bytes):
            return value
    # call has already decoded an Error(string) reason: encode it back.
    return ERROR_STRING + encode(["string"], [str(arg)])


def _reporting_reverts(delegator: Callable[..., Any]) -> Callable[..., Any]:
    def endpoint(tester: Any, params: Any) -> Any:
        try:
            return delegator(tester, params)
        except TransactionFailed as error:
            raise _RevertedError(_revert_data(error)) from error

    return endpoint


class RevertDataProvider(EthereumTesterProvider):
    """EthereumTesterProvider whose eth_call/eth_estimateGas reverts carry their data.

    Stock web3 7.16 turns every eth-tester revert into ``TransactionFailed`` with a string, so
    web3's ``ContractCustomError``/``ContractPanicError`` never appear. Real nodes (geth, anvil,
    Besu, ours) answer ``{"code": 3, "message": "execution reverted", "data": "0x..."}``, which
    web3's error formatters decode; this provider answers the same way.
    """

    def __init__(self) -> None:
        endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
        for name in ("call", "estimateGas"):
            endpoints["eth"][name] = _reporting_reverts(endpoints["eth"][name])
        super().__init__(api_endpoints=endpoints)

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            return super().make_request(method, params)
        except _RevertedError as reverted:
            message = "execution reverted"
            if reverted.data.startswith(ERROR_STRING):  # geth appends the reason
                message += ": " + decode(["string"], reverted.data[4:])[0]
            return {
                "id": self._current_request_id,
                "jsonrpc": "2.0",
                "error": {"code": 3, "message": message, "data": "0x" + reverted.data.hex()},
            }


@pytest.fixture(scope="module")
def w3() -> Web3:
    return Web3(RevertDataProvider())


@pytest.fixture(scope="module")
def probe_artifact() -> Artifact:
    return load_artifact("Probe", FIXTURES)


@pytest.fixture
def probe(w3: Web3, probe_artifact: Artifact) -> Contract:
    factory = w3.eth.contract(abi=probe_artifact.abi, bytecode=probe_artifact.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact())
    address = receipt["contractAddress"]
    assert address is not None
    return w3.eth.contract(address=address, abi=probe_artifact.abi)


@pytest.mark.skipif(
    not (ROOT / "contracts" / "node_modules" / "solc").is_dir(),
    reason="contracts/node_modules is missing (run: cd contracts && npm ci)",
)
def test_committed_artifacts_match_sources() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile_contracts.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_fixtures_load_with_code(probe_artifact: Artifact) -> None:
    for name in ("BenchToken", "Factory", "Probe"):
        artifact = load_artifact(name, FIXTURES)
        assert artifact.name == name
        assert artifact.bytecode
        assert artifact.deployed_bytecode
        assert len(artifact.source_hash) == SHA256_HEX_LENGTH
    assert {entry.get("name") for entry in probe_artifact.abi} >= {"increment", "ProbeTooLarge"}


def test_deployed_code_matches_artifact(
    w3: Web3, probe: Contract, probe_artifact: Artifact
) -> None:
    assert bytes(w3.eth.get_code(probe.address)) == probe_artifact.deployed_bytecode


def test_increment_emits_event(w3: Web3, probe: Contract) -> None:
    sender = w3.eth.accounts[0]
    step = 7
    receipt = w3.eth.wait_for_transaction_receipt(
        probe.functions.increment(step).transact({"from": sender})
    )
    assert receipt["status"] == 1
    (event,) = probe.events.Incremented().process_receipt(receipt)
    assert event["args"] == {"by": sender, "newCount": step, "step": step}
    assert probe.functions.count().call() == step


def test_increment_too_large_reverts_with_custom_error(probe: Contract) -> None:
    with pytest.raises(ContractCustomError) as raised:
        probe.functions.increment(5000).call()
    data = raised.value.data
    assert isinstance(data, str)
    assert bytes.fromhex(data.removeprefix("0x")).startswith(PROBE_TOO_LARGE)

    # transact() estimates gas first, which reverts the same way.
    with pytest.raises(ContractCustomError) as raised:
        probe.functions.increment(5000).transact()
    assert str(raised.value.data).startswith("0x" + PROBE_TOO_LARGE.hex())


def test_reason_and_panic_reverts(probe: Contract) -> None:
    with pytest.raises(ContractLogicError, match="probe: plain reason"):
        probe.functions.failWithReason().call()
    with pytest.raises(ContractPanicError):
        probe.functions.failWithPanic().call()


def _deploy(w3: Web3, name: str, *args: Any) -> Contract:
    artifact = load_artifact(name, FIXTURES)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact())
    address = receipt["contractAddress"]
    assert address is not None
    return w3.eth.contract(address=address, abi=artifact.abi)


def test_factory_creates_probe_and_collects_logs_of_internal_calls(w3: Web3) -> None:
    factory = _deploy(w3, "Factory")
    probe_abi = load_artifact("Probe", FIXTURES).abi
    salt, step = 42, 3
    expected = factory.functions.predict(salt).call()
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.functions.deployAndIncrement(salt, step).transact()
    )
    assert [log["address"] for log in receipt["logs"]] == [factory.address, expected]
    (deployed,) = factory.events.Deployed().process_receipt(receipt, errors=DISCARD)
    assert deployed["args"]["probe"] == expected
    child = w3.eth.contract(address=expected, abi=probe_abi)
    (incremented,) = child.events.Incremented().process_receipt(receipt, errors=DISCARD)
    assert incremented["args"]["by"] == factory.address
    assert child.functions.count().call() == step


def test_bench_token_distributes_whole_units(w3: Web3) -> None:
    supply, each = 1_000, 10
    token = _deploy(w3, "BenchToken", supply)
    recipients: list[str] = list(w3.eth.accounts[1:4])
    w3.eth.wait_for_transaction_receipt(token.functions.distribute(recipients, each).transact())
    assert token.functions.decimals().call() == 0
    assert [token.functions.balanceOf(a).call() for a in recipients] == [each] * len(recipients)
    remaining = supply - each * len(recipients)
    assert token.functions.balanceOf(w3.eth.accounts[0]).call() == remaining


def test_unknown_artifact_raises() -> None:
    with pytest.raises(ArtifactNotFoundError, match="NoSuchContract"):
        load_artifact("NoSuchContract", FIXTURES)
    with pytest.raises(LookupError):
        load_artifact("NoSuchContract")

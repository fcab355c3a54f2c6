"""The compatibility proof: the embedded node behaves like anvil for everything a dapp does.

Every scenario below drives one chain through web3.py exactly as an application would (sign
locally, send raw, wait for the receipt, read back) and returns an *observation*: plain JSON-like
data holding what a client can see -- return values, statuses, gasUsed, decoded events, log
indexes and topics, revert selectors and arguments, balances, storage words, code, which block
fields exist. Each scenario also asserts what it expects outright, so a chain that is wrong in
the same way as the other does not pass either.

``test_embedded_matches_anvil`` runs a scenario on the embedded node and then on anvil (both
started once for this module, same chain id, same funded accounts) and requires the two
observations to be equal. Whatever legitimately differs between two chains is normalized away
before the comparison: block numbers, hashes and timestamps (anvil mines one block per
transaction, the embedded node seals whatever has arrived), addresses (replaced by labels such as
``account3`` or ``probe``), and gas *estimates* (geth-style nodes may over-estimate by a margin,
anvil searches exactly; only gasUsed, which the EVM rules fix, is compared).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
import rlp
from eth_abi.abi import decode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.logs import DISCARD
from web3.types import BlockIdentifier, RPCEndpoint, TxData, TxParams, TxReceipt, Wei

from cityledger.testing.accounts import CHAIN_ID
from cityledger.testing.processes import AnvilProcess, NodeProcess
from cityledger.testing.web3tx import call_fn, send, send_with_gas, sign_with_gas
from ledger.contracts import Artifact, load_artifact

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"
PROBE_TOO_LARGE = keccak(text="ProbeTooLarge(uint256,uint256)")[:4]
ERROR_STRING = keccak(text="Error(string)")[:4]
PANIC = keccak(text="Panic(uint256)")[:4]
TRANSFER_TOPIC = keccak(text="Transfer(address,address,uint256)")
INCREMENTED_TOPIC = keccak(text="Incremented(address,uint256,uint256)")
PROBE_MAX_STEP = 1000

Observation = dict[str, Any]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The JSON-RPC fields every client may rely on (execution-apis), present on both chains.
BLOCK_FIELDS = _names(
    "baseFeePerGas blobGasUsed difficulty excessBlobGas extraData gasLimit gasUsed hash logsBloom "
    "miner mixHash nonce number parentBeaconBlockRoot parentHash receiptsRoot requestsHash "
    "sha3Uncles size stateRoot timestamp transactions transactionsRoot uncles withdrawals "
    "withdrawalsRoot"
)
TRANSACTION_FIELDS = _names(
    "accessList blockHash blockNumber chainId from gas gasPrice hash input maxFeePerGas "
    "maxPriorityFeePerGas nonce r s to transactionIndex type v value yParity"
)
RECEIPT_FIELDS = _names(
    "blockHash blockNumber contractAddress cumulativeGasUsed effectiveGasPrice from gasUsed logs "
    "logsBloom status to transactionHash transactionIndex type"
)
LOG_OBSERVED = ("address", "topics", "data", "logIndex", "transactionIndex")
LOG_FIELDS = _names(
    "address blockHash blockNumber data logIndex removed topics transactionHash transactionIndex"
)


def _artifact(name: str) -> Artifact:
    return load_artifact(name, FIXTURES)


def _create_address(sender: str, nonce: int) -> str:
    """The CREATE address of ``sender`` at ``nonce`` (yellow paper, eq. 86)."""
    return to_checksum_address(keccak(rlp.encode([HexBytes(sender), nonce]))[12:])


def _word(address: str) -> HexBytes:
    """An address as an indexed-event topic."""
    return HexBytes(bytes(12) + HexBytes(address))


def _missing(document: Mapping[str, Any], required: frozenset[str]) -> list[str]:
    return sorted(required - set(document))


@dataclasses.dataclass
class Target:
    """One chain under test with what scenarios need to drive it and to normalize results."""

    name: str
    w3: Web3
    accounts: list[LocalAccount]
    labels: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for index, account in enumerate(self.accounts):
            self.labels[account.address] = f"account{index}"

    def label(self, address: str, name: str) -> ChecksumAddress:
        checksummed = to_checksum_address(address)
        self.labels[checksummed] = name
        return checksummed

    def deploy(
        self, artifact_name: str, *args: Any, sender: int = 0, label: str
    ) -> tuple[Contract, TxReceipt]:
        artifact = _artifact(artifact_name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = send(
            self.w3,
            self.accounts[sender],
            {"data": factory.constructor(*args).data_in_transaction},
        )
        assert receipt["status"] == 1, receipt
        address = receipt["contractAddress"]
        assert address is not None
        self.label(address, label)
        return self.w3.eth.contract(address=address, abi=artifact.abi), receipt

    def transact(self, function: ContractFunction, sender: int = 0, value: int = 0) -> TxReceipt:
        if not value:
            return call_fn(self.w3, self.accounts[sender], function)
        account = self.accounts[sender]
        params: TxParams = {
            "from": account.address,
            "value": Wei(value),
            "maxFeePerGas": Wei(0),
            "maxPriorityFeePerGas": Wei(0),
        }
        tx = dict(function.build_transaction(params))
        del tx["from"]
        return send(self.w3, account, tx)

    def normalize(self, value: Any) -> Any:
        """JSON-like data with every known address replaced by its label."""
        if isinstance(value, Mapping):
            return {key: self.normalize(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.normalize(item) for item in value]
        if isinstance(value, bytes):
            return HexBytes(value).to_0x_hex()
        if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
            return self.labels.get(to_checksum_address(value), value)
        return value


Scenario = Callable[[Target], Observation]
SCENARIOS: dict[str, Scenario] = {}


def scenario(function: Scenario) -> Scenario:
    SCENARIOS[function.__name__] = function
    return function


def _revert(call: Callable[[], object]) -> Observation:
    """What web3.py raised for a reverting call: class, message and decoded data."""
    with pytest.raises(ContractLogicError) as raised:
        call()
    error = raised.value
    data = HexBytes(error.data) if isinstance(error.data, str) and error.data != "no data" else b""
    observed: Observation = {"error": type(error).__name__, "message": error.message}
    if data[:4] == PROBE_TOO_LARGE:
        observed["ProbeTooLarge"] = list(decode(["uint256", "uint256"], data[4:]))
    elif data[:4] == ERROR_STRING:
        observed["Error"] = decode(["string"], data[4:])[0]
    elif data[:4] == PANIC:
        observed["Panic"] = decode(["uint256"], data[4:])[0]
    return observed


def _not_found(read: Callable[[], object]) -> str:
    """The exception web3.py raises for something the chain does not have."""
    with pytest.raises((BlockNotFound, TransactionNotFound)) as raised:
        read()
    return type(raised.value).__name__


def _receipt(receipt: TxReceipt) -> Observation:
    """The block-independent part of a receipt."""
    return {
        "status": receipt["status"],
        "type": receipt["type"],
        "gasUsed": receipt["gasUsed"],
        "effectiveGasPrice": receipt["effectiveGasPrice"],
        "from": receipt["from"],
        "to": receipt["to"],
        "contractAddress": receipt["contractAddress"],
        "logs": [
            {
                key: dict(log)[key]
                for key in ("address", "topics", "data", "logIndex", "transactionIndex")
            }
            for log in receipt["logs"]
        ],
        "missingFields": _missing(receipt, RECEIPT_FIELDS),
    }


# -- scenarios ------------------------------------------------------------------------------


@scenario
def deploy_probe(t: Target) -> Observation:
    sender = t.accounts[0].address
    nonce = t.w3.eth.get_transaction_count(sender)
    probe, receipt = t.deploy("Probe", label="probe")
    code = bytes(t.w3.eth.get_code(probe.address))
    assert receipt["contractAddress"] == _create_address(sender, nonce)
    assert code == _artifact("Probe").deployed_bytecode
    assert t.w3.eth.get_code(probe.address, receipt["blockNumber"] - 1) == b""
    assert t.w3.eth.get_transaction_count(sender) == nonce + 1
    return {
        "receipt": _receipt(receipt),
        "createAddress": receipt["contractAddress"] == _create_address(sender, nonce),
        "codeIsDeployedBytecode": code == _artifact("Probe").deployed_bytecode,
        "codeSize": len(code),
        "codeBefore": t.w3.eth.get_code(probe.address, receipt["blockNumber"] - 1),
        "count": probe.functions.count().call(),
        "maxStep": probe.functions.MAX_STEP().call(),
    }


@scenario
def increment_emits_event(t: Target) -> Observation:
    probe, _ = t.deploy("Probe", label="probe")
    sender = t.accounts[1].address
    returned = probe.functions.increment(7).call({"from": sender})
    receipt = t.transact(probe.functions.increment(7), sender=1)
    (event,) = probe.events.Incremented().process_receipt(receipt)
    assert receipt["status"] == 1
    assert returned == 7
    assert dict(event["args"]) == {"by": sender, "newCount": 7, "step": 7}
    assert receipt["logs"][0]["topics"] == [
        INCREMENTED_TOPIC,
        _word(sender),
        HexBytes((7).to_bytes(32, "big")),
    ]
    second = t.transact(probe.functions.increment(PROBE_MAX_STEP), sender=1)
    return {
        "returned": returned,
        "receipt": _receipt(receipt),
        "event": {
            "event": event["event"],
            "args": dict(event["args"]),
            "logIndex": event["logIndex"],
        },
        "secondGasUsed": second["gasUsed"],
        "count": probe.functions.count().call(),
        "echo": probe.functions.echo(b"\x00\x01cityledger\xff").call(),
        "echoEmpty": probe.functions.echo(b"").call(),
    }


@scenario
def reverts(t: Target) -> Observation:
    probe, _ = t.deploy("Probe", label="probe")
    sender = t.accounts[2]
    too_large = _revert(lambda: probe.functions.increment(5000).call({"from": sender.address}))
    assert too_large["error"] == ContractCustomError.__name__
    assert too_large["ProbeTooLarge"] == [5000, PROBE_MAX_STEP]
    # Sending estimates gas first, and the estimate reverts the same way.
    estimated = _revert(lambda: t.transact(probe.functions.increment(5000), sender=2))
    reason = _revert(lambda: probe.functions.failWithReason().call())
    assert reason["error"] == ContractLogicError.__name__
    assert "probe: plain reason" in reason["message"]
    panic = _revert(lambda: probe.functions.failWithPanic().call())
    assert panic["error"] == ContractPanicError.__name__
    assert panic["Panic"] == 0x12
    # Probe has no receive function: plain value is refused without revert data.
    no_receive = _revert(
        lambda: t.w3.eth.call({"from": sender.address, "to": probe.address, "value": Wei(1)})
    )
    # Mined anyway (fixed gas, no estimate): a failed receipt, no logs, no state change.
    mined = [
        send_with_gas(t.w3, sender, {"to": probe.address, "data": data}, gas=100_000)
        for data in (
            probe.functions.increment(5000)._encode_transaction_data(),
            probe.functions.failWithReason()._encode_transaction_data(),
            probe.functions.failWithPanic()._encode_transaction_data(),
        )
    ]
    assert [r["status"] for r in mined] == [0, 0, 0]
    return {
        "tooLarge": too_large,
        "estimated": estimated,
        "reason": reason,
        "panic": panic,
        "noReceive": {"error": no_receive["error"], "message": no_receive["message"]},
        "mined": [_receipt(r) for r in mined],
        "count": probe.functions.count().call(),
    }


@scenario
def value_and_balances(t: Target) -> Observation:
    probe, _ = t.deploy("Probe", label="probe")
    sender = t.accounts[3]
    recipient = t.label(to_checksum_address(keccak(text="compat-recipient")[:20]), "recipient")
    balance = t.w3.eth.get_balance
    before = (balance(sender.address), balance(recipient), balance(probe.address))
    transfer = send(t.w3, sender, {"to": recipient, "value": 12_345})
    deposit = t.transact(probe.functions.deposit(), sender=3, value=777)
    after = (balance(sender.address), balance(recipient), balance(probe.address))
    (deposited,) = probe.events.Deposited().process_receipt(deposit)
    deltas = [b - a for a, b in zip(before, after, strict=True)]
    assert deltas == [-12_345 - 777, 12_345, 777]  # gas is free: only value moves
    return {
        "transfer": _receipt(transfer),
        "deposit": _receipt(deposit),
        "deposited": dict(deposited["args"]),
        "deltas": deltas,
        "recipientAtTransferBlock": balance(recipient, transfer["blockNumber"]) - before[1],
        "recipientBeforeTransfer": balance(recipient, transfer["blockNumber"] - 1) - before[1],
    }


@scenario
def storage_slots(t: Target) -> Observation:
    probe, _ = t.deploy("Probe", label="probe")
    value = 0xDEADBEEF_CAFEBABE
    receipts = [
        t.transact(probe.functions.setSlot(value), sender=4),
        t.transact(probe.functions.increment(3), sender=4),
    ]
    slots = [t.w3.eth.get_storage_at(probe.address, i) for i in range(3)]
    assert int.from_bytes(slots[1], "big") == value == probe.functions.stored().call()
    assert int.from_bytes(slots[0], "big") == 3
    # Setting a slot back to zero is refunded: gasUsed is below what the transaction needs.
    cleared = t.transact(probe.functions.setSlot(0), sender=4)
    return {
        "gasUsed": [r["gasUsed"] for r in receipts],
        "slots": slots,
        "clearedGasUsed": cleared["gasUsed"],
        "clearedSlot": t.w3.eth.get_storage_at(probe.address, 1),
        "slotAtSetBlock": t.w3.eth.get_storage_at(probe.address, 1, receipts[0]["blockNumber"]),
    }


@scenario
def factory_logs_from_internal_calls(t: Target) -> Observation:
    factory, _ = t.deploy("Factory", label="factory")
    salt, step = 42, 3
    predicted = t.label(factory.functions.predict(salt).call(), "createdProbe")
    receipt = t.transact(factory.functions.deployAndIncrement(salt, step), sender=5)
    (deployed,) = factory.events.Deployed().process_receipt(receipt, errors=DISCARD)
    child = t.w3.eth.contract(address=predicted, abi=_artifact("Probe").abi)
    (incremented,) = child.events.Incremented().process_receipt(receipt, errors=DISCARD)
    assert [log["address"] for log in receipt["logs"]] == [factory.address, predicted]
    assert [log["logIndex"] for log in receipt["logs"]] == [0, 1]
    assert deployed["args"]["probe"] == predicted
    assert incremented["args"]["by"] == factory.address
    assert bytes(t.w3.eth.get_code(predicted)) == _artifact("Probe").deployed_bytecode
    # The salt is spent: CREATE2 to the same address fails and `new` reverts without data.
    again = _revert(lambda: factory.functions.deploy(salt).call())
    return {
        "receipt": _receipt(receipt),
        "deployed": dict(deployed["args"]),
        "incremented": dict(incremented["args"]),
        "childCount": child.functions.count().call(),
        "childCodeSize": len(t.w3.eth.get_code(predicted)),
        "saltReused": {"error": again["error"], "message": again["message"]},
    }


@scenario
def token_logs_and_filters(t: Target) -> Observation:
    supply, each = 1_000, 10
    token, deployed = t.deploy("BenchToken", supply, sender=6, label="token")
    holders = [a.address for a in t.accounts[1:6]]
    distribute = t.transact(token.functions.distribute(holders, each), sender=6)
    first = t.transact(token.functions.transfer(holders[1], 3), sender=1)
    second = t.transact(token.functions.transfer(holders[2], 4), sender=2)
    start, end = deployed["blockNumber"], second["blockNumber"]

    def logs(**query: Any) -> list[Observation]:
        found = t.w3.eth.get_logs(query)  # type: ignore[arg-type]
        for entry in found:
            assert not _missing(entry, LOG_FIELDS), entry
        decoded = [token.events.Transfer().process_log(entry) for entry in found]
        return [
            {**dict(event["args"]), "logIndex": event["logIndex"], "tx": event["transactionHash"]}
            for event in decoded
        ]

    tx_names = {
        r["transactionHash"]: name
        for name, r in (
            ("deploy", deployed),
            ("distribute", distribute),
            ("first", first),
            ("second", second),
        )
    }
    everything = logs(address=token.address, fromBlock=start, toBlock="latest")
    assert len(everything) == 1 + len(holders) + 2
    assert [e["logIndex"] for e in everything if e["tx"] == distribute["transactionHash"]] == list(
        range(len(holders))
    )
    queries: dict[str, dict[str, Any]] = {
        "all": {"address": token.address, "fromBlock": start, "toBlock": "latest"},
        "earliest": {"address": token.address, "fromBlock": "earliest"},
        "addressList": {"address": [token.address, holders[0]], "fromBlock": start},
        "toEitherOfTwo": {
            "address": token.address,
            "fromBlock": start,
            "topics": [TRANSFER_TOPIC, None, [_word(holders[1]), _word(holders[2])]],
        },
        "fromHolder0": {"fromBlock": start, "topics": [None, _word(holders[0])]},
        "fromHolder1": {
            "address": token.address,
            "fromBlock": start,
            "topics": [None, _word(holders[1])],
        },
        "mint": {
            "fromBlock": start,
            "toBlock": end,
            "topics": [TRANSFER_TOPIC, _word("0x" + "00" * 20)],
        },
        "range": {
            "address": token.address,
            "fromBlock": distribute["blockNumber"],
            "toBlock": first["blockNumber"],
        },
        "lastBlock": {"address": token.address, "fromBlock": end, "toBlock": end},
        "blockHash": {"address": token.address, "blockHash": distribute["blockHash"]},
        "otherAddress": {"address": holders[0], "fromBlock": start},
        "otherTopic": {"fromBlock": start, "topics": [INCREMENTED_TOPIC]},
    }
    # Not compared: more topic positions than a log has ([Transfer, null, null, null]). geth and
    # the embedded node match nothing (geth's filterLogs), anvil ignores trailing nulls.
    observed = {
        name: [{**e, "tx": tx_names.get(e["tx"], "other")} for e in logs(**query)]
        for name, query in queries.items()
    }
    return {
        "gasUsed": [r["gasUsed"] for r in (deployed, distribute, first, second)],
        "distributeLogs": _receipt(distribute)["logs"],
        "balances": [token.functions.balanceOf(h).call() for h in holders],
        "logs": observed,
    }


@scenario
def blocks_and_transactions(t: Target) -> Observation:
    probe, _ = t.deploy("Probe", label="probe")
    receipt = send_with_gas(
        t.w3,
        t.accounts[7],
        {"to": probe.address, "data": probe.functions.increment(9)._encode_transaction_data()},
        gas=90_000,
    )
    number, block_hash = receipt["blockNumber"], receipt["blockHash"]
    by_number = t.w3.eth.get_block(number, full_transactions=True)
    by_hash = t.w3.eth.get_block(block_hash, full_transactions=True)
    hashes_only = t.w3.eth.get_block(block_hash)
    parent = t.w3.eth.get_block(number - 1)
    block_receipts = t.w3.eth.get_block_receipts(number)
    (mined,) = [
        tx
        for tx in cast(list[TxData], by_number["transactions"])
        if tx["hash"] == receipt["transactionHash"]
    ]
    tx = t.w3.eth.get_transaction(receipt["transactionHash"])
    assert by_number == by_hash
    assert by_number["hash"] == block_hash
    assert by_number["number"] == number
    assert by_number["parentHash"] == parent["hash"]
    assert hashes_only["transactions"] == [r["transactionHash"] for r in block_receipts]
    assert by_number["gasUsed"] == sum(r["gasUsed"] for r in block_receipts)
    assert dict(mined) == dict(tx)
    assert dict(t.w3.eth.get_transaction_by_block(number, receipt["transactionIndex"])) == dict(tx)
    assert tx["blockHash"] == block_hash
    assert tx["blockNumber"] == number
    return {
        "missingBlockFields": _missing(by_number, BLOCK_FIELDS),
        "missingTransactionFields": _missing(tx, TRANSACTION_FIELDS),
        "blockConstants": {
            key: dict(by_number)[key]
            for key in ("baseFeePerGas", "difficulty", "uncles", "withdrawals", "blobGasUsed")
        },
        "transactionsInBlock": len(hashes_only["transactions"]),
        "transactionCounts": [
            t.w3.eth.get_block_transaction_count(number),
            t.w3.eth.get_block_transaction_count(block_hash),
        ],
        "transaction": {
            key: dict(tx)[key]
            for key in (
                "type",
                "from",
                "to",
                "value",
                "input",
                "gas",
                "maxFeePerGas",
                "maxPriorityFeePerGas",
                "gasPrice",
                "chainId",
                "accessList",
            )
        },
        "unknown": [
            _not_found(lambda: t.w3.eth.get_block(number + 1000)),
            _not_found(lambda: t.w3.eth.get_block(HexBytes(b"\x11" * 32))),
            _not_found(lambda: t.w3.eth.get_transaction(HexBytes(b"\x11" * 32))),
            _not_found(lambda: t.w3.eth.get_transaction_receipt(HexBytes(b"\x11" * 32))),
        ],
    }


@scenario
def fee_history(t: Target) -> Observation:
    probe, _ = t.deploy("Probe", label="probe")
    for step in (1, 2, 3):
        t.transact(probe.functions.increment(step), sender=8)
    history = t.w3.eth.fee_history(4, "latest", [25.0, 75.0])
    newest = t.w3.eth.block_number
    blocks = [t.w3.eth.get_block(n) for n in range(history["oldestBlock"], newest + 1)]
    ratios_match = [
        round(ratio * block["gasLimit"]) == block["gasUsed"]
        for ratio, block in zip(history["gasUsedRatio"], blocks, strict=True)
    ]
    assert all(ratios_match)
    return {
        "blocks": newest - history["oldestBlock"] + 1,
        "baseFeePerGas": history["baseFeePerGas"],
        "reward": history["reward"],
        "ratiosMatchBlocks": ratios_match,
        # Not compared: eth_gasPrice and eth_maxPriorityFeePerGas, fee *suggestions* (0 on the
        # free-gas embedded node; anvil suggests a 1 gwei tip even with --gas-price 0).
    }


@scenario
def historical_state(t: Target) -> Observation:
    probe, deployed = t.deploy("Probe", label="probe")
    first = t.transact(probe.functions.setSlot(11), sender=9)
    second = t.transact(probe.functions.setSlot(22), sender=9)
    data = probe.functions.stored()._encode_transaction_data()
    before = deployed["blockNumber"] - 1
    points: dict[str, BlockIdentifier] = {
        "deployed": deployed["blockNumber"],
        "first": first["blockNumber"],
        "second": second["blockNumber"],
        "latest": "latest",
    }
    stored = {
        name: {
            "call": probe.functions.stored().call(block_identifier=block),
            "slot": t.w3.eth.get_storage_at(probe.address, 1, block),
            "codeSize": len(t.w3.eth.get_code(probe.address, block)),
        }
        for name, block in points.items()
    }
    assert [s["call"] for s in stored.values()] == [0, 11, 22, 22]
    # Before the deployment there is no code: the call returns nothing rather than reverting.
    stored["beforeDeploy"] = {
        "call": t.w3.eth.call({"to": probe.address, "data": data}, before),
        "codeSize": len(t.w3.eth.get_code(probe.address, before)),
    }
    eip1898 = [
        t.w3.provider.make_request(
            RPCEndpoint("eth_call"), [{"to": probe.address, "data": data}, ref]
        )["result"]
        for ref in (
            {"blockNumber": hex(first["blockNumber"])},
            {"blockHash": first["blockHash"].to_0x_hex()},
        )
    ]
    with pytest.raises(Web3RPCError):
        probe.functions.stored().call(block_identifier=t.w3.eth.block_number + 1000)
    return {"stored": stored, "eip1898": eip1898}


@scenario
def block_hash_as_block_parameter(t: Target) -> Observation:
    """web3.py sends ``block_identifier=<hash>`` as a bare 32-byte hash string, which geth and
    anvil accept wherever a block number is (geth's BlockNumberOrHash)."""
    probe, _ = t.deploy("Probe", label="probe")
    first = t.transact(probe.functions.setSlot(11), sender=9)
    t.transact(probe.functions.setSlot(22), sender=9)
    at = first["blockHash"]
    return {
        "call": probe.functions.stored().call(block_identifier=at),
        "slot": t.w3.eth.get_storage_at(probe.address, 1, at),
        "balance": t.w3.eth.get_balance(probe.address, at),
        "codeSize": len(t.w3.eth.get_code(probe.address, at)),
    }


@scenario
def estimate_gas_is_enough(t: Target) -> Observation:
    """Sending with exactly eth_estimateGas succeeds, whatever makes the need exceed gasUsed."""
    probe, _ = t.deploy("Probe", label="probe")
    factory, _ = t.deploy("Factory", label="factory")
    sender = t.accounts[0]
    t.transact(probe.functions.setSlot(5))
    token = t.w3.eth.contract(
        abi=_artifact("BenchToken").abi, bytecode=_artifact("BenchToken").bytecode
    )
    cases: dict[str, dict[str, Any]] = {
        "valueTransfer": {"to": t.accounts[1].address, "value": 1},
        "increment": {
            "to": probe.address,
            "data": probe.functions.increment(1)._encode_transaction_data(),
        },
        # refund: clearing the slot needs more gas than it ends up using
        "refund": {
            "to": probe.address,
            "data": probe.functions.setSlot(0)._encode_transaction_data(),
        },
        # 63/64 rule: the CREATE2 and the inner call only get part of the remaining gas
        "create2AndCall": {
            "to": factory.address,
            "data": factory.functions.deployAndIncrement(7, 3)._encode_transaction_data(),
        },
        "deploy": {"data": token.constructor(100).data_in_transaction},
        "deposit": {
            "to": probe.address,
            "value": 5,
            "data": probe.functions.deposit()._encode_transaction_data(),
        },
    }
    observed: dict[str, Observation] = {}
    for name, tx in cases.items():
        estimate = t.w3.eth.estimate_gas({**tx, "from": sender.address})  # type: ignore[typeddict-item]
        receipt = send_with_gas(t.w3, sender, tx, gas=estimate)
        assert receipt["status"] == 1, (name, estimate, receipt)
        assert receipt["gasUsed"] <= estimate
        observed[name] = {"status": receipt["status"], "gasUsed": receipt["gasUsed"]}
    return observed


@scenario
def calldata_floor(t: Target) -> Observation:
    """EIP-7623 (Prague): calldata-heavy transactions pay at least 10 gas per calldata token."""
    probe, _ = t.deploy("Probe", label="probe")
    sender = t.accounts[0]
    tx = {
        "to": probe.address,
        "data": probe.functions.echo(b"\xab" * 2000)._encode_transaction_data(),
    }
    estimate = t.w3.eth.estimate_gas({**tx, "from": sender.address})  # type: ignore[typeddict-item]
    receipt = send_with_gas(t.w3, sender, tx, gas=estimate)
    assert receipt["status"] == 1
    assert receipt["gasUsed"] <= estimate, f"estimate {estimate} < gasUsed {receipt['gasUsed']}"
    return {"gasUsed": receipt["gasUsed"], "status": receipt["status"]}


@contextlib.contextmanager
def _one_block(t: Target) -> Iterator[None]:
    """Anvil mines one block per transaction: pause its automine so that a burst shares a block.
    The embedded node needs no help: it seals whatever arrived while it sealed the last block."""
    if t.name != "anvil":
        yield
        return
    t.w3.provider.make_request(RPCEndpoint("evm_setAutomine"), [False])
    try:
        yield
    finally:
        t.w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        t.w3.provider.make_request(RPCEndpoint("evm_setAutomine"), [True])


@scenario
def burst_of_transactions(t: Target) -> Observation:
    """Many senders at once: blocks hold several transactions, log indexes are block-wide."""
    probe, _ = t.deploy("Probe", label="probe")
    senders = t.accounts[1:6]
    data = probe.functions.increment(2)._encode_transaction_data()
    raws = []
    for account in senders:
        nonce = t.w3.eth.get_transaction_count(account.address, "pending")
        raws += [
            sign_with_gas(t.w3, account, {"to": probe.address, "data": data}, gas=80_000, nonce=n)
            for n in (nonce, nonce + 1)
        ]
    with _one_block(t):
        hashes = [t.w3.eth.send_raw_transaction(raw) for raw in raws]
    receipts = [
        t.w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.02) for h in hashes
    ]
    if t.name == "anvil":
        assert len({r["blockNumber"] for r in receipts}) == 1
    consistent = []
    for number in sorted({r["blockNumber"] for r in receipts}):
        in_block = t.w3.eth.get_block_receipts(number)
        running, log_index = 0, 0
        for position, r in enumerate(in_block):
            running += r["gasUsed"]
            consistent.append(r["transactionIndex"] == position)
            consistent.append(r["cumulativeGasUsed"] == running)
            for log in r["logs"]:
                consistent.append(log["logIndex"] == log_index)
                log_index += 1
        block_logs = t.w3.eth.get_logs({"blockHash": in_block[0]["blockHash"]})
        consistent.append(
            [(x["transactionHash"], x["logIndex"]) for x in block_logs]
            == [(x["transactionHash"], x["logIndex"]) for r in in_block for x in r["logs"]]
        )
    assert all(consistent)
    return {
        "statuses": [r["status"] for r in receipts],
        "gasUsed": sorted(r["gasUsed"] for r in receipts),
        "consistent": all(consistent),
        "count": probe.functions.count().call(),
    }


# -- the comparison -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def targets(
    embedded_node: NodeProcess, anvil: AnvilProcess, accounts: list[LocalAccount]
) -> dict[str, Target]:
    found = {}
    for name, process in (("embedded", embedded_node), ("anvil", anvil)):
        w3 = Web3(Web3.HTTPProvider(process.url, request_kwargs={"timeout": 30}))
        assert w3.eth.chain_id == CHAIN_ID
        found[name] = Target(name, w3, accounts)
    return found


def _observe(t: Target, name: str) -> Observation:
    try:
        observed = SCENARIOS[name](t)
    except AssertionError as exc:
        raise AssertionError(f"scenario {name} on {t.name}: {exc}") from exc
    normalized: Observation = t.normalize(observed)
    return normalized


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_embedded_matches_anvil(targets: dict[str, Target], name: str) -> None:
    embedded = _observe(targets["embedded"], name)
    on_anvil = _observe(targets["anvil"], name)
    assert embedded == on_anvil


def test_gas_limit_below_calldata_floor_is_refused(targets: dict[str, Target]) -> None:
    """Embedded node only: anvil takes such a transaction into its pool and never mines it."""
    t = targets["embedded"]
    probe, _ = t.deploy("Probe", label="probe")
    data = probe.functions.echo(b"\xab" * 2000)._encode_transaction_data()
    # 21000 + 16 x calldata bytes covers the intrinsic gas; the floor is 21000 + 40 per byte.
    raw = sign_with_gas(t.w3, t.accounts[0], {"to": probe.address, "data": data}, gas=60_000)
    with pytest.raises(Web3RPCError, match="gas"):
        t.w3.eth.send_raw_transaction(raw)

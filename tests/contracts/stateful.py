"""Stateful test of the city's contracts: hypothesis drives random sequences of register / freeze /
unfreeze / recover / mint / redeem (burn) / transfer / approve / transferFrom / pause / unpause
against the REAL contracts on the embedded node, keeps a Python model of every account and every
allowance, and after every step checks the chain against the model.

Checked after every step (one JSON-RPC batch of storage reads):

* totalSupply == totalMinted - totalBurned == the model's minted - burned;
* totalSupply == the balances of every account ever touched (this example's accounts, read now,
  plus every earlier example's, whose final balances were read back through the ABI when that
  example ended; the last test re-reads them all through ``balanceOf``);
* every balance, registry status, the pause flag and registeredCount equal the model's;
* the allowance the step approved or spent equals the model's (spenders must be active: a frozen,
  retired or unregistered spender is refused with CityTokenSpenderNotActive, whatever it holds);
* the step's deposit or settlement reference is marked used on chain iff the model used it.

Every step is one mined transaction sent WITHOUT a preflight simulation (fixed gas, see
``FixedGasChain``): a refused operation really lands in a block and fails, its custom error is
recovered by replaying it at the parent block, and it must be exactly the error the model predicts
(frozen, unregistered, retired, paused, reference reused, over the limit or the balance, wrong
caller...), while the invariants show that it moved nothing. A successful one must emit exactly the
model's events, in order, and nothing else.

One city is deployed per part; each hypothesis example uses fresh accounts (keys derived from a
counter, allowlisted on the node in chunks through its admin API), so examples are independent
without redeploying.

The run is split in PARTS parts, each a test module of its own (test_stateful_part1.py, ...) with
its own node and city and its share of the steps, so that ``make test`` (pytest-xdist,
``--dist loadfile``: a module runs whole in one worker) runs the parts on different workers at
once; see ``part``. Profiles (the total over all parts): CI runs >= 10,000 steps;
``CITYLEDGER_DEEP=1`` runs >= 100,000; ``CITYLEDGER_STATEFUL_STEPS=N`` runs >= N (see
docs/testing.md).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, cast

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from cityledger.testing.accounts import write_genesis
from cityledger.testing.city import TestCity, deploy_test_city
from cityledger.testing.processes import NodeProcess, free_port
from ledger.chain import Chain
from ledger.city import City
from ledger.contracts.base import city_artifact
from ledger.exceptions import ContractRevertError, TransactionFailedError, TransactionRefusedError
from ledger.types import AccountKind, AccountStatus, reference, reference_text
from tests.strategies import (
    AmountMode,
    RefMode,
    account_kinds,
    amount_for,
    amount_modes,
    amount_seeds,
    credential_hashes,
    districts,
    mint_amounts,
    reference_modes,
)

DEEP = os.environ.get("CITYLEDGER_DEEP", "") not in ("", "0")
STEPS_PER_EXAMPLE = 50
TARGET_STEPS = int(os.environ.get("CITYLEDGER_STATEFUL_STEPS") or (100_000 if DEEP else 10_000))
"""Steps to run in total over all parts (at least); each example runs STEPS_PER_EXAMPLE of them."""
PARTS = 2
"""How many test modules share the steps: one per pytest-xdist worker of ``make test``."""
PART_STEPS = math.ceil(TARGET_STEPS / PARTS)
COVERAGE_FROM = 1_000
"""A part this long must see every rule both succeed and be refused; a shorter one (a quick run
with CITYLEDGER_STATEFUL_STEPS) checks the invariants and the audit only."""
MAX_PEOPLE = 10
"""Accounts one example may create (registrations and recoveries then reuse them)."""
FIXED_GAS = 1_000_000
MINT_LIMIT = 1_000_000
"""The test city's mint limit (cityledger/testing/city.py), checked on chain at start-up."""
ADMIN_TOKEN = "stateful-test-admin-token"
ZERO = "0x" + "00" * 20
RULES_WITH_TWO_SIDES = (
    "register",
    "freeze",
    "unfreeze",
    "recover",
    "mint",
    "redeem",
    "transfer",
    "transfer_from",
)
"""The rules a run must see both succeed and be refused (approvals are never refused here)."""
UNLIMITED = 2**256 - 1
"""An allowance ERC-20 never decreases."""
STATUS_WORDS = {
    AccountStatus.NONE: "not registered",
    AccountStatus.ACTIVE: "active",
    AccountStatus.FROZEN: "frozen",
    AccountStatus.RETIRED: "retired",
}
"""How ledger.contracts.errors names a registry status in CityTokenSpenderNotActive."""

# -- fixed-gas sending ----------------------------------------------------------------------------


class FixedGasChain(Chain):
    """``Chain`` whose ``transact`` skips the preflight ``eth_call`` and ``eth_estimateGas``.

    The ledger wrappers call ``chain.transact``; here it signs with a locally tracked nonce and a
    fixed gas limit, sends, polls for the receipt, and for a failed transaction replays the call
    at the parent block (one transaction per block on this node) to raise the same domain
    exception ``Chain`` would. Measured on the embedded node (2 cores): a token transfer takes
    ~20 ms this way against ~95 ms through ``Chain.transact`` (eth_call + eth_estimateGas + fee
    and nonce reads + receipt polling every 20 ms), so the run is dominated by sealing, not by
    the client.
    """

    def __init__(self, rpc_url: str) -> None:
        super().__init__(rpc_url)
        self.http = httpx.Client(timeout=30)
        self._next: dict[str, int] = {}

    def rpc(self, method: str, *params: object) -> Any:
        answer = self.http.post(
            self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def rpc_batch(self, calls: Sequence[tuple[str, Sequence[object]]]) -> list[Any]:
        body = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": list(params)}
            for i, (method, params) in enumerate(calls)
        ]
        answers = {a["id"]: a for a in self.http.post(self.rpc_url, json=body).json()}
        failed = [a["error"] for a in answers.values() if "error" in a]
        if failed:
            raise RuntimeError(f"batch failed: {failed[:3]}")
        return [answers[i]["result"] for i in range(len(calls))]

    def transact(
        self,
        signer: LocalAccount,
        function: ContractFunction | None = None,
        *,
        to: str | None = None,
        value: int = 0,
        data: bytes = b"",
        gas: int | None = None,
    ) -> TxReceipt:
        if function is not None:
            to, payload = function.address, function._encode_transaction_data()
        else:
            payload = "0x" + data.hex()
        address = signer.address
        nonce = self._next.get(address)
        if nonce is None:
            nonce = int(self.rpc("eth_getTransactionCount", address, "pending"), 16)
        tx = {
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": to,
            "data": payload,
            "value": value,
            "gas": gas or FIXED_GAS,
            "maxFeePerGas": 0,
            "maxPriorityFeePerGas": 0,
        }
        raw = signer.sign_transaction(tx).raw_transaction
        try:
            tx_hash = self.rpc("eth_sendRawTransaction", "0x" + raw.hex())
        except RuntimeError as exc:
            self._next.pop(address, None)
            raise TransactionRefusedError(str(exc)) from exc
        self._next[address] = nonce + 1
        receipt = self._receipt(tx_hash)
        if receipt["status"] == 1:
            return cast(TxReceipt, receipt)
        raise self._replayed_failure(address, to, payload, receipt["blockNumber"])

    def _receipt(self, tx_hash: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while True:
            found = self.rpc("eth_getTransactionReceipt", tx_hash)
            if found is not None:
                return {
                    "status": int(found["status"], 16),
                    "blockNumber": int(found["blockNumber"], 16),
                    "gasUsed": int(found["gasUsed"], 16),
                    "transactionHash": HexBytes(found["transactionHash"]),
                    "logs": [
                        (
                            log["address"].lower(),
                            [bytes.fromhex(t[2:]) for t in log["topics"]],
                            bytes.fromhex(log["data"][2:]),
                        )
                        for log in found["logs"]
                    ],
                }
            if time.monotonic() > deadline:
                raise TransactionFailedError(f"no receipt for {tx_hash} after 30 s")
            time.sleep(0.001)

    def _replayed_failure(self, sender: str, to: str | None, data: str, block: int) -> Exception:
        call = {"from": sender, "to": to, "data": data, "gas": hex(FIXED_GAS)}
        answer = self.http.post(
            self.rpc_url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "eth_call",
                "params": [call, hex(block - 1)],
            },
        ).json()
        error = answer.get("error")
        if error is None:
            return TransactionFailedError(f"failed in block {block}, but its replay succeeds")
        revert = error.get("data")
        if not isinstance(revert, str):
            return TransactionFailedError(f"failed in block {block}: {error.get('message')}")
        return self.errors.exception(bytes.fromhex(revert[2:]))


# -- accounts, storage layout, the global ledger --------------------------------------------------


class AccountPool:
    """Fresh keys derived from a counter, allowlisted on the node a chunk at a time."""

    CHUNK = 256

    def __init__(self, chain: FixedGasChain, label: str) -> None:
        self.chain, self.label = chain, label
        self._ready: list[LocalAccount] = []
        self._counter = itertools.count()

    def take(self) -> LocalAccount:
        if not self._ready:
            fresh: list[LocalAccount] = [
                Account.from_key(keccak(text=f"{self.label}-{next(self._counter)}"))
                for _ in range(self.CHUNK)
            ]
            answer = self.chain.http.post(
                self.chain.rpc_url,
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "perm_addAccountsToAllowlist",
                    "params": [[a.address for a in fresh]],
                },
            ).json()
            assert answer.get("result") == "Success", answer
            self._ready = fresh[::-1]
        return self._ready.pop()


def word(value: int | str | bytes) -> bytes:
    """One 32-byte ABI word: an integer, an address or a bytes32."""
    if isinstance(value, bytes):
        assert len(value) == 32
        return value
    if isinstance(value, str):
        return bytes(12) + bytes.fromhex(value[2:])
    return value.to_bytes(32, "big")


def mapping_slot(key: int | str | bytes, slot: int) -> str:
    return "0x" + keccak(word(key) + word(slot)).hex()


def allowance_slot(owner: str, spender: str) -> str:
    """ERC20._allowances[owner][spender]."""
    inner = keccak(word(owner) + word(LAYOUT.allowances))
    return "0x" + keccak(word(spender) + inner).hex()


@dataclass(frozen=True)
class Layout:
    """Where CityToken and ResidentRegistry keep what the invariants read (checked at start-up
    against the ABI getters, and at the end of every example through them again)."""

    balances: int = 0  # ERC20._balances
    allowances: int = 1  # ERC20._allowances
    total_supply: int = 2  # ERC20._totalSupply
    paused_slot: int = 8  # AccessManaged._authority, _consumingSchedule, Pausable._paused
    paused_byte: int = 21  # counted from the low end of the word
    total_minted: int = 10
    total_burned: int = 11
    deposit_refs: int = 12
    settlement_refs: int = 13
    registrations: int = 1  # ResidentRegistry._registrations (after AccessManaged's slot 0)
    status_byte: int = 1  # Registration{kind, status, district, registeredAt} packs low-first
    registered_count: int = 3


LAYOUT = Layout()

TOPICS = {
    entry["name"]: keccak(text=f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})")
    for name in ("CityToken", "ResidentRegistry")
    for entry in city_artifact(name).abi
    if entry.get("type") == "event"
}

Log = tuple[str, list[bytes], bytes]


def log(address: str, event: str, indexed: Sequence[int | str | bytes], data: Sequence[Any]) -> Log:
    return (
        address.lower(),
        [TOPICS[event], *(word(v) for v in indexed)],
        b"".join(word(v) for v in data),
    )


@dataclass
class Ledger:
    """What the model knows across examples (the city is shared; accounts are not)."""

    minted: int
    burned: int
    registered_count: int
    settled_elsewhere: int
    """Σ balances of every account outside the current example."""
    deposit_refs: set[bytes] = field(default_factory=set)
    settlement_refs: set[bytes] = field(default_factory=set)
    touched: dict[str, int | None] = field(default_factory=dict)
    """Every account any example used -> its final balance (None: the example failed)."""
    steps: int = 0
    examples: int = 0
    mints: int = 0
    redemptions: int = 0
    dirty: bool = False
    """The last example failed mid-step: resynchronise from the chain before the next one."""
    outcomes: Counter[str] = field(default_factory=Counter)
    refs: Iterator[int] = field(default_factory=itertools.count)
    seconds: float = 0.0
    """Time spent running steps."""


@dataclass
class World:
    test_city: TestCity
    city: City
    chain: FixedGasChain
    pool: AccountPool
    ledger: Ledger
    mint_limit: int

    @property
    def token(self) -> str:
        return self.city.token.address

    @property
    def registry(self) -> str:
        return self.city.registry.address

    def storage(self, reads: Sequence[tuple[str, int | str]]) -> list[int]:
        calls = [
            ("eth_getStorageAt", [address, hex(slot) if isinstance(slot, int) else slot, "latest"])
            for address, slot in reads
        ]
        return [int(v, 16) for v in self.chain.rpc_batch(calls)]

    def abi_reads(self, calls: Sequence[tuple[str, ContractFunction]]) -> list[int]:
        """View calls through the ABI in one batch (ints, bools, enums)."""
        batch = [
            ("eth_call", [{"to": address, "data": f._encode_transaction_data()}, "latest"])
            for address, f in calls
        ]
        return [int(v, 16) for v in self.chain.rpc_batch(batch)]


# -- the state machine ----------------------------------------------------------------------------


@dataclass
class Person:
    account: LocalAccount
    balance_slot: str
    registration_slot: str

    @property
    def address(self) -> str:
        return str(self.account.address)

    def __repr__(self) -> str:
        return f"Person({self.address[:8]})"


@dataclass(frozen=True)
class Err:
    error: str
    args: dict[str, object] = field(default_factory=dict)


index = st.integers(min_value=0, max_value=4 * MAX_PEOPLE - 1)
"""Which account a rule acts on (see ``CityMachine.pick``)."""
LIVE = (AccountStatus.ACTIVE, AccountStatus.FROZEN)


def funded(status: AccountStatus, balance: int) -> bool:
    return status is AccountStatus.ACTIVE and balance > 0


class CityMachine(RuleBasedStateMachine):
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        self.people: list[Person] = []
        self.by_address: dict[str, Person] = {}
        self.status: dict[str, AccountStatus] = {}
        self.balance: dict[str, int] = {}
        self.paused = False
        self.used_deposits: list[bytes] = []
        self.used_settlements: list[bytes] = []
        self.checked_ref: tuple[int, bytes] | None = None
        self.allowance: dict[tuple[str, str], int] = {}
        """(owner, spender) -> allowance, for every pair this example approved."""
        self.checked_allowance: tuple[str, str] | None = None
        self.registry_changed = True
        """Read the registry statuses at the next check (the token cannot write them)."""
        self.verified = True

    # -- helpers --------------------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        return self.world.ledger

    def person(self, who: int) -> Person:
        return self.people[who % len(self.people)]

    def pick(self, who: int, wanted: Callable[[AccountStatus, int], bool]) -> Person:
        """Three draws in four (the simplest ones included) an account whose (status, balance)
        is ``wanted``, if there is one; otherwise anyone. Valid operations exercise the
        arithmetic, the others the refusals; hypothesis favours small draws, so the useful
        choice must be the small one."""
        able = [p for p in self.people if wanted(self.status[p.address], self.balance[p.address])]
        if able and who % 4 != 3:
            return able[(who // 4) % len(able)]
        return self.person(who // 4)

    def new_person(self) -> Person:
        account = self.world.pool.take()
        person = Person(
            account,
            mapping_slot(account.address, LAYOUT.balances),
            mapping_slot(account.address, LAYOUT.registrations),
        )
        self.people.append(person)
        self.by_address[person.address] = person
        self.status[person.address] = AccountStatus.NONE
        self.balance[person.address] = 0
        return person

    def newcomer(self, existing: int, who: int) -> Person:
        """A never-registered account: a new one unless ``existing`` is 3 (or the example has
        its MAX_PEOPLE), when anyone may come up, to provoke the refusals."""
        if existing != 3 and len(self.people) < MAX_PEOPLE:
            return self.new_person()
        if existing == 3:
            return self.person(who)
        return self.pick(who, lambda status, _: status is AccountStatus.NONE)

    def reference(self, mode: RefMode, used: list[bytes], seed: int) -> bytes:
        if mode == "empty":
            return bytes(32)
        if mode == "reuse" and used:
            return used[seed % len(used)]
        return reference(f"sf-{next(self.ledger.refs)}")

    def perform(
        self,
        name: str,
        error: Err | None,
        send: Callable[[], TxReceipt],
        logs: Callable[[], list[Log]],
        apply: Callable[[], None],
    ) -> None:
        """One step: send the transaction; it must fail with ``error`` or succeed with ``logs``."""
        self.verified = False
        self.ledger.steps += 1
        refusal: ContractRevertError | None = None
        try:
            receipt = send()
        except ContractRevertError as exc:
            refusal = exc
        if refusal is not None:
            assert error is not None, (
                f"{name} was refused with {refusal.error}{refusal.error_args}; "
                "the model expected success"
            )
            assert (refusal.error, refusal.error_args) == (error.error, error.args), refusal.message
            self.ledger.outcomes[f"{name}: {refusal.error}"] += 1
            return
        assert error is None, f"{name} succeeded; the model expected {error}"
        assert cast(list[Log], receipt["logs"]) == logs(), f"{name} emitted unexpected events"
        apply()
        self.ledger.outcomes[f"{name}: ok"] += 1

    def not_active(self, person: Person) -> Err | None:
        if self.status[person.address] is AccountStatus.ACTIVE:
            return None
        return Err("CityTokenAccountNotActive", {"account": person.address})

    def live(self, person: Person) -> Err | None:
        """The registry's _requireLive."""
        status = self.status[person.address]
        if status is AccountStatus.NONE:
            return Err("ResidentRegistryNotRegistered", {"account": person.address})
        if status is AccountStatus.RETIRED:
            return Err("ResidentRegistryRetired", {"account": person.address})
        return None

    def unregistered(self, person: Person) -> Err | None:
        """The registry's _requireUnregistered."""
        status = self.status[person.address]
        if status is AccountStatus.RETIRED:
            return Err("ResidentRegistryRetired", {"account": person.address})
        if status is not AccountStatus.NONE:
            return Err("ResidentRegistryAlreadyRegistered", {"account": person.address})
        return None

    # -- lifecycle ------------------------------------------------------------------------------

    @initialize(
        kinds=st.lists(account_kinds, min_size=2, max_size=2),
        funding=st.lists(st.integers(min_value=0, max_value=100_000), min_size=2, max_size=2),
        approval=st.integers(min_value=0, max_value=100_000),
    )
    def start(self, kinds: list[AccountKind], funding: list[int], approval: int) -> None:
        """Three new accounts; the first two registered and funded as drawn, and the first
        approving the second for ``approval`` (set-up transactions, not counted as steps; the
        invariants check them like any other). The approval gives transferFrom an active
        spender to start with; later steps freeze, retire and approve others."""
        world, ledger = self.world, self.world.ledger
        ledger.examples += 1
        if ledger.dirty:  # the previous example failed: take the chain's word for the totals
            supply, minted, burned, count = world.storage(
                [
                    (world.token, LAYOUT.total_supply),
                    (world.token, LAYOUT.total_minted),
                    (world.token, LAYOUT.total_burned),
                    (world.registry, LAYOUT.registered_count),
                ]
            )
            ledger.minted, ledger.burned, ledger.registered_count = minted, burned, count
            ledger.settled_elsewhere = supply
            if world.city.token.paused():
                world.city.token.unpause(world.test_city.pauser)
            ledger.dirty = False
        staff = world.test_city
        for kind, amount in zip(kinds, funding, strict=True):
            person = self.new_person()
            if kind is AccountKind.NONE:
                continue
            world.city.registry.register(
                staff.registrar, person.address, kind, 5101, keccak(text=person.address)
            )
            self.status[person.address] = AccountStatus.ACTIVE
            ledger.registered_count += 1
            if amount:
                ref = reference(f"sf-{next(ledger.refs)}")
                world.city.chain.transact(
                    staff.treasury,
                    world.city.token.contract.functions.mint(person.address, amount, ref),
                )
                self.balance[person.address] = amount
                ledger.minted += amount
                ledger.mints += 1
                ledger.deposit_refs.add(ref)
        if approval:
            first, second = self.people[0], self.people[1]
            world.city.token.approve(first.account, second.address, approval)
            self.allowance[(first.address, second.address)] = approval
            self.checked_allowance = (first.address, second.address)
        self.new_person()

    def teardown(self) -> None:
        world, ledger = self.world, self.world.ledger
        ledger.dirty = True  # until this example's accounts are settled below
        for person in self.people:
            ledger.touched[person.address] = None
        if not self.verified:
            return  # a step failed: its error is what the run reports
        # Read this example's accounts back through the ABI, then settle them into the ledger.
        token, registry = (
            world.city.token.contract.functions,
            world.city.registry.contract.functions,
        )
        pairs = list(self.allowance)
        reads = world.abi_reads(
            [(world.token, token.balanceOf(p.address)) for p in self.people]
            + [(world.registry, registry.statusOf(p.address)) for p in self.people]
            + [
                (world.token, token.totalSupply()),
                (world.token, token.totalMinted()),
                (world.token, token.totalBurned()),
                (world.token, token.paused()),
                (world.registry, registry.registeredCount()),
            ]
            + [(world.token, token.allowance(owner, spender)) for owner, spender in pairs]
        )
        n = len(self.people)
        assert reads[:n] == [self.balance[p.address] for p in self.people]
        assert reads[n : 2 * n] == [self.status[p.address] for p in self.people]
        assert reads[2 * n + 5 :] == [self.allowance[pair] for pair in pairs]
        supply, minted, burned, paused, count = reads[2 * n : 2 * n + 5]
        assert (minted, burned, bool(paused), count) == (
            ledger.minted,
            ledger.burned,
            self.paused,
            ledger.registered_count,
        )
        assert supply == ledger.settled_elsewhere + sum(reads[:n])
        if self.paused:  # the next example starts unpaused
            world.city.token.unpause(world.test_city.pauser)
        ledger.settled_elsewhere += sum(reads[:n])
        for person in self.people:
            ledger.touched[person.address] = self.balance[person.address]
        ledger.dirty = False

    # -- rules ----------------------------------------------------------------------------------

    @rule(
        who=index,
        existing=st.integers(min_value=0, max_value=3),
        kind=account_kinds,
        district=districts,
        cred=credential_hashes,
    )
    def register(
        self, who: int, existing: int, kind: AccountKind, district: int, cred: bytes
    ) -> None:
        person = self.newcomer(existing, who)
        error = self.unregistered(person)
        if error is None and kind is AccountKind.NONE:
            error = Err("ResidentRegistryInvalidKind")
        if error is None and cred == bytes(32):
            error = Err("ResidentRegistryEmptyCredential")

        def apply() -> None:
            self.status[person.address] = AccountStatus.ACTIVE
            self.ledger.registered_count += 1

        self.registry_changed = True
        self.perform(
            "register",
            error,
            lambda: self.world.city.registry.register(
                self.world.test_city.registrar, person.address, kind, district, cred
            ),
            lambda: [
                log(
                    self.world.registry,
                    "AccountRegistered",
                    [person.address],
                    [kind, district, cred],
                )
            ],
            apply,
        )

    @rule(who=index)
    def freeze(self, who: int) -> None:
        person = self.pick(who, lambda status, _: status is AccountStatus.ACTIVE)
        error = self.live(person)
        if error is None and self.status[person.address] is not AccountStatus.ACTIVE:
            error = Err("ResidentRegistryNotActive", {"account": person.address})
        self.registry_changed = True
        self.perform(
            "freeze",
            error,
            lambda: self.world.city.registry.freeze(self.world.test_city.registrar, person.address),
            lambda: [log(self.world.registry, "AccountFrozen", [person.address], [])],
            lambda: self.status.__setitem__(person.address, AccountStatus.FROZEN),
        )

    @rule(who=index)
    def unfreeze(self, who: int) -> None:
        person = self.pick(who, lambda status, _: status is AccountStatus.FROZEN)
        error = self.live(person)
        if error is None and self.status[person.address] is not AccountStatus.FROZEN:
            error = Err("ResidentRegistryNotFrozen", {"account": person.address})
        self.registry_changed = True
        self.perform(
            "unfreeze",
            error,
            lambda: self.world.city.registry.unfreeze(
                self.world.test_city.registrar, person.address
            ),
            lambda: [log(self.world.registry, "AccountUnfrozen", [person.address], [])],
            lambda: self.status.__setitem__(person.address, AccountStatus.ACTIVE),
        )

    @rule(old_who=index, existing=st.integers(min_value=0, max_value=3), new_who=index)
    def recover(self, old_who: int, existing: int, new_who: int) -> None:
        old = self.pick(old_who, lambda status, _: status in LIVE)
        new = self.newcomer(existing, new_who)
        error = self.live(old) or self.unregistered(new)
        if error is None and self.paused:
            error = Err("EnforcedPause")
        moved = self.balance[old.address]

        def apply() -> None:
            self.status[new.address] = AccountStatus.ACTIVE
            self.status[old.address] = AccountStatus.RETIRED
            self.balance[new.address] += moved
            self.balance[old.address] = 0

        pair = [old.address, new.address]
        self.registry_changed = True
        self.perform(
            "recover",
            error,
            lambda: self.world.city.registry.recover(
                self.world.test_city.registrar, old.address, new.address
            ),
            lambda: [
                log(self.world.token, "Transfer", pair, [moved]),
                log(self.world.token, "BalanceRecovered", pair, [moved]),
                log(self.world.registry, "AccountRecovered", pair, [moved]),
            ],
            apply,
        )

    @rule(
        who=index,
        amount=mint_amounts(MINT_LIMIT),
        ref_mode=reference_modes,
        seed=amount_seeds,
        intruder=st.integers(min_value=0, max_value=7),
    )
    def mint(self, who: int, amount: int, ref_mode: RefMode, seed: int, intruder: int) -> None:
        to = self.pick(who, lambda status, _: status is AccountStatus.ACTIVE)
        ref = self.reference(ref_mode, self.used_deposits, seed)
        limit = self.world.mint_limit
        if intruder == 7:  # a resident tries to mint to someone: nobody but the treasury may
            signer = self.person(seed).account
            error: Err | None = Err("AccessManagedUnauthorized", {"caller": signer.address})
        else:
            signer = self.world.test_city.treasury
            error = None
        if error is None and amount > limit:
            error = Err("CityTokenMintAboveLimit", {"amount": amount, "limit": limit})
        if error is None and amount == 0:
            error = Err("CityTokenZeroAmount")
        if error is None and ref == bytes(32):
            error = Err("CityTokenEmptyReference")
        if error is None and ref in self.ledger.deposit_refs:
            error = Err("CityTokenDepositRefUsed", {"depositRef": reference_text(ref)})
        if error is None and self.paused:
            error = Err("EnforcedPause")
        if error is None:
            error = self.not_active(to)

        def apply() -> None:
            self.balance[to.address] += amount
            self.ledger.minted += amount
            self.ledger.mints += 1
            self.ledger.deposit_refs.add(ref)
            self.used_deposits.append(ref)

        self.perform(
            "mint",
            error,
            lambda: self.world.city.chain.transact(
                signer, self.world.city.token.contract.functions.mint(to.address, amount, ref)
            ),
            lambda: [
                log(self.world.token, "Transfer", [ZERO, to.address], [amount]),
                log(self.world.token, "Minted", [to.address, ref], [amount]),
            ],
            apply,
        )
        if ref != bytes(32):
            self.checked_ref = (LAYOUT.deposit_refs, ref)

    @rule(who=index, mode=amount_modes, seed=amount_seeds, ref_mode=reference_modes)
    def redeem(self, who: int, mode: AmountMode, seed: int, ref_mode: RefMode) -> None:
        holder = self.pick(who, funded)
        balance = self.balance[holder.address]
        amount = amount_for(mode, seed, balance)
        ref = self.reference(ref_mode, self.used_settlements, seed)
        error: Err | None = None
        if amount == 0:
            error = Err("CityTokenZeroAmount")
        elif ref == bytes(32):
            error = Err("CityTokenEmptyReference")
        elif ref in self.ledger.settlement_refs:
            error = Err("CityTokenSettlementRefUsed", {"settlementRef": reference_text(ref)})
        elif self.paused:
            error = Err("EnforcedPause")
        else:
            error = self.not_active(holder)
        if error is None and balance < amount:
            error = Err(
                "ERC20InsufficientBalance",
                {"sender": holder.address, "balance": balance, "needed": amount},
            )

        def apply() -> None:
            self.balance[holder.address] -= amount
            self.ledger.burned += amount
            self.ledger.redemptions += 1
            self.ledger.settlement_refs.add(ref)
            self.used_settlements.append(ref)

        self.perform(
            "redeem",
            error,
            lambda: self.world.city.chain.transact(
                holder.account, self.world.city.token.contract.functions.redeem(amount, ref)
            ),
            lambda: [
                log(self.world.token, "Transfer", [holder.address, ZERO], [amount]),
                log(self.world.token, "Redeemed", [holder.address, ref], [amount]),
            ],
            apply,
        )
        if ref != bytes(32):
            self.checked_ref = (LAYOUT.settlement_refs, ref)

    @rule(sender_who=index, recipient_who=index, mode=amount_modes, seed=amount_seeds)
    def transfer(self, sender_who: int, recipient_who: int, mode: AmountMode, seed: int) -> None:
        sender = self.pick(sender_who, funded)
        recipient = self.pick(recipient_who, lambda status, _: status is AccountStatus.ACTIVE)
        balance = self.balance[sender.address]
        amount = amount_for(mode, seed, balance)
        error = Err("EnforcedPause") if self.paused else None
        error = error or self.not_active(sender) or self.not_active(recipient)
        if error is None and balance < amount:
            error = Err(
                "ERC20InsufficientBalance",
                {"sender": sender.address, "balance": balance, "needed": amount},
            )

        def apply() -> None:
            self.balance[sender.address] -= amount
            self.balance[recipient.address] += amount

        self.perform(
            "transfer",
            error,
            lambda: self.world.city.token.transfer(sender.account, recipient.address, amount),
            lambda: [
                log(self.world.token, "Transfer", [sender.address, recipient.address], [amount])
            ],
            apply,
        )

    @rule(
        owner_who=index,
        spender_who=index,
        mode=amount_modes,
        seed=amount_seeds,
        unlimited=st.integers(min_value=0, max_value=7),
    )
    def approve(
        self, owner_who: int, spender_who: int, mode: AmountMode, seed: int, unlimited: int
    ) -> None:
        """An owner (mostly a funded one) approves a spender (mostly an active one): never refused,
        whatever either's status, as an approval moves nothing and neither the registry nor the
        pause is asked. One time in eight the allowance is unlimited (never decreased)."""
        owner = self.pick(owner_who, funded)
        spender = self.pick(spender_who, lambda status, _: status is AccountStatus.ACTIVE)
        amount = (
            UNLIMITED if unlimited == 7 else amount_for(mode, seed, self.balance[owner.address])
        )
        pair = (owner.address, spender.address)
        self.perform(
            "approve",
            None,
            lambda: self.world.city.token.approve(owner.account, spender.address, amount),
            lambda: [log(self.world.token, "Approval", list(pair), [amount])],
            lambda: self.allowance.__setitem__(pair, amount),
        )
        self.checked_allowance = pair

    @precondition(lambda self: bool(self.allowance))  # once this example approved someone
    @rule(
        pair_who=index,
        spender_who=index,
        owner_who=index,
        recipient_who=index,
        mode=amount_modes,
        seed=amount_seeds,
    )
    def transfer_from(
        self,
        pair_who: int,
        spender_who: int,
        owner_who: int,
        recipient_who: int,
        mode: AmountMode,
        seed: int,
    ) -> None:
        """A spender pulls from an owner. Three draws in four a pair with an allowance left whose
        spender is active and owner funded, if there is one; else mostly any pair with an
        allowance left (its spender may have been frozen or retired since, or never registered);
        else any two people. Refusals come in the token's order: the spender's status, the
        allowance, the pause, the owner's and the recipient's status, the balance."""
        approved = [pair for pair, left in self.allowance.items() if left > 0]
        able = [
            (o, s)
            for o, s in approved
            if self.status[s] is AccountStatus.ACTIVE and funded(self.status[o], self.balance[o])
        ]
        if able and pair_who % 4 != 3:
            owner_address, spender_address = able[(pair_who // 4) % len(able)]
        elif approved and pair_who % 8 != 7:
            owner_address, spender_address = approved[(pair_who // 8) % len(approved)]
        else:
            owner_address = self.person(owner_who).address
            spender_address = self.person(spender_who).address
        owner, spender = self.by_address[owner_address], self.by_address[spender_address]
        recipient = self.pick(recipient_who, lambda status, _: status is AccountStatus.ACTIVE)
        pair = (owner.address, spender.address)
        allowed = self.allowance.get(pair, 0)
        balance = self.balance[owner.address]
        amount = amount_for(mode, seed, min(allowed, balance))
        error: Err | None = None
        spender_status = self.status[spender.address]
        if spender_status is not AccountStatus.ACTIVE:
            error = Err(
                "CityTokenSpenderNotActive",
                {"spender": spender.address, "status": STATUS_WORDS[spender_status]},
            )
        elif allowed != UNLIMITED and allowed < amount:
            error = Err(
                "ERC20InsufficientAllowance",
                {"spender": spender.address, "allowance": allowed, "needed": amount},
            )
        elif self.paused:
            error = Err("EnforcedPause")
        else:
            error = self.not_active(owner) or self.not_active(recipient)
        if error is None and balance < amount:
            error = Err(
                "ERC20InsufficientBalance",
                {"sender": owner.address, "balance": balance, "needed": amount},
            )

        def apply() -> None:
            self.balance[owner.address] -= amount
            self.balance[recipient.address] += amount
            if allowed != UNLIMITED:
                self.allowance[pair] = allowed - amount

        function = self.world.city.token.contract.functions.transferFrom(
            owner.address, recipient.address, amount
        )
        self.perform(
            "transfer_from",
            error,
            lambda: self.world.city.chain.transact(spender.account, function),
            # Spending an allowance emits no Approval in OpenZeppelin 5: only the Transfer.
            lambda: [
                log(self.world.token, "Transfer", [owner.address, recipient.address], [amount])
            ],
            apply,
        )
        self.checked_allowance = pair

    @rule(action=st.integers(min_value=0, max_value=15), seed=amount_seeds)
    def pause_or_unpause(self, action: int, seed: int) -> None:
        """One rule for both (two rules would let swarm testing disable unpause and leave
        whole examples paused). Unpaused: the pauser pauses (action < 5), a resident tries to
        (5-11: AccessManagedUnauthorized), or the pauser unpauses (12+: ExpectedPause). Paused:
        the pauser unpauses (< 12), a resident tries to, or the pauser pauses again
        (EnforcedPause). The token is paused about a fifth of the time."""
        pauser = self.world.test_city.pauser
        intruder = self.person(seed).account
        error: Err | None = None
        if not self.paused:
            signer = pauser if action < 5 or action >= 12 else intruder
            pausing = action < 12
        else:
            signer = pauser if action < 12 or action >= 14 else intruder
            pausing = action >= 14
        if signer is not pauser:
            error = Err("AccessManagedUnauthorized", {"caller": signer.address})
        elif pausing and self.paused:
            error = Err("EnforcedPause")
        elif not pausing and not self.paused:
            error = Err("ExpectedPause")
        wrapper = self.world.city.token
        self.perform(
            "pause" if pausing else "unpause",
            error,
            lambda: (wrapper.pause if pausing else wrapper.unpause)(signer),
            lambda: [
                log(self.world.token, "Paused" if pausing else "Unpaused", [], [pauser.address])
            ],
            lambda: setattr(self, "paused", pausing),
        )

    # -- the invariants, after every step ----------------------------------------------------------

    @invariant()
    def chain_agrees_with_the_model(self) -> None:
        world, ledger = self.world, self.ledger
        reads: list[tuple[str, int | str]] = [
            (world.token, LAYOUT.total_supply),
            (world.token, LAYOUT.total_minted),
            (world.token, LAYOUT.total_burned),
            (world.token, LAYOUT.paused_slot),
            (world.registry, LAYOUT.registered_count),
        ]
        reads += [(world.token, p.balance_slot) for p in self.people]
        if self.registry_changed:
            reads += [(world.registry, p.registration_slot) for p in self.people]
        if self.checked_ref is not None:
            reads.append((world.token, mapping_slot(self.checked_ref[1], self.checked_ref[0])))
        if self.checked_allowance is not None:
            reads.append((world.token, allowance_slot(*self.checked_allowance)))
        values = world.storage(reads)
        supply, minted, burned, paused_word, count = values[:5]
        n = len(self.people)
        balances = values[5 : 5 + n]
        registrations = values[5 + n : 5 + 2 * n] if self.registry_changed else []

        assert supply == minted - burned, "totalSupply != totalMinted - totalBurned"
        assert (minted, burned) == (ledger.minted, ledger.burned)
        assert supply == ledger.settled_elsewhere + sum(balances), "supply != Σ balances"
        assert balances == [self.balance[p.address] for p in self.people]
        if self.registry_changed:
            statuses = [(v >> (8 * LAYOUT.status_byte)) & 0xFF for v in registrations]
            assert statuses == [self.status[p.address] for p in self.people]
            self.registry_changed = False
        assert bool((paused_word >> (8 * LAYOUT.paused_byte)) & 0xFF) == self.paused
        assert count == ledger.registered_count
        extra = values[5 + n + len(registrations) :]
        if self.checked_ref is not None:
            slot, ref = self.checked_ref
            used = ledger.deposit_refs if slot == LAYOUT.deposit_refs else ledger.settlement_refs
            assert bool(extra.pop(0)) == (ref in used), "reference use differs from the model"
            self.checked_ref = None
        if self.checked_allowance is not None:
            expected = self.allowance.get(self.checked_allowance, 0)
            assert extra.pop(0) == expected, "allowance differs from the model"
            self.checked_allowance = None
        self.verified = True


# -- one part of the run: its node and city, its steps, its checks ---------------------------------


def start_world(root: Path, accounts: list[LocalAccount], part: int) -> tuple[NodeProcess, World]:
    """A node of its own for one part and the city deployed on it. ``--no-fsync``: durability is
    not under test here and the data directory is thrown away (it makes each block ~30% cheaper)."""
    write_genesis(root / "genesis.json", accounts)
    node = NodeProcess(
        root / "genesis.json",
        root / "node",
        free_port(),
        ("--block-period", "0", "--no-fsync"),
        env={"CITYLEDGER_NODE_ADMIN_TOKEN": ADMIN_TOKEN},
    ).start()
    try:
        test_city = deploy_test_city(node.url, accounts, root / "stateful.json")
        chain = FixedGasChain(node.url)
        city = City.at(chain, test_city.city.manifest)
        pool = AccountPool(chain, f"stateful-{part}-{os.getpid()}-{time.time_ns()}")
        world = World(test_city, city, chain, pool, Ledger(0, 0, 0, 0), city.token.mint_limit())
        assert world.mint_limit == MINT_LIMIT
        calibrate(world)
    except BaseException:
        node.stop()
        raise
    return node, world


def calibrate(world: World) -> None:
    """Check LAYOUT against the ABI getters on a live account, then start the ledger."""
    city, staff = world.city, world.test_city
    holder = world.pool.take()
    city.registry.register(staff.registrar, holder.address, AccountKind.RESIDENT, 1, keccak(b"c"))
    city.token.mint(staff.treasury, holder.address, 7, "calibration-deposit")
    city.token.redeem(holder, 2, "calibration-settlement")
    spender = staff.pauser.address  # any address: only the allowance's slot is checked
    city.token.approve(holder, spender, 3)
    token, registry = world.token, world.registry

    def layout_matches(paused: bool, status: AccountStatus) -> None:
        values = world.storage(
            [
                (token, mapping_slot(holder.address, LAYOUT.balances)),
                (token, LAYOUT.total_supply),
                (token, LAYOUT.total_minted),
                (token, LAYOUT.total_burned),
                (token, LAYOUT.paused_slot),
                (token, mapping_slot(reference("calibration-deposit"), LAYOUT.deposit_refs)),
                (token, mapping_slot(reference("calibration-settlement"), LAYOUT.settlement_refs)),
                (registry, mapping_slot(holder.address, LAYOUT.registrations)),
                (registry, LAYOUT.registered_count),
                (token, allowance_slot(holder.address, spender)),
            ]
        )
        expected = [
            city.token.balance_of(holder.address),
            city.token.total_supply(),
            city.token.total_minted(),
            city.token.total_burned(),
            int(city.token.paused()),
            1,
            1,
            int(city.registry.registration_of(holder.address).status),
            city.registry.registered_count(),
            city.token.allowance(holder.address, spender),
        ]
        actual = [
            *values[:4],
            (values[4] >> (8 * LAYOUT.paused_byte)) & 0xFF,
            values[5],
            values[6],
            (values[7] >> (8 * LAYOUT.status_byte)) & 0xFF,
            values[8],
            values[9],
        ]
        assert actual == expected, (
            "the contracts' storage layout changed: update LAYOUT in this file"
        )
        assert (expected[0], expected[4], expected[7], expected[9]) == (
            5,
            int(paused),
            int(status),
            3,
        )

    layout_matches(False, AccountStatus.ACTIVE)
    city.token.pause(staff.pauser)
    city.registry.freeze(staff.registrar, holder.address)
    layout_matches(True, AccountStatus.FROZEN)
    city.token.unpause(staff.pauser)
    city.registry.unfreeze(staff.registrar, holder.address)

    ledger = world.ledger
    ledger.minted, ledger.burned = city.token.total_minted(), city.token.total_burned()
    ledger.registered_count = city.registry.registered_count()
    ledger.settled_elsewhere = city.token.total_supply()
    ledger.deposit_refs.add(reference("calibration-deposit"))
    ledger.settlement_refs.add(reference("calibration-settlement"))
    ledger.touched[holder.address] = 5
    ledger.mints, ledger.redemptions = 1, 1


def run_steps(world: World, until: int) -> None:
    """Run examples of CityMachine until the part has made ``until`` steps."""
    CityMachine.world = world
    ledger = world.ledger
    started = time.perf_counter()
    try:
        while ledger.steps < until:
            run_state_machine_as_test(
                CityMachine,
                settings=settings(
                    max_examples=math.ceil((until - ledger.steps) / STEPS_PER_EXAMPLE),
                    stateful_step_count=STEPS_PER_EXAMPLE,
                    deadline=None,
                    database=None,
                    print_blob=True,
                    suppress_health_check=[
                        HealthCheck.too_slow,
                        HealthCheck.filter_too_much,
                        HealthCheck.data_too_large,
                    ],
                ),
            )
    finally:
        ledger.seconds += time.perf_counter() - started


def report(world: World, part: int) -> str:
    ledger = world.ledger
    rate = ledger.steps / ledger.seconds if ledger.seconds else 0.0
    lines = [
        f"stateful part {part}/{PARTS}: {ledger.steps} steps in {ledger.examples} examples, "
        f"{ledger.seconds:.0f} s, {rate:.1f} steps/s; {ledger.mints} mints, "
        f"{ledger.redemptions} redemptions, {len(ledger.touched)} accounts"
    ]
    lines += [f"  {outcome:<48} {n:>7}" for outcome, n in sorted(ledger.outcomes.items())]
    return "\n".join(lines)


def check_coverage(world: World) -> None:
    """Every rule succeeded sometimes and was refused sometimes (the part explored both sides)."""
    ledger = world.ledger
    assert ledger.steps >= PART_STEPS
    if PART_STEPS < COVERAGE_FROM:
        return
    for name in RULES_WITH_TWO_SIDES:
        assert ledger.outcomes[f"{name}: ok"] > 0, name
        assert (
            sum(n for o, n in ledger.outcomes.items() if o.startswith(f"{name}: "))
            > (ledger.outcomes[f"{name}: ok"])
        ), name
    assert ledger.outcomes["approve: ok"] > 0  # approvals are never refused here
    assert ledger.outcomes["transfer_from: CityTokenSpenderNotActive"] > 0


def audit(world: World) -> None:
    """Re-read every account the part ever touched through balanceOf (their sum must be the
    supply) and audit the supply's trail: one distinct reference per mint and per redemption."""
    ledger, token = world.ledger, world.city.token
    addresses = list(ledger.touched)
    balances: list[int] = []
    for start in range(0, len(addresses), 500):
        chunk = addresses[start : start + 500]
        balances += world.abi_reads(
            [(world.token, token.contract.functions.balanceOf(a)) for a in chunk]
        )
    for address, balance in zip(addresses, balances, strict=True):
        known = ledger.touched[address]
        assert known is None or balance == known, address
    supply, minted, burned = token.total_supply(), token.total_minted(), token.total_burned()
    assert sum(balances) == supply == minted - burned == ledger.minted - ledger.burned

    # The audit trail, read in windows the node's eth_getLogs range limit allows.
    head = world.chain.block_number()
    minted_events, redeemed_events = [], []
    for low in range(0, head + 1, 5_000):
        high = min(head, low + 4_999)
        minted_events += token.events("Minted", from_block=low, to_block=high)
        redeemed_events += token.events("Redeemed", from_block=low, to_block=high)
    deposit_refs = [bytes(e["args"]["depositRef"]) for e in minted_events]
    settlement_refs = [bytes(e["args"]["settlementRef"]) for e in redeemed_events]
    assert len(deposit_refs) == len(set(deposit_refs)) == ledger.mints
    assert len(settlement_refs) == len(set(settlement_refs)) == ledger.redemptions
    assert set(deposit_refs) == ledger.deposit_refs
    assert set(settlement_refs) == ledger.settlement_refs
    assert sum(e["args"]["amount"] for e in minted_events) == minted
    assert sum(e["args"]["amount"] for e in redeemed_events) == burned


class Part(NamedTuple):
    """What a part's test module binds to its own names, for pytest to collect (in this order)."""

    world: Any
    """The module-scoped ``world`` fixture: the part's node and city."""
    steps: Callable[..., None]
    coverage: Callable[..., None]
    audit: Callable[..., None]


def part(number: int) -> Part:
    """The fixture and the three tests of part ``number`` (1 to PARTS) of the run.

    Why three tests, the long one first: xdist's loadfile scheduler gives a worker its next
    module as soon as the worker has two tests or fewer left to run (``LoadScopeScheduling.
    _reschedule`` in pytest-xdist 3.8). While this part's steps run, its worker still has three
    (the run and the two checks after it), so the worker takes no other module until the run is
    over and the next part goes to the other worker. With one long test and one check, both
    parts would queue on the same worker and run one after the other, as the single module did.
    """
    assert 1 <= number <= PARTS

    @pytest.fixture(scope="module", name="world")
    def world_fixture(
        tmp_path_factory: pytest.TempPathFactory, accounts: list[LocalAccount]
    ) -> Iterator[World]:
        node, world = start_world(tmp_path_factory.mktemp(f"stateful-{number}"), accounts, number)
        try:
            yield world
        finally:
            node.stop()

    @pytest.mark.slow
    @pytest.mark.timeout(0 if DEEP else 1200)
    def test_random_operations_keep_the_invariants_and_the_rules(world: World) -> None:
        run_steps(world, PART_STEPS)

    @pytest.mark.slow
    def test_every_rule_was_seen_succeeding_and_refused(
        world: World, request: pytest.FixtureRequest
    ) -> None:
        # The step count, rate and outcomes: shown with -rP (also from xdist workers) or a failure.
        request.node.add_report_section("call", "stateful run", report(world, number))
        check_coverage(world)

    @pytest.mark.slow
    def test_every_account_ever_touched_adds_up_to_the_supply_with_one_reference_per_change(
        world: World,
    ) -> None:
        audit(world)

    return Part(
        world_fixture,
        test_random_operations_keep_the_invariants_and_the_rules,
        test_every_rule_was_seen_succeeding_and_refused,
        test_every_account_ever_touched_adds_up_to_the_supply_with_one_reference_per_change,
    )

"""What the contract suites share: a deployed city with residents on demand, and assertions.

``Town`` wraps a :class:`~cityledger.testing.city.TestCity` (contracts deployed, staff holding their
roles) and hands out the remaining allowlisted accounts one by one, so tests sharing a module's
city never share a resident. Every write goes through the ledger wrappers and ``Chain.transact``
(simulate, estimate, sign, send), exactly as the CLIs do.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from cityledger.testing.city import TestCity
from cityledger.testing.processes import rpc
from ledger.chain import Chain
from ledger.contracts.authority import CityAuthority
from ledger.contracts.base import ContractWrapper
from ledger.contracts.payments import PaymentRouter
from ledger.contracts.registry import ResidentRegistry
from ledger.contracts.token import CityToken
from ledger.exceptions import ContractRevertError
from ledger.types import AccountKind

DISTRICT = 5101
"""The pilot life zone's district code (any uint32 will do)."""

_outsiders = itertools.count()


def new_ref(prefix: str = "ref") -> str:
    """A deposit or settlement reference never used before (text, at most 32 bytes)."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def credential(label: str) -> bytes:
    """A credential hash (what the registrar stores instead of personal data)."""
    return keccak(text=f"credential:{label}")


def outsider() -> LocalAccount:
    """A brand-new key: never allowlisted, never registered (it can receive, not send)."""
    account: LocalAccount = Account.from_key(
        keccak(text=f"cityledger-outsider-{uuid.uuid4()}-{next(_outsiders)}")
    )
    return account


@dataclass
class Town:
    """A deployed city and the people of one test module."""

    test_city: TestCity
    _handed_out: int = field(default=0)

    @property
    def chain(self) -> Chain:
        return self.test_city.city.chain

    @property
    def token(self) -> CityToken:
        return self.test_city.city.token

    @property
    def registry(self) -> ResidentRegistry:
        return self.test_city.city.registry

    @property
    def authority(self) -> CityAuthority:
        return self.test_city.city.authority

    @property
    def payments(self) -> PaymentRouter:
        return self.test_city.city.payments

    @property
    def admin(self) -> LocalAccount:
        return self.test_city.admin

    @property
    def treasury(self) -> LocalAccount:
        return self.test_city.treasury

    @property
    def registrar(self) -> LocalAccount:
        return self.test_city.registrar

    @property
    def pauser(self) -> LocalAccount:
        return self.test_city.pauser

    @property
    def deployer(self) -> LocalAccount:
        return self.test_city.deployer

    @property
    def merchant_admin(self) -> LocalAccount:
        return self.test_city.merchant_admin

    @property
    def payment_operator(self) -> LocalAccount:
        return self.test_city.payment_operator

    @property
    def is_anvil(self) -> bool:
        return str(self.chain.w3.client_version).lower().startswith("anvil")

    def person(self) -> LocalAccount:
        """An allowlisted account no other test of this module has had (unregistered)."""
        people = self.test_city.people
        if self._handed_out >= len(people):
            raise RuntimeError(
                f"all {len(people)} people of this city are used: raise "
                "CONTRACT_SUITE_ACCOUNTS in tests/contracts/conftest.py"
            )
        account = people[self._handed_out]
        self._handed_out += 1
        return account

    def register(
        self,
        account: LocalAccount | str,
        kind: AccountKind = AccountKind.RESIDENT,
        district: int = DISTRICT,
    ) -> TxReceipt:
        address = account if isinstance(account, str) else account.address
        return self.registry.register(self.registrar, address, kind, district, credential(address))

    def resident(self, balance: int = 0, kind: AccountKind = AccountKind.RESIDENT) -> LocalAccount:
        """A fresh registered, active account holding ``balance`` tokens."""
        account = self.person()
        self.register(account, kind)
        if balance:
            self.token.mint(self.treasury, account.address, balance, new_ref("dep"))
        return account

    def latest_timestamp(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def advance_to(self, timestamp: int) -> None:
        """Bring chain time to ``timestamp``: the embedded node stamps every block at least one
        second after its parent, so sealing cheap blocks moves its clock; anvil stamps blocks
        with the wall clock, so there we set the next block's time and mine it."""
        if self.latest_timestamp() >= timestamp:
            return
        if self.is_anvil:
            rpc(self.chain.rpc_url, "evm_setNextBlockTimestamp", timestamp)
            rpc(self.chain.rpc_url, "evm_mine")
        while self.latest_timestamp() < timestamp:
            self.chain.transact(self.deployer, to=self.deployer.address, gas=21_000)

    def send_unchecked(
        self, signer: LocalAccount, function: ContractFunction, gas: int = 3_000_000
    ) -> TxReceipt:
        """Sign and mine ``function`` WITHOUT simulating it first (a fixed gas limit, no
        estimate), so a call bound to revert really lands in a block. ``Chain.wait`` raises the
        revert's domain exception, recovered by replaying the call at the parent block."""
        w3 = self.chain.w3
        tx: dict[str, Any] = {
            "chainId": self.chain.chain_id,
            "nonce": w3.eth.get_transaction_count(signer.address, "pending"),
            "to": function.address,
            "data": function._encode_transaction_data(),
            "gas": gas,
            "maxFeePerGas": 0,
            "maxPriorityFeePerGas": 0,
            "value": 0,
        }
        raw = signer.sign_transaction(tx).raw_transaction
        return self.chain.wait(self.chain.send_raw(raw))


def reverts(action: Callable[[], object], error: str, **args: object) -> ContractRevertError:
    """Run ``action``; it must raise the contract's custom ``error`` with exactly ``args``."""
    with pytest.raises(ContractRevertError) as caught:
        action()
    assert (caught.value.error, caught.value.error_args) == (error, args), caught.value.message
    return caught.value


def events(receipt: TxReceipt, wrapper: ContractWrapper, name: str) -> list[dict[str, Any]]:
    """The ``name`` events that ``wrapper``'s contract emitted in this transaction, decoded."""
    decoded = getattr(wrapper.contract.events, name)().process_receipt(receipt, errors=DISCARD)
    return [dict(e["args"]) for e in decoded if e["address"] == wrapper.address]


def only_event(receipt: TxReceipt, wrapper: ContractWrapper, name: str) -> dict[str, Any]:
    """The single ``name`` event of ``wrapper``'s contract in this transaction."""
    found = events(receipt, wrapper, name)
    assert len(found) == 1, f"expected one {name} event, got {found}"
    return found[0]

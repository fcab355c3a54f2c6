"""CityAuthority: the city's OpenZeppelin AccessManager (roles, delays, scheduled calls)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3.types import TxReceipt

from ledger.contracts.base import ContractWrapper
from ledger.roles import Role


@dataclass(frozen=True, slots=True)
class Membership:
    is_member: bool
    execution_delay: int
    """Seconds a member's calls under this role must wait after being scheduled."""


class CityAuthority(ContractWrapper):
    ARTIFACT = "CityAuthority"

    def has_role(self, role: Role, account: str) -> Membership:
        is_member, delay = self._read("hasRole", int(role), account)
        return Membership(bool(is_member), int(delay))

    def target_function_role(self, target: str, selector: bytes) -> Role:
        return Role(self._read("getTargetFunctionRole", target, selector))

    def grant_role(
        self, signer: LocalAccount, role: Role, account: str, execution_delay: int = 0
    ) -> TxReceipt:
        return self._send(signer, "grantRole", int(role), account, execution_delay)

    def revoke_role(self, signer: LocalAccount, role: Role, account: str) -> TxReceipt:
        return self._send(signer, "revokeRole", int(role), account)

    def renounce_role(self, signer: LocalAccount, role: Role) -> TxReceipt:
        return self._send(signer, "renounceRole", int(role), signer.address)

    def label_role(self, signer: LocalAccount, role: Role) -> TxReceipt:
        return self._send(signer, "labelRole", int(role), role.label)

    def set_target_function_role(
        self, signer: LocalAccount, target: str, selectors: list[bytes], role: Role
    ) -> TxReceipt:
        return self._send(signer, "setTargetFunctionRole", target, selectors, int(role))

    def schedule(self, signer: LocalAccount, target: str, data: bytes, when: int = 0) -> TxReceipt:
        """Schedule a delayed call (``when`` 0 = as soon as the caller's delay allows)."""
        return self._send(signer, "schedule", target, data, when)

    def execute(self, signer: LocalAccount, target: str, data: bytes) -> TxReceipt:
        return self._send(signer, "execute", target, data)

    def scheduled_at(self, caller: str, target: str, data: bytes) -> int:
        """When a scheduled call becomes executable (0 if none is scheduled)."""
        operation = self._read("hashOperation", caller, target, data)
        return int(self._read("getSchedule", operation))

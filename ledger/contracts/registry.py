"""ResidentRegistry: who may hold and move the city's token, without personal data on chain."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from hashlib import sha256

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.types import TxReceipt

from ledger.contracts.base import ContractWrapper
from ledger.exceptions import ConfigError
from ledger.types import AccountKind, AccountStatus


@dataclass(frozen=True, slots=True)
class Registration:
    kind: AccountKind
    status: AccountStatus
    district: int
    registered_at: int
    credential_hash: bytes


def credential_hash(credential: str, pepper: bytes) -> bytes:
    """The on-chain stand-in for a person's credential (e.g. a resident card number).

    A keyed hash: without the city's secret pepper nobody can test guesses against the chain,
    and the registry still links one credential to one account.
    """
    if not pepper:
        raise ConfigError("a credential hash needs the city's secret pepper")
    return keccak(hmac.new(pepper, credential.encode(), sha256).digest())


class ResidentRegistry(ContractWrapper):
    ARTIFACT = "ResidentRegistry"

    def registration_of(self, account: str) -> Registration:
        kind, status, district, registered_at, credential = self._read("registrationOf", account)
        return Registration(
            AccountKind(kind), AccountStatus(status), district, registered_at, bytes(credential)
        )

    def is_active(self, account: str) -> bool:
        return bool(self._read("isActive", account))

    def registered_count(self) -> int:
        return int(self._read("registeredCount"))

    def token(self) -> str:
        return str(self._read("token"))

    def register(
        self,
        signer: LocalAccount,
        account: str,
        kind: AccountKind,
        district: int,
        credential: bytes,
    ) -> TxReceipt:
        return self._send(signer, "register", account, int(kind), district, credential)

    def update(
        self,
        signer: LocalAccount,
        account: str,
        kind: AccountKind,
        district: int,
        credential: bytes,
    ) -> TxReceipt:
        return self._send(signer, "update", account, int(kind), district, credential)

    def freeze(self, signer: LocalAccount, account: str) -> TxReceipt:
        return self._send(signer, "freeze", account)

    def unfreeze(self, signer: LocalAccount, account: str) -> TxReceipt:
        return self._send(signer, "unfreeze", account)

    def recover(self, signer: LocalAccount, old_account: str, new_account: str) -> TxReceipt:
        """Move a lost key's registration and balance to a new account; the old one retires."""
        return self._send(signer, "recover", old_account, new_account)

    def set_token(self, signer: LocalAccount, token: str) -> TxReceipt:
        return self._send(signer, "setToken", token)

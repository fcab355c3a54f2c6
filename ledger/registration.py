"""Registration: the registry and the nodes' account allowlists, changed together.

Who may transact is decided twice: the registry (the contracts refuse token movements of an
account that is not active) and every node's accounts allowlist (the node refuses a frozen or
unknown sender's transactions before they cost anything). A registrar's change reaches both,
here and nowhere else, so the CLI, a future API route and a library caller cannot register a
resident whom the node then refuses, or freeze one whose key still sends:

=========== ================= ==================================
operation   registry          allowlists
=========== ================= ==================================
register    active            add the account
update      (kind, district)  unchanged
freeze      frozen            remove the account
unfreeze    active            add the account back
recover     old retired,      add the new account, remove the old
            new active
=========== ================= ==================================

The chain changes first; an allowlist failure afterwards raises a PermissioningError naming
what is already done, and :meth:`Registrar.sync` puts an account's allowlist entry back in line
with its registration. Without an admin token (no :class:`~ledger.allowlists.NodeAllowlists`)
only the registry changes, and :attr:`Change.allowlists` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.exceptions import ConfigError, PermissioningError
from ledger.secrets import PEPPER_ENV, env_secret
from ledger.types import AccountKind, AccountStatus

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3.types import TxReceipt

    from ledger.allowlists import NodeAllowlists
    from ledger.city import City


@dataclass(frozen=True, slots=True)
class Change:
    """What a registrar's operation did."""

    receipt: TxReceipt
    allowed: tuple[str, ...] = ()
    """Accounts added to the nodes' allowlists."""
    disallowed: tuple[str, ...] = ()
    """Accounts removed from them."""
    allowlists: tuple[str, ...] | None = None
    """The nodes changed (their RPC URLs); None when no admin token was configured."""


def pepper_from_env() -> bytes:
    """The city's secret for credential hashes: $CITYLEDGER_CREDENTIAL_PEPPER (or ..._FILE)."""
    pepper = env_secret(PEPPER_ENV)
    if not pepper:
        raise ConfigError(
            f"set ${PEPPER_ENV} or ${PEPPER_ENV}_FILE (the city's secret for credential hashes)"
        )
    return pepper.encode()


class Registrar:
    """A registrar's operations on the registry, with the allowlists kept in step.

    ``allowlists=None`` changes only the registry (a chain whose nodes this tool may not
    administer); :meth:`from_env` takes them from the environment. The credential pepper is
    read from the environment when a credential is first hashed, unless given.
    """

    def __init__(
        self,
        city: City,
        signer: LocalAccount,
        allowlists: NodeAllowlists | None = None,
        *,
        pepper: bytes | None = None,
    ) -> None:
        self.city = city
        self.signer = signer
        self.allowlists = allowlists
        self._pepper = pepper

    @classmethod
    def from_env(cls, city: City, signer: LocalAccount) -> Registrar:
        """Allowlists and pepper from the environment (each only if and when needed)."""
        from ledger.allowlists import NodeAllowlists

        return cls(city, signer, NodeAllowlists.from_env(city.chain.rpc_url))

    def credential(self, reference: str) -> bytes:
        """The keyed hash of a credential reference: all the chain ever sees of it."""
        from ledger.contracts.registry import credential_hash

        if self._pepper is None:
            self._pepper = pepper_from_env()
        return credential_hash(reference, self._pepper)

    def register(self, account: str, kind: AccountKind, district: int, credential: str) -> Change:
        receipt = self.city.registry.register(
            self.signer, account, kind, district, self.credential(credential)
        )
        return self._allow(receipt, add=(account,))

    def update(self, account: str, kind: AccountKind, district: int, credential: str) -> Change:
        receipt = self.city.registry.update(
            self.signer, account, kind, district, self.credential(credential)
        )
        return Change(receipt, allowlists=self._urls())

    def freeze(self, account: str) -> Change:
        receipt = self.city.registry.freeze(self.signer, account)
        return self._allow(receipt, remove=(account,))

    def unfreeze(self, account: str) -> Change:
        receipt = self.city.registry.unfreeze(self.signer, account)
        return self._allow(receipt, add=(account,))

    def recover(self, old_account: str, new_account: str) -> Change:
        receipt = self.city.registry.recover(self.signer, old_account, new_account)
        return self._allow(receipt, add=(new_account,), remove=(old_account,))

    def sync(self, account: str) -> bool | None:
        """Allow ``account`` on the nodes if the registry holds it active, else disallow it;
        returns whether it is allowed now (None: no allowlists configured)."""
        if self.allowlists is None:
            return None
        active = self.city.registry.registration_of(account).status is AccountStatus.ACTIVE
        (self.allowlists.add if active else self.allowlists.remove)([account])
        return active

    def _urls(self) -> tuple[str, ...] | None:
        return tuple(self.allowlists.urls) if self.allowlists is not None else None

    def _allow(
        self, receipt: TxReceipt, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> Change:
        if self.allowlists is None:
            return Change(receipt)
        try:
            if add:
                self.allowlists.add(add)
            if remove:
                self.allowlists.remove(remove)
        except PermissioningError as exc:
            raise PermissioningError(
                f"the registry changed (block {receipt['blockNumber']}) but the node "
                f"allowlists did not: {exc}; Registrar.sync (or the node's "
                "permissions file) puts them in line"
            ) from exc
        return Change(receipt, add, remove, self._urls())

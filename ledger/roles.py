"""The city's roles in its AccessManager, by number.

Which role may call which function is declared with each contract in its domain
(:mod:`ledger.domains`, collected as ``ledger.domains.FUNCTION_ROLES``).
Mirrors ``contracts/src/access/CityRoles.sol``.
"""

from __future__ import annotations

from enum import IntEnum

from ledger.exceptions import InputError


class Role(IntEnum):
    ADMIN = 0
    TREASURY = 1
    REGISTRAR = 2
    MERCHANT_ADMIN = 3
    ELECTION_ADMIN = 4
    METER_OPERATOR = 5
    NOTARY_ISSUER = 6
    DATA_STEWARD = 7
    AUDITOR = 8
    PAUSER = 9
    TREASURY_LARGE = 10
    RECOVERY = 11
    PAYMENT_OPERATOR = 12
    """The city's payment service (the API): cancels invoices for merchants."""
    REWARDS_ADMIN = 13
    """Runs the RewardsPool's programmes: creates them, sets caps, names distributors."""

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper().replace("-", "_")]
        except KeyError:
            names = ", ".join(r.label for r in cls)
            raise InputError(f"unknown role {text!r}; roles are: {names}") from None

"""The city's roles in its AccessManager and which role may call which contract function.

Mirrors ``contracts/src/access/CityRoles.sol``; ``FUNCTION_ROLES`` is what the deployer
applies with ``setTargetFunctionRole`` (functions not listed are either public or ADMIN-only,
AccessManager's default for restricted functions).
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


FUNCTION_ROLES: dict[str, dict[str, Role]] = {
    "ResidentRegistry": {
        "register": Role.REGISTRAR,
        "update": Role.REGISTRAR,
        "freeze": Role.REGISTRAR,
        "unfreeze": Role.REGISTRAR,
        "recover": Role.REGISTRAR,
        "setToken": Role.ADMIN,
    },
    "CityToken": {
        "mint": Role.TREASURY,
        "mintAboveLimit": Role.TREASURY_LARGE,
        "setMintLimit": Role.ADMIN,
        "pause": Role.PAUSER,
        "unpause": Role.PAUSER,
        "recoverBalance": Role.RECOVERY,
    },
    "PaymentRouter": {
        "setFeeSchedule": Role.MERCHANT_ADMIN,
        "setCategoryFee": Role.MERCHANT_ADMIN,
        "setMerchantCategory": Role.MERCHANT_ADMIN,
        "setMerchantFee": Role.MERCHANT_ADMIN,
        "confirmRedemption": Role.TREASURY,
        "rejectRedemption": Role.TREASURY,
        "withdrawCityFees": Role.TREASURY,
        "cancelInvoiceFor": Role.PAYMENT_OPERATOR,
    },
    "Elections": {
        "create": Role.ELECTION_ADMIN,
        "setElectionKey": Role.ELECTION_ADMIN,
        "open": Role.ELECTION_ADMIN,
        "publishResult": Role.ELECTION_ADMIN,
    },
    "RewardsPool": {
        "createProgramme": Role.REWARDS_ADMIN,
        "setProgrammeActive": Role.REWARDS_ADMIN,
        "setProgrammeCap": Role.REWARDS_ADMIN,
        "setDistributor": Role.REWARDS_ADMIN,
        "fund": Role.TREASURY,
        "defund": Role.TREASURY,
    },
}

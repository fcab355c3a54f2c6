"""The city's roles in its AccessManager and which role may call which contract function.

This module is the one source of both: the contracts never name a role id (each is
``AccessManaged`` and asks the city's AccessManager), the deployer applies ``FUNCTION_ROLES``
with ``setTargetFunctionRole`` and grants ``Role`` ids, and the contracts' NatSpec points here.
Functions not listed are either public or ADMIN-only (AccessManager's default for a restricted
function). tests/contracts/test_roles.py checks the mapping against the deployed AccessManager
and against the role each function's NatSpec names.

Role ids are stored on chain (grants, function mappings), so they never change meaning: 5-8 are
reserved for the domains to come (energy metering, notarization, data) and must not be reused
for anything else; add a role only with the contract whose functions it guards.
"""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """A role id of the city's AccessManager (its ``uint64 roleId``)."""

    ADMIN = 0
    """The AccessManager's own ``ADMIN_ROLE``: grants roles, maps selectors, sets delays; also
    every restricted function not mapped to another role (AccessManager's default)."""
    TREASURY = 1
    """Mints against fiat deposits up to the mint limit, decides redemptions, withdraws the
    city's fee share, funds and defunds reward programmes."""
    REGISTRAR = 2
    """Registers, updates, freezes, unfreezes and recovers registry accounts."""
    MERCHANT_ADMIN = 3
    """Sets the payment router's fees: the schedule, categories and per-merchant fees."""
    ELECTION_ADMIN = 4
    """Creates, keys, opens and publishes elections and polls."""
    # 5-8: reserved for the domains to come (see the module docstring).
    PAUSER = 9
    """Pauses and unpauses the token (an emergency stop)."""
    TREASURY_LARGE = 10
    """Mints above the mint limit. Granted WITH an execution delay: every such mint is first
    scheduled on the AccessManager, and the role's guardian (ADMIN) can cancel it meanwhile."""
    RECOVERY = 11
    """Moves a retired account's balance to its replacement: held by the ResidentRegistry
    contract only (no delay), which calls the token from ``recover``."""
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
            raise ValueError(f"unknown role {text!r}; roles are: {names}") from None


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

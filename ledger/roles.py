"""The city's roles in its AccessManager, by number.

This module is the one source of the ids: the contracts never name a role id (each is
``AccessManaged`` and asks the city's AccessManager), and their NatSpec points here. Which role
may call which function is declared with each contract in its domain (:mod:`ledger.domains`,
collected as ``ledger.domains.FUNCTION_ROLES``, which the deployer applies with
``setTargetFunctionRole``); functions not listed are public or ADMIN-only (AccessManager's
default for a restricted function). tests/contracts/test_roles.py checks the mapping against the
deployed AccessManager and against the role each function's NatSpec names.

Role ids are stored on chain (grants, function mappings), so they never change meaning: 5-8 are
reserved for the domains to come (energy metering, notarization, data) and must not be reused
for anything else; add a role only with the contract whose functions it guards.
"""

from __future__ import annotations

from enum import IntEnum

from ledger.exceptions import InputError


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
            raise InputError(f"unknown role {text!r}; roles are: {names}") from None

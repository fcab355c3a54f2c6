"""The city's contract domains, each declared once, in its own module here.

A domain (:class:`~ledger.domains.spec.Domain`) names its contracts with their wrappers,
constructor arguments and function roles, the roles it labels and grants, its extra deployment
steps, the index projection its events feed and its ``cityledger`` commands. Everything that
must know the platform's contracts reads :data:`DOMAINS`, in this order:

* :mod:`ledger.deploy` deploys, registers, sets up, wires, labels and grants each domain;
* :class:`ledger.city.City` binds a wrapper to every contract of the manifest;
* :data:`FUNCTION_ROLES` collects their function roles;
* the indexer feeds each domain's events to its projection;
* ``cityledger`` adds each domain's commands (:func:`ledger.cli.add_commands`).

Adding a domain: docs/architecture.md, "Adding a contract domain".
"""

from __future__ import annotations

from ledger.domains.core import CORE
from ledger.domains.payments import PAYMENTS
from ledger.domains.spec import ContractSpec, Domain, Step
from ledger.domains.voting import VOTING
from ledger.roles import Role

DOMAINS: tuple[Domain, ...] = (CORE, PAYMENTS, VOTING)
"""In deployment order: a domain may use the contracts of the ones before it."""

FUNCTION_ROLES: dict[str, dict[str, Role]] = {
    spec.name: dict(spec.roles) for domain in DOMAINS for spec in domain.contracts if spec.roles
}
"""Contract → function → the role that may call it: what the deployment wires with
``setTargetFunctionRole`` (functions not listed are public or ADMIN-only, the AccessManager's
default for restricted functions)."""

__all__ = [
    "DOMAINS",
    "FUNCTION_ROLES",
    "ContractSpec",
    "Domain",
    "Step",
    "contract",
    "contract_names",
]


def contract_names() -> tuple[str, ...]:
    """Every contract of the platform, in deployment order."""
    return tuple(name for domain in DOMAINS for name in domain.contract_names)


def contract(name: str) -> ContractSpec:
    """The declaration of the contract ``name``."""
    for domain in DOMAINS:
        for spec in domain.contracts:
            if spec.name == name:
                return spec
    raise KeyError(name)

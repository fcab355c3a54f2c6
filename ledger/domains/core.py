"""The core domain: the city's authority, its resident registry and its token.

Everything else builds on these three: the AccessManager every contract asks about roles, the
registry of who may hold tokens, and the local currency itself (1 token = ₩1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.domains.spec import ContractSpec, Domain, Step
from ledger.roles import Role

if TYPE_CHECKING:
    from ledger.deploy import Deployment

TOKEN_NAME = "Sejong Local Currency"
TOKEN_SYMBOL = "SJW"


def _link_registry_to_token(deployment: Deployment) -> None:
    deployment.registry().set_token(deployment.deployer, deployment.address("CityToken"))


def _registry_recovers_balances(deployment: Deployment) -> None:
    """Lost-key recovery moves a balance: the registry holds RECOVERY on the token."""
    deployment.authority().grant_role(
        deployment.deployer, Role.RECOVERY, deployment.address("ResidentRegistry")
    )


CORE = Domain(
    name="core",
    contracts=(
        ContractSpec(
            "CityAuthority",
            "ledger.contracts.authority:CityAuthority",
            lambda d: [d.deployer.address],
        ),
        ContractSpec(
            "ResidentRegistry",
            "ledger.contracts.registry:ResidentRegistry",
            lambda d: [d.address("CityAuthority")],
            roles={
                "register": Role.REGISTRAR,
                "update": Role.REGISTRAR,
                "freeze": Role.REGISTRAR,
                "unfreeze": Role.REGISTRAR,
                "recover": Role.REGISTRAR,
                "setToken": Role.ADMIN,
            },
        ),
        ContractSpec(
            "CityToken",
            "ledger.contracts.token:CityToken",
            lambda d: [
                TOKEN_NAME,
                TOKEN_SYMBOL,
                d.address("CityAuthority"),
                d.address("ResidentRegistry"),
                d.plan.mint_limit,
            ],
            roles={
                "mint": Role.TREASURY,
                "mintAboveLimit": Role.TREASURY_LARGE,
                "setMintLimit": Role.ADMIN,
                "pause": Role.PAUSER,
                "unpause": Role.PAUSER,
                "recoverBalance": Role.RECOVERY,
            },
        ),
    ),
    roles=frozenset(
        {Role.TREASURY, Role.TREASURY_LARGE, Role.REGISTRAR, Role.PAUSER, Role.RECOVERY}
    ),
    setup=(
        Step(
            "core.link-registry-to-token", "link the registry to the token", _link_registry_to_token
        ),
        Step(
            "core.registry-recovers-balances",
            "let the registry recover balances",
            _registry_recovers_balances,
        ),
    ),
    projection="ledger.indexer.projections.core:CoreProjection",
    commands="ledger.cli.admin:add_commands",
)

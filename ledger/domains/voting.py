"""The voting domain: M-voting's bulletin board (Elections) and the RewardsPool that pays for
taking part (its "voting" programme; other reward programmes will join it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.domains.spec import ContractSpec, Domain, Step
from ledger.roles import Role

if TYPE_CHECKING:
    from ledger.deploy import Deployment

VOTING_PROGRAMME = "voting"
"""The RewardsPool programme that pays participation in votes (docs/voting-spec.md, section 10)."""
VOTING_CAP = 10_000
"""The most one resident can earn from voting per period (₩)."""
VOTING_PERIOD = 30 * 86_400
"""The voting programme's period: 30 days."""


def _create_voting_programme(deployment: Deployment) -> None:
    """Runs before the pool's functions are wired to their roles: until then they are
    ADMIN-only (the AccessManager's default), and the deployer is an admin."""
    from ledger.contracts.rewards import ProgrammeNotFoundError, RewardsPool

    pool = RewardsPool(deployment.chain, deployment.address("RewardsPool"))
    try:
        programme_id = pool.programme_id(VOTING_PROGRAMME)
    except ProgrammeNotFoundError:
        programme_id = pool.create_programme(
            deployment.deployer, VOTING_PROGRAMME, VOTING_CAP, VOTING_PERIOD
        )
    for account, _delay in deployment.plan.grants.get(Role.ELECTION_ADMIN, []):
        if not pool.is_distributor(programme_id, account):
            pool.set_distributor(deployment.deployer, programme_id, account)


VOTING = Domain(
    name="voting",
    contracts=(
        ContractSpec(
            "Elections",
            "ledger.contracts.elections:Elections",
            lambda d: [d.address("CityAuthority")],
            roles={
                "create": Role.ELECTION_ADMIN,
                "setElectionKey": Role.ELECTION_ADMIN,
                "open": Role.ELECTION_ADMIN,
                "publishResult": Role.ELECTION_ADMIN,
            },
        ),
        ContractSpec(
            "RewardsPool",
            "ledger.contracts.rewards:RewardsPool",
            lambda d: [
                d.address("CityAuthority"),
                d.address("CityToken"),
                d.address("ResidentRegistry"),
            ],
            roles={
                "createProgramme": Role.REWARDS_ADMIN,
                "setProgrammeActive": Role.REWARDS_ADMIN,
                "setProgrammeCap": Role.REWARDS_ADMIN,
                "setDistributor": Role.REWARDS_ADMIN,
                "fund": Role.TREASURY,
                "defund": Role.TREASURY,
            },
            city_service=True,
        ),
    ),
    roles=frozenset({Role.ELECTION_ADMIN, Role.REWARDS_ADMIN}),
    setup=(
        Step(
            "voting.create-voting-programme",
            "create the voting rewards programme",
            _create_voting_programme,
        ),
    ),
    commands="ledger.cli.election:add_commands",
)

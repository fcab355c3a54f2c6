"""Deploy and wire the city's contracts on any JSON-RPC node, recording a manifest.

A deployment is a fixed list of steps. The manifest (``deployments/<network>.json``) records
each finished step as it happens, so a run that stopped half-way resumes where it stopped and a
run over a finished deployment verifies it (code present, code and artifacts unchanged) and
changes nothing. It never silently deploys a second set of contracts over a network.

Contracts added to the platform later come with steps of their own at the end of the list
(before the admin hand-over): a finished deployment made before them is upgraded by running
only those steps, signed by the city's admin once the deployer has handed ADMIN over. So came
the PaymentRouter, then the Elections and the RewardsPool (with its "voting" programme).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_utils import function_abi_to_4byte_selector, keccak, to_checksum_address
from web3.types import TxReceipt

from ledger.chain import Chain
from ledger.contracts.authority import CityAuthority
from ledger.contracts.base import city_artifact
from ledger.contracts.registry import ResidentRegistry
from ledger.contracts.rewards import ProgrammeNotFoundError, RewardsPool
from ledger.exceptions import LedgerError
from ledger.roles import FUNCTION_ROLES, Role
from ledger.types import AccountKind, AccountStatus

TOKEN_NAME = "Sejong Local Currency"
TOKEN_SYMBOL = "SJW"
CONTRACTS = (
    "CityAuthority",
    "ResidentRegistry",
    "CityToken",
    "PaymentRouter",
    "Elections",
    "RewardsPool",
)
PAYMENT_ROLES = frozenset({Role.PAYMENT_OPERATOR})
"""Roles that came with the PaymentRouter: labelled and granted by its own steps, so that a
deployment finished before it gets them when it is upgraded."""
REWARDS_ROLES = frozenset({Role.REWARDS_ADMIN})
"""Roles that came with the RewardsPool, labelled and granted by its steps likewise."""
LATER_ROLES = PAYMENT_ROLES | REWARDS_ROLES
ROUTER_CREDENTIAL = keccak(text="CityLedger contract: PaymentRouter")
"""The router's registry credential hash (a contract has no person or card behind it)."""
ROUTER_DISTRICT = 0
POOL_CREDENTIAL = keccak(text="CityLedger contract: RewardsPool")
"""The rewards pool's registry credential hash."""
POOL_DISTRICT = 0
VOTING_PROGRAMME = "voting"
"""The RewardsPool programme that pays participation in votes (docs/voting-spec.md, section 10)."""
VOTING_CAP = 10_000
"""The most one resident can earn from voting per period (₩)."""
VOTING_PERIOD = 30 * 86_400
"""The voting programme's period: 30 days."""
HAND_OVER = "hand admin to the city"


class DeploymentError(LedgerError):
    """A manifest does not match the chain, or a deployment step failed."""


@dataclass
class Manifest:
    """What was deployed where; written after every step."""

    network: str
    chain_id: int
    deployer: str
    admin: str
    mint_limit: int
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    complete: bool = False
    deployment_block: int | None = None
    temporary_roles: list[list[Any]] = field(default_factory=list)
    """[role, account] the deployment grants itself for a step and renounces right after; kept
    here before they are granted, so an interrupted run still takes them back."""

    def address(self, name: str) -> str:
        return str(self.contracts[name]["address"])

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise DeploymentError(f"cannot read deployment manifest {path}: {exc}") from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)


@dataclass(frozen=True)
class DeployPlan:
    network: str
    admin: str
    mint_limit: int = 10_000_000
    """Largest single mint (₩) without the delayed TREASURY_LARGE role."""
    grants: dict[Role, list[tuple[str, int]]] = field(default_factory=dict)
    """Role → [(account, execution delay in seconds)] to grant at deployment."""


def deploy_city(chain: Chain, deployer: LocalAccount, plan: DeployPlan, path: Path) -> Manifest:
    """Run (or resume, or verify) the deployment described by ``plan``; return its manifest."""
    if path.exists():
        manifest = Manifest.load(path)
        _check_same_target(chain, manifest, plan)
        if manifest.complete:
            deployed = [name for name in CONTRACTS if name in manifest.contracts]
            problems = verify_deployment(chain, manifest, deployed)
            if problems:
                raise DeploymentError(f"{path} does not match the chain: " + "; ".join(problems))
            steps = _steps(chain, deployer, plan, manifest)
            pending = [name for name, _ in steps if name not in manifest.steps]
            if not pending:
                return manifest
            _check_can_upgrade(chain, deployer, manifest, pending)
            manifest.complete = False
    else:
        manifest = Manifest(
            network=plan.network,
            chain_id=chain.chain_id,
            deployer=deployer.address,
            admin=to_checksum_address(plan.admin),
            mint_limit=plan.mint_limit,
        )
    for name, step in _steps(chain, deployer, plan, manifest):
        if name in manifest.steps:
            continue
        step()
        manifest.steps.append(name)
        manifest.save(path)
    manifest.complete = True
    manifest.save(path)
    return manifest


def _check_same_target(chain: Chain, manifest: Manifest, plan: DeployPlan) -> None:
    if manifest.chain_id != chain.chain_id:
        raise DeploymentError(
            f"the manifest for {manifest.network!r} is for chain {manifest.chain_id}, "
            f"the node serves chain {chain.chain_id}"
        )
    if manifest.admin != to_checksum_address(plan.admin):
        raise DeploymentError(
            f"{manifest.network!r} was deployed with admin {manifest.admin}; "
            "change the admin through the AccessManager, not by redeploying"
        )


def _check_can_upgrade(
    chain: Chain, deployer: LocalAccount, manifest: Manifest, pending: list[str]
) -> None:
    """Upgrading a deployment already handed to the city needs the city's admin as signer."""
    if HAND_OVER not in manifest.steps:
        return
    authority = CityAuthority(chain, manifest.address("CityAuthority"))
    if not authority.has_role(Role.ADMIN, deployer.address).is_member:
        raise DeploymentError(
            f"{manifest.network!r} lacks {', '.join(pending)}; it was handed to the city's admin "
            f"{manifest.admin}, so the upgrade must be signed by an admin, not {deployer.address}"
        )


def _steps(
    chain: Chain, deployer: LocalAccount, plan: DeployPlan, manifest: Manifest
) -> list[tuple[str, Callable[[], object]]]:
    def deploy(name: str, args: Callable[[], list[Any]]) -> Callable[[], None]:
        def run() -> None:
            artifact = city_artifact(name)
            data = (
                chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
                .constructor(*args())
                .data_in_transaction
            )
            receipt = chain.transact(deployer, data=bytes.fromhex(data[2:]))
            _record(chain, manifest, name, receipt)

        return run

    def authority() -> CityAuthority:
        return CityAuthority(chain, manifest.address("CityAuthority"))

    def wire_functions(*targets: str) -> Callable[[], None]:
        def run() -> None:
            for target in targets:
                by_role: dict[Role, list[bytes]] = defaultdict(list)
                for function, role in FUNCTION_ROLES[target].items():
                    if role is not Role.ADMIN:  # ADMIN is AccessManager's default
                        by_role[role].append(_selector(target, function))
                for role, selectors in sorted(by_role.items()):
                    authority().set_target_function_role(
                        deployer, manifest.address(target), selectors, role
                    )

        return run

    def label(roles: list[Role]) -> Callable[[], None]:
        def run() -> None:
            for role in roles:
                authority().label_role(deployer, role)

        return run

    def grant_plan(roles: frozenset[Role]) -> Callable[[], None]:
        def run() -> None:
            for role, members in sorted(plan.grants.items()):
                if role in roles:
                    for account, delay in members:
                        authority().grant_role(deployer, role, account, delay)

        return run

    def registered(name: str) -> bool:
        registry = ResidentRegistry(chain, manifest.address("ResidentRegistry"))
        status = registry.registration_of(manifest.address(name)).status
        return status is not AccountStatus.NONE

    def plan_temporary_registrar(name: str) -> Callable[[], None]:
        def run() -> None:
            # Recorded (and saved with this step) before anything is granted.
            if registered(name) or authority().has_role(Role.REGISTRAR, deployer.address).is_member:
                return
            entry = [int(Role.REGISTRAR), deployer.address]
            if entry not in manifest.temporary_roles:
                manifest.temporary_roles.append(entry)

        return run

    def register_service(name: str, district: int, credential: bytes) -> Callable[[], None]:
        def run() -> None:
            for role, account in manifest.temporary_roles:
                if not authority().has_role(Role(role), account).is_member:
                    authority().grant_role(deployer, Role(role), account)
            if not registered(name):
                ResidentRegistry(chain, manifest.address("ResidentRegistry")).register(
                    deployer,
                    manifest.address(name),
                    AccountKind.CITY_SERVICE,
                    district,
                    credential,
                )

        return run

    def give_back_temporary_roles() -> None:
        for role, account in manifest.temporary_roles:
            if authority().has_role(Role(role), account).is_member:
                if account == deployer.address:
                    authority().renounce_role(deployer, Role(role))
                else:
                    authority().revoke_role(deployer, Role(role), account)
        manifest.temporary_roles.clear()

    def create_voting_programme() -> None:
        # Runs before the pool's functions are mapped to their roles: until then they are
        # ADMIN-only (the AccessManager's default), and the signer is an admin.
        pool = RewardsPool(chain, manifest.address("RewardsPool"))
        try:
            programme_id = pool.programme_id(VOTING_PROGRAMME)
        except ProgrammeNotFoundError:
            programme_id = pool.create_programme(
                deployer, VOTING_PROGRAMME, VOTING_CAP, VOTING_PERIOD
            )
        for account, _delay in plan.grants.get(Role.ELECTION_ADMIN, []):
            if not pool.is_distributor(programme_id, account):
                pool.set_distributor(deployer, programme_id, account)

    def hand_over_admin() -> None:
        if manifest.admin != deployer.address:
            authority().grant_role(deployer, Role.ADMIN, manifest.admin)
            authority().renounce_role(deployer, Role.ADMIN)

    return [
        ("deploy CityAuthority", deploy("CityAuthority", lambda: [deployer.address])),
        (
            "deploy ResidentRegistry",
            deploy("ResidentRegistry", lambda: [manifest.address("CityAuthority")]),
        ),
        (
            "deploy CityToken",
            deploy(
                "CityToken",
                lambda: [
                    TOKEN_NAME,
                    TOKEN_SYMBOL,
                    manifest.address("CityAuthority"),
                    manifest.address("ResidentRegistry"),
                    plan.mint_limit,
                ],
            ),
        ),
        ("wire function roles", wire_functions("ResidentRegistry", "CityToken")),
        (
            "link registry to token",
            lambda: ResidentRegistry(chain, manifest.address("ResidentRegistry")).set_token(
                deployer, manifest.address("CityToken")
            ),
        ),
        (
            "let the registry recover balances",
            lambda: authority().grant_role(
                deployer, Role.RECOVERY, manifest.address("ResidentRegistry")
            ),
        ),
        ("label roles", label([r for r in Role if r and r not in LATER_ROLES])),
        ("grant planned roles", grant_plan(frozenset(Role) - LATER_ROLES)),
        # -- the PaymentRouter (a deployment finished before it resumes here) --
        (
            "deploy PaymentRouter",
            deploy(
                "PaymentRouter",
                lambda: [
                    manifest.address("CityAuthority"),
                    manifest.address("CityToken"),
                    manifest.address("ResidentRegistry"),
                ],
            ),
        ),
        ("plan a temporary registrar role", plan_temporary_registrar("PaymentRouter")),
        (
            "register PaymentRouter as a city service",
            register_service("PaymentRouter", ROUTER_DISTRICT, ROUTER_CREDENTIAL),
        ),
        ("give back temporary roles", give_back_temporary_roles),
        ("wire PaymentRouter function roles", wire_functions("PaymentRouter")),
        ("label payment roles", label(sorted(PAYMENT_ROLES))),
        ("grant planned payment roles", grant_plan(PAYMENT_ROLES)),
        # -- the Elections and the RewardsPool (deployments finished before them resume here) --
        ("deploy Elections", deploy("Elections", lambda: [manifest.address("CityAuthority")])),
        ("wire Elections function roles", wire_functions("Elections")),
        (
            "deploy RewardsPool",
            deploy(
                "RewardsPool",
                lambda: [
                    manifest.address("CityAuthority"),
                    manifest.address("CityToken"),
                    manifest.address("ResidentRegistry"),
                ],
            ),
        ),
        (
            "plan a temporary registrar role for the RewardsPool",
            plan_temporary_registrar("RewardsPool"),
        ),
        (
            "register RewardsPool as a city service",
            register_service("RewardsPool", POOL_DISTRICT, POOL_CREDENTIAL),
        ),
        ("give back the RewardsPool's temporary roles", give_back_temporary_roles),
        ("create the voting rewards programme", create_voting_programme),
        ("wire RewardsPool function roles", wire_functions("RewardsPool")),
        ("label rewards roles", label(sorted(REWARDS_ROLES))),
        ("grant planned rewards roles", grant_plan(REWARDS_ROLES)),
        (HAND_OVER, hand_over_admin),
    ]


def _record(chain: Chain, manifest: Manifest, name: str, receipt: TxReceipt) -> None:
    address = receipt["contractAddress"]
    if address is None:
        raise DeploymentError(f"deploying {name} created no contract")
    with chain.rpc_errors():
        code = chain.w3.eth.get_code(address)
    manifest.contracts[name] = {
        "address": address,
        "block": receipt["blockNumber"],
        "tx": receipt["transactionHash"].to_0x_hex(),
        "codeHash": "0x" + keccak(bytes(code)).hex(),
        "sourceHash": city_artifact(name).source_hash,
    }
    if manifest.deployment_block is None:
        manifest.deployment_block = receipt["blockNumber"]


def verify_deployment(
    chain: Chain, manifest: Manifest, names: Sequence[str] = CONTRACTS
) -> list[str]:
    """Problems that make the manifest untrustworthy for this chain (empty list: all good)."""
    problems = []
    for name in names:
        entry = manifest.contracts.get(name)
        if entry is None:
            problems.append(f"{name} is missing from the manifest")
            continue
        with chain.rpc_errors():
            code = bytes(chain.w3.eth.get_code(entry["address"]))
        if not code:
            problems.append(f"no code at {name}'s address {entry['address']} (chain reset?)")
        elif "0x" + keccak(code).hex() != entry["codeHash"]:
            problems.append(f"{name}'s code at {entry['address']} differs from the deployed one")
        if entry["sourceHash"] != city_artifact(name).source_hash:
            problems.append(
                f"{name}'s source changed since it was deployed: this needs a migration, "
                "not a silent redeploy"
            )
    return problems


def _selector(contract: str, function: str) -> bytes:
    matches = [
        entry
        for entry in city_artifact(contract).abi
        if entry.get("type") == "function" and entry["name"] == function
    ]
    if len(matches) != 1:
        raise DeploymentError(f"{contract}.{function} is not one function in the ABI")
    return bytes(function_abi_to_4byte_selector(cast(Any, matches[0])))

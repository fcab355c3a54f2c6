"""Deploy and wire the city's contracts on any JSON-RPC node, recording a manifest.

A deployment is the list of steps :func:`steps` derives from :data:`ledger.domains.DOMAINS`.
The manifest (``deployments/<network>.json``) records each finished step by its stable id as it
happens, so a run that stopped half-way resumes where it stopped and a run over a finished
deployment verifies it (code present, code and artifacts unchanged) and changes nothing. It
never silently deploys a second set of contracts over a network.

A domain added to the platform later brings its steps after the existing ones (before the
admin hand-over): a finished deployment made before it is upgraded by running only those
steps, signed by the city's admin once the deployer has handed ADMIN over. So came the
PaymentRouter, then the Elections and the RewardsPool. Manifests written before steps had ids
recorded their labels; :data:`LEGACY_STEPS` reads them.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_utils import function_abi_to_4byte_selector, keccak, to_checksum_address
from web3.types import TxReceipt

from ledger.chain import Chain
from ledger.contracts.authority import CityAuthority
from ledger.contracts.base import city_artifact
from ledger.contracts.registry import ResidentRegistry
from ledger.domains import DOMAINS, FUNCTION_ROLES, Domain, contract, contract_names
from ledger.exceptions import LedgerError
from ledger.roles import Role
from ledger.types import AccountKind, AccountStatus

SERVICE_DISTRICT = 0
"""The district a contract registered as a city service is given (it lives nowhere)."""
HAND_OVER = "hand-over"
LEGACY_STEPS: dict[str, tuple[str, ...]] = {
    "deploy CityAuthority": ("core.deploy.CityAuthority",),
    "deploy ResidentRegistry": ("core.deploy.ResidentRegistry",),
    "deploy CityToken": ("core.deploy.CityToken",),
    "wire function roles": ("core.wire.ResidentRegistry", "core.wire.CityToken"),
    "link registry to token": ("core.link-registry-to-token",),
    "let the registry recover balances": ("core.registry-recovers-balances",),
    "label roles": ("core.label-roles",),
    "grant planned roles": ("core.grant-roles",),
    "deploy PaymentRouter": ("payments.deploy.PaymentRouter",),
    "plan a temporary registrar role": ("payments.plan-registrar.PaymentRouter",),
    "register PaymentRouter as a city service": ("payments.register.PaymentRouter",),
    "give back temporary roles": ("payments.give-back-roles",),
    "wire PaymentRouter function roles": ("payments.wire.PaymentRouter",),
    "label payment roles": ("payments.label-roles",),
    "grant planned payment roles": ("payments.grant-roles",),
    "deploy Elections": ("voting.deploy.Elections",),
    "wire Elections function roles": ("voting.wire.Elections",),
    "deploy RewardsPool": ("voting.deploy.RewardsPool",),
    "plan a temporary registrar role for the RewardsPool": ("voting.plan-registrar.RewardsPool",),
    "register RewardsPool as a city service": ("voting.register.RewardsPool",),
    "give back the RewardsPool's temporary roles": ("voting.give-back-roles",),
    "create the voting rewards programme": ("voting.create-voting-programme",),
    "wire RewardsPool function roles": ("voting.wire.RewardsPool",),
    "label rewards roles": ("voting.label-roles",),
    "grant planned rewards roles": ("voting.grant-roles",),
    "hand admin to the city": (HAND_OVER,),
}
"""The labels manifests recorded before steps had ids, and the steps each one did."""


def service_credential(name: str) -> bytes:
    """The registry credential hash of a contract registered as a city service."""
    return keccak(text=f"CityLedger contract: {name}")


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
            manifest = cls(**json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise DeploymentError(f"cannot read deployment manifest {path}: {exc}") from exc
        manifest.steps = _step_ids(manifest.steps)
        return manifest

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


@dataclass
class Deployment:
    """What a deployment's steps work with: the chain, the deployer, the plan and the manifest
    as far as it got. The domains' own steps (:class:`ledger.domains.Step`) receive it."""

    chain: Chain
    deployer: LocalAccount
    plan: DeployPlan
    manifest: Manifest

    def address(self, name: str) -> str:
        return self.manifest.address(name)

    def authority(self) -> CityAuthority:
        return CityAuthority(self.chain, self.address("CityAuthority"))

    def registry(self) -> ResidentRegistry:
        return ResidentRegistry(self.chain, self.address("ResidentRegistry"))

    def deploy(self, name: str) -> None:
        artifact = city_artifact(name)
        data = (
            self.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
            .constructor(*contract(name).constructor(self))
            .data_in_transaction
        )
        receipt = self.chain.transact(self.deployer, data=bytes.fromhex(data[2:]))
        _record(self.chain, self.manifest, name, receipt)

    def registered(self, name: str) -> bool:
        status = self.registry().registration_of(self.address(name)).status
        return status is not AccountStatus.NONE

    def plan_temporary_registrar(self, name: str) -> None:
        """Record (saved with this step, before anything is granted) that the deployer needs
        REGISTRAR for a moment, so an interrupted run still takes it back."""
        if self.registered(name):
            return
        if self.authority().has_role(Role.REGISTRAR, self.deployer.address).is_member:
            return
        entry = [int(Role.REGISTRAR), self.deployer.address]
        if entry not in self.manifest.temporary_roles:
            self.manifest.temporary_roles.append(entry)

    def register_service(self, name: str) -> None:
        for role, account in self.manifest.temporary_roles:
            if not self.authority().has_role(Role(role), account).is_member:
                self.authority().grant_role(self.deployer, Role(role), account)
        if not self.registered(name):
            self.registry().register(
                self.deployer,
                self.address(name),
                AccountKind.CITY_SERVICE,
                SERVICE_DISTRICT,
                service_credential(name),
            )

    def give_back_temporary_roles(self) -> None:
        for role, account in self.manifest.temporary_roles:
            if self.authority().has_role(Role(role), account).is_member:
                if account == self.deployer.address:
                    self.authority().renounce_role(self.deployer, Role(role))
                else:
                    self.authority().revoke_role(self.deployer, Role(role), account)
        self.manifest.temporary_roles.clear()

    def wire(self, name: str) -> None:
        """Map each restricted function of ``name`` to its role (ADMIN is the default)."""
        by_role: dict[Role, list[bytes]] = defaultdict(list)
        for function, role in FUNCTION_ROLES.get(name, {}).items():
            if role is not Role.ADMIN:
                by_role[role].append(_selector(name, function))
        for role, selectors in sorted(by_role.items()):
            self.authority().set_target_function_role(
                self.deployer, self.address(name), selectors, role
            )

    def label(self, roles: frozenset[Role]) -> None:
        for role in sorted(roles):
            self.authority().label_role(self.deployer, role)

    def grant(self, roles: frozenset[Role]) -> None:
        """The plan's grants of ``roles``."""
        for role, members in sorted(self.plan.grants.items()):
            if role in roles:
                for account, delay in members:
                    self.authority().grant_role(self.deployer, role, account, delay)

    def hand_over(self) -> None:
        if self.manifest.admin != self.deployer.address:
            self.authority().grant_role(self.deployer, Role.ADMIN, self.manifest.admin)
            self.authority().renounce_role(self.deployer, Role.ADMIN)


Run = Callable[[Deployment], object]


def domain_steps(domain: Domain) -> list[tuple[str, Run]]:
    """One domain's steps, in order (see :class:`ledger.domains.Domain`)."""
    name = domain.name
    contracts = [c.name for c in domain.contracts]
    services = [c.name for c in domain.contracts if c.city_service]
    steps: list[tuple[str, Run]] = [
        (f"{name}.deploy.{c}", partial(Deployment.deploy, name=c)) for c in contracts
    ]
    for service in services:
        steps.append(
            (
                f"{name}.plan-registrar.{service}",
                partial(Deployment.plan_temporary_registrar, name=service),
            )
        )
        steps.append(
            (f"{name}.register.{service}", partial(Deployment.register_service, name=service))
        )
    if services:
        steps.append((f"{name}.give-back-roles", Deployment.give_back_temporary_roles))
    steps += [(step.id, step.run) for step in domain.setup]
    wired = [c.name for c in domain.contracts if c.roles]
    steps += [(f"{name}.wire.{c}", partial(Deployment.wire, name=c)) for c in wired]
    steps.append((f"{name}.label-roles", partial(Deployment.label, roles=domain.roles)))
    steps.append((f"{name}.grant-roles", partial(Deployment.grant, roles=domain.roles)))
    return steps


def steps() -> list[tuple[str, Run]]:
    """Every domain's steps in :data:`DOMAINS` order, then the admin hand-over."""
    return [step for domain in DOMAINS for step in domain_steps(domain)] + [
        (HAND_OVER, Deployment.hand_over)
    ]


def deploy_city(
    chain: Chain,
    deployer: LocalAccount,
    plan: DeployPlan,
    path: Path,
    report: Callable[[int, int], None] | None = None,
) -> Manifest:
    """Run (or resume, or verify) the deployment described by ``plan``; return its manifest.
    ``report(steps_done, steps)`` hears of each step finished (or found finished)."""
    if path.exists():
        manifest = Manifest.load(path)
        _check_same_target(chain, manifest, plan)
        if manifest.complete:
            deployed = [name for name in contract_names() if name in manifest.contracts]
            problems = verify_deployment(chain, manifest, deployed)
            if problems:
                raise DeploymentError(f"{path} does not match the chain: " + "; ".join(problems))
            pending = [step for step, _ in steps() if step not in manifest.steps]
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
    deployment = Deployment(chain, deployer, plan, manifest)
    todo = steps()
    for done, (step, run) in enumerate(todo, start=1):
        if step not in manifest.steps:
            run(deployment)
            manifest.steps.append(step)
            manifest.save(path)
        if report is not None:
            report(done, len(todo))
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
        missing = sorted({step.split(".")[0] for step in pending})
        raise DeploymentError(
            f"{manifest.network!r} lacks the {', '.join(missing)} domain; it was handed to the "
            f"city's admin {manifest.admin}, so the upgrade must be signed by an admin, not "
            f"{deployer.address}"
        )


def _step_ids(recorded: Sequence[str]) -> list[str]:
    """Step ids for what a manifest recorded (labels of a manifest made before ids: see
    :data:`LEGACY_STEPS`)."""
    ids: list[str] = []
    for step in recorded:
        for step_id in LEGACY_STEPS.get(step, (step,)):
            if step_id not in ids:
                ids.append(step_id)
    return ids


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
    chain: Chain, manifest: Manifest, names: Sequence[str] | None = None
) -> list[str]:
    """Problems that make the manifest untrustworthy for this chain (empty list: all good)."""
    problems = []
    for name in contract_names() if names is None else names:
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

"""Deploy and wire the city's contracts on any JSON-RPC node, recording a manifest.

A deployment is a fixed list of steps. The manifest (``deployments/<network>.json``) records
each finished step as it happens, so a run that stopped half-way resumes where it stopped and a
run over a finished deployment verifies it (code present, code and artifacts unchanged) and
changes nothing. It never silently deploys a second set of contracts over a network.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable
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
from ledger.exceptions import LedgerError
from ledger.roles import FUNCTION_ROLES, Role

TOKEN_NAME = "Sejong Local Currency"
TOKEN_SYMBOL = "SJW"
CONTRACTS = ("CityAuthority", "ResidentRegistry", "CityToken")


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
            problems = verify_deployment(chain, manifest)
            if problems:
                raise DeploymentError(f"{path} does not match the chain: " + "; ".join(problems))
            return manifest
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

    def wire_functions() -> None:
        for target, functions in FUNCTION_ROLES.items():
            by_role: dict[Role, list[bytes]] = defaultdict(list)
            for function, role in functions.items():
                if role is not Role.ADMIN:  # ADMIN is AccessManager's default
                    by_role[role].append(_selector(target, function))
            for role, selectors in sorted(by_role.items()):
                authority().set_target_function_role(
                    deployer, manifest.address(target), selectors, role
                )

    def grant_plan() -> None:
        for role, members in sorted(plan.grants.items()):
            for account, delay in members:
                authority().grant_role(deployer, role, account, delay)

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
        ("wire function roles", wire_functions),
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
        ("label roles", lambda: [authority().label_role(deployer, r) for r in Role if r]),
        ("grant planned roles", grant_plan),
        ("hand admin to the city", hand_over_admin),
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


def verify_deployment(chain: Chain, manifest: Manifest) -> list[str]:
    """Problems that make the manifest untrustworthy for this chain (empty list: all good)."""
    problems = []
    for name in CONTRACTS:
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

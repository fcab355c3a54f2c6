"""The city's contracts on one chain, found through a deployment manifest.

Every tool starts here: ``City.connect(settings)`` binds a wrapper to every contract of every
domain (:data:`ledger.domains.DOMAINS`) on one :class:`~ledger.chain.Chain`;
``city.get(Wrapper)`` returns one, and the core and older domains have properties for theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

from ledger.chain import Chain
from ledger.config import LedgerSettings
from ledger.contracts.authority import CityAuthority
from ledger.contracts.base import ContractWrapper
from ledger.contracts.elections import Elections
from ledger.contracts.payments import PaymentRouter
from ledger.contracts.registry import ResidentRegistry
from ledger.contracts.rewards import RewardsPool
from ledger.contracts.token import CityToken
from ledger.deploy import DeploymentError, Manifest
from ledger.domains import DOMAINS
from ledger.domains.spec import load

W = TypeVar("W", bound=ContractWrapper)


@dataclass(frozen=True)
class City:
    chain: Chain
    manifest: Manifest
    contracts: dict[str, ContractWrapper] = field(repr=False)
    """Contract name → its wrapper, for every contract of the manifest."""

    @classmethod
    def connect(cls, settings: LedgerSettings, manifest_path: Path | None = None) -> City:
        """The deployment named by ``settings``, on a node proven to serve it."""
        path = manifest_path or settings.deployment_file
        manifest = load_manifest(path)
        chain = Chain(
            settings.rpc_url, chain_id=manifest.chain_id, receipt_timeout=settings.receipt_timeout
        )
        city = cls.at(chain, manifest)
        city.verify(path)
        return city

    def verify(self, path: Path) -> None:
        """Fail early on a node of another chain, or one without the deployed contracts
        (a dev chain that was reset), rather than reading zeros from empty addresses."""
        chain_id = self.chain.chain_id  # raises ChainUnavailableError / WrongChainError
        with self.chain.rpc_errors():
            code = self.chain.w3.eth.get_code(self.token.address)
        if not code:
            raise DeploymentError(
                f"no CityToken contract at {self.token.address} on chain {chain_id}: "
                f"{path} describes another deployment (was the chain reset?)"
            )

    @classmethod
    def at(cls, chain: Chain, manifest: Manifest) -> City:
        wrappers: dict[str, ContractWrapper] = {}
        for domain in DOMAINS:
            for spec in domain.contracts:
                if spec.name in manifest.contracts:
                    wrapper: type[ContractWrapper] = load(spec.wrapper)
                    wrappers[spec.name] = wrapper(chain, manifest.address(spec.name))
        return cls(chain, manifest, wrappers)

    def get(self, kind: type[W]) -> W:
        """The deployed contract ``kind`` wraps (its ``ARTIFACT``)."""
        try:
            found = self.contracts[kind.ARTIFACT]
        except KeyError:
            raise DeploymentError(
                f"the deployment has no {kind.ARTIFACT}: rerun `cityledger deploy`"
            ) from None
        return cast(W, found)

    @property
    def authority(self) -> CityAuthority:
        return self.get(CityAuthority)

    @property
    def registry(self) -> ResidentRegistry:
        return self.get(ResidentRegistry)

    @property
    def token(self) -> CityToken:
        return self.get(CityToken)

    @property
    def payments(self) -> PaymentRouter:
        return self.get(PaymentRouter)

    @property
    def elections(self) -> Elections:
        return self.get(Elections)

    @property
    def rewards(self) -> RewardsPool:
        return self.get(RewardsPool)


def load_manifest(path: Path) -> Manifest:
    """A finished deployment's manifest of every domain, or a DeploymentError saying what to do."""
    if not path.exists():
        raise DeploymentError(
            f"no deployment manifest at {path}: run `cityledger deploy` (or `make up`) first, "
            "or point --deployments-dir/--network (CITYLEDGER_DEPLOYMENTS_DIR/"
            "CITYLEDGER_NETWORK) at the city's deployment"
        )
    manifest = Manifest.load(path)
    if not manifest.complete:
        raise DeploymentError(f"the deployment in {path} is incomplete: rerun the deploy")
    for domain in DOMAINS:
        for name in domain.contract_names:
            if name not in manifest.contracts:
                raise DeploymentError(
                    f"the deployment in {path} predates the {name}: rerun `cityledger deploy` "
                    f"signed by the city's admin ({manifest.admin}) to add it"
                )
    return manifest

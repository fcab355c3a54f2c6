"""The city's contracts on one chain, found through a deployment manifest.

Every tool starts here: ``City.connect(settings)`` gives the token, registry, authority, payment
router, elections and rewards pool wrappers bound to one :class:`~ledger.chain.Chain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.chain import Chain
from ledger.config import LedgerSettings
from ledger.contracts.authority import CityAuthority
from ledger.contracts.elections import Elections
from ledger.contracts.payments import PaymentRouter
from ledger.contracts.registry import ResidentRegistry
from ledger.contracts.rewards import RewardsPool
from ledger.contracts.token import CityToken
from ledger.deploy import DeploymentError, Manifest


@dataclass(frozen=True)
class City:
    chain: Chain
    manifest: Manifest
    authority: CityAuthority
    registry: ResidentRegistry
    token: CityToken
    payments: PaymentRouter
    elections: Elections
    rewards: RewardsPool

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
        return cls(
            chain,
            manifest,
            CityAuthority(chain, manifest.address("CityAuthority")),
            ResidentRegistry(chain, manifest.address("ResidentRegistry")),
            CityToken(chain, manifest.address("CityToken")),
            PaymentRouter(chain, manifest.address("PaymentRouter")),
            Elections(chain, manifest.address("Elections")),
            RewardsPool(chain, manifest.address("RewardsPool")),
        )


def load_manifest(path: Path) -> Manifest:
    """A finished deployment's manifest, or a DeploymentError saying what to do."""
    if not path.exists():
        raise DeploymentError(
            f"no deployment manifest at {path}: run `cityledger deploy` (or `make up`) first, "
            "or point --deployments-dir/--network (CITYLEDGER_DEPLOYMENTS_DIR/"
            "CITYLEDGER_NETWORK) at the city's deployment"
        )
    manifest = Manifest.load(path)
    if not manifest.complete:
        raise DeploymentError(f"the deployment in {path} is incomplete: rerun the deploy")
    for name in ("PaymentRouter", "Elections", "RewardsPool"):
        if name not in manifest.contracts:
            raise DeploymentError(
                f"the deployment in {path} predates the {name}: rerun `cityledger deploy` "
                f"signed by the city's admin ({manifest.admin}) to add it"
            )
    return manifest

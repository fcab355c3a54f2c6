"""The city's contracts on one chain, found through a deployment manifest.

Every tool starts here: ``City.connect(settings)`` gives the token, registry and authority
wrappers bound to one :class:`~ledger.chain.Chain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.chain import Chain
from ledger.config import LedgerSettings
from ledger.contracts.authority import CityAuthority
from ledger.contracts.registry import ResidentRegistry
from ledger.contracts.token import CityToken
from ledger.deploy import DeploymentError, Manifest


@dataclass(frozen=True)
class City:
    chain: Chain
    manifest: Manifest
    authority: CityAuthority
    registry: ResidentRegistry
    token: CityToken

    @classmethod
    def connect(cls, settings: LedgerSettings, manifest_path: Path | None = None) -> City:
        path = manifest_path or settings.deployment_file
        if not path.exists():
            raise DeploymentError(
                f"no deployment manifest at {path}: run `cityledger deploy` (or `make up`) first, "
                "or point CITYLEDGER_DEPLOYMENTS_DIR/--network at the right one"
            )
        manifest = Manifest.load(path)
        if not manifest.complete:
            raise DeploymentError(f"the deployment in {path} is incomplete: rerun the deploy")
        chain = Chain(
            settings.rpc_url, chain_id=manifest.chain_id, receipt_timeout=settings.receipt_timeout
        )
        return cls.at(chain, manifest)

    @classmethod
    def at(cls, chain: Chain, manifest: Manifest) -> City:
        return cls(
            chain,
            manifest,
            CityAuthority(chain, manifest.address("CityAuthority")),
            ResidentRegistry(chain, manifest.address("ResidentRegistry")),
            CityToken(chain, manifest.address("CityToken")),
        )

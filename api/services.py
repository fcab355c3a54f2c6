"""What routes reach beyond the database: the city's contracts and the service signer.

Both are opened on first use, not at start-up, so the API serves health and index reads while
the chain is unreachable, and a misconfigured signer fails only the routes that sign.
"""

from __future__ import annotations

import threading
from functools import cached_property

from eth_account.signers.local import LocalAccount

from api.core.config import Settings
from api.locks import KeyedLocks
from ledger.city import City, load_manifest
from ledger.deploy import DeploymentError, Manifest
from ledger.exceptions import ConfigError, LedgerError
from ledger.keys import KeyStore, signer_from_env
from ledger.secrets import read_secret_file
from ledger.voting.files import ElectionFiles

SERVICE_KEY_ENV = "CITYLEDGER_API_SERVICE_KEY"
ROUTER = "PaymentRouter"


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._city: City | None = None
        self._signer: LocalAccount | None = None
        self.invoice_locks = KeyedLocks()
        """One relayed payment of an invoice at a time (see :mod:`api.locks`)."""

    @property
    def city(self) -> City:
        """The deployment, connected (and verified) once; a failure is retried next time."""
        with self._lock:
            if self._city is None:
                self._city = City.connect(self.settings.ledger)
            return self._city

    @cached_property
    def manifest(self) -> Manifest:
        """The deployment manifest (read once; no RPC needed)."""
        return load_manifest(self.settings.ledger.deployment_file)

    @property
    def chain_id(self) -> int:
        return self.manifest.chain_id

    @property
    def election_files(self) -> ElectionFiles:
        """The votes' published manifests and eligibility lists (no RPC needed)."""
        return ElectionFiles(self.settings.elections_path, self.chain_id)

    @property
    def router_address(self) -> str:
        try:
            return self.manifest.address(ROUTER)
        except KeyError:
            raise DeploymentError(
                f"the deployment {self.manifest.network!r} has no {ROUTER}: redeploy the city"
            ) from None

    @property
    def service_signer(self) -> LocalAccount:
        """The API's own account (PAYMENT_OPERATOR): never a resident's or merchant's key."""
        with self._lock:
            if self._signer is None:
                self._signer = self._load_signer()
            return self._signer

    @property
    def service_address(self) -> str | None:
        """The service account's address, or None while it is not configured."""
        try:
            return self.service_signer.address
        except LedgerError:
            return None

    def _load_signer(self) -> LocalAccount:
        signer = signer_from_env(SERVICE_KEY_ENV)
        if signer is not None:
            return signer
        keystore = self.settings.service_keystore
        if keystore is None:
            raise ConfigError(
                f"no service signer: set ${SERVICE_KEY_ENV}, or CITYLEDGER_API_SERVICE_KEYSTORE "
                "(a keystore file <alias>.json) with CITYLEDGER_API_SERVICE_PASSWORD_FILE"
            )
        password_file = self.settings.service_password_file
        if password_file is None:
            raise ConfigError("CITYLEDGER_API_SERVICE_PASSWORD_FILE unlocks the service keystore")
        return KeyStore(keystore.parent).unlock(keystore.stem, read_secret_file(password_file))

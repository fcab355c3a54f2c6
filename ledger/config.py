"""Settings shared by every CityLedger tool, from the environment (CITYLEDGER_*) or flags.

The defaults here are the only ones: the command-line options of both CLIs and the API's
settings (which nest these) take them from this module.

Secrets (private keys, keystore passwords) are never settings with defaults: they come from a
keystore plus a prompt, an environment variable or a file (see :mod:`ledger.secrets`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_NETWORK = "local"
DEFAULT_DEPLOYMENTS_DIR = Path("deployments")
DEFAULT_DATA_DIR = Path(".cityledger")
"""The operator's local state: the index, published vote files, the dev chain of `make up`."""
DEFAULT_KEYSTORE_DIR = DEFAULT_DATA_DIR / "keystore"
"""The operator CLI's keystores (staff keys; the wallet keeps residents' in their home)."""
DEFAULT_NODE_DIR = DEFAULT_DATA_DIR / "node"


class LedgerSettings(BaseSettings):
    """Where the chain is, which deployment of the city's contracts to use, and where the
    local state lives."""

    model_config = SettingsConfigDict(env_prefix="CITYLEDGER_", extra="ignore")

    rpc_url: str = Field(default=DEFAULT_RPC_URL, description="JSON-RPC endpoint of the chain")
    chain_id: int | None = Field(default=None, description="refuse a node on another chain")
    network: str = Field(
        default=DEFAULT_NETWORK, description="deployment name: deployments/<network>.json"
    )
    deployments_dir: Path = Field(default=DEFAULT_DEPLOYMENTS_DIR)
    receipt_timeout: float = Field(default=60.0, gt=0)
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="local state (the index)")
    db_url: str | None = Field(
        default=None, description="index database (default: SQLite in data_dir)"
    )

    @property
    def deployment_file(self) -> Path:
        return self.deployments_dir / f"{self.network}.json"

    @property
    def database_url(self) -> str:
        """``db_url``, else ``sqlite:///<data_dir>/index.sqlite3``."""
        return self.db_url or f"sqlite:///{self.data_dir / 'index.sqlite3'}"

    @property
    def elections_dir(self) -> Path:
        """Where ``cityledger election`` publishes each vote's files (the API serves them)."""
        return self.data_dir / "elections"

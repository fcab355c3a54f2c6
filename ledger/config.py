"""Settings shared by every CityLedger tool, from the environment (CITYLEDGER_*) or flags.

Secrets (private keys, keystore passwords) are never settings with defaults: they come from a
keystore plus a prompt, an environment variable or a password file (see ledger.keys).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_RPC_URL = "http://127.0.0.1:8545"


class LedgerSettings(BaseSettings):
    """Where the chain is and which deployment of the city's contracts to use."""

    model_config = SettingsConfigDict(env_prefix="CITYLEDGER_", extra="ignore")

    rpc_url: str = Field(default=DEFAULT_RPC_URL, description="JSON-RPC endpoint of the chain")
    chain_id: int | None = Field(default=None, description="refuse a node on another chain")
    network: str = Field(default="local", description="deployment name: deployments/<network>.json")
    deployments_dir: Path = Field(default=Path("deployments"))
    receipt_timeout: float = Field(default=60.0, gt=0)
    data_dir: Path = Field(default=Path(".cityledger"), description="local state (the index)")
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

"""Settings shared by every CityLedger tool, from the environment (CITYLEDGER_*) or flags.

The defaults are :mod:`ledger.defaults`'; the API's settings nest these.

Secrets (private keys, keystore passwords) are never settings with defaults: they come from a
keystore plus a prompt, an environment variable or a file (see :mod:`ledger.secrets`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger import defaults
from ledger.exceptions import ConfigError

S = TypeVar("S", bound=BaseSettings)


def build_settings(kind: type[S], **values: Any) -> S:
    """``kind(**values)`` (and the environment), with every invalid value reported in one
    :class:`ConfigError`, which the command lines print as one line."""
    try:
        return kind(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


class LedgerSettings(BaseSettings):
    """Where the chain is, which deployment of the city's contracts to use, and where the
    local state lives."""

    model_config = SettingsConfigDict(env_prefix="CITYLEDGER_", extra="ignore")

    rpc_url: str = Field(default=defaults.RPC_URL, description="JSON-RPC endpoint of the chain")
    chain_id: int | None = Field(default=None, description="refuse a node on another chain")
    network: str = Field(
        default=defaults.NETWORK, description="deployment name: deployments/<network>.json"
    )
    deployments_dir: Path = Field(default=defaults.DEPLOYMENTS_DIR)
    receipt_timeout: float = Field(default=60.0, gt=0)
    data_dir: Path = Field(default=defaults.DATA_DIR, description="local state (the index)")
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

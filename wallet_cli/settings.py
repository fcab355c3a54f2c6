"""Where the wallet looks: flags, then CITYLEDGER_* environment, then a TOML file, then defaults.

The file (``~/.cityledger/wallet.toml`` or ``--config``) holds the same settings as the shared
options, by their long names with underscores::

    rpc_url = "http://127.0.0.1:8545"
    network = "local"
    deployments_dir = "deployments"      # relative paths are relative to the file
    keystore_dir = "~/.cityledger/wallet"

It never holds a password or a key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ledger import defaults
from ledger.exceptions import ConfigError

if TYPE_CHECKING:
    from ledger.config import LedgerSettings

DEFAULT_CONFIG = str(defaults.WALLET_DIR / "wallet.toml")
DEFAULT_KEYSTORE_DIR = str(defaults.WALLET_DIR / "wallet")

_PATHS = ("deployments_dir", "keystore_dir")
_STRINGS = ("rpc_url", "network")


@dataclass(frozen=True)
class WalletSettings:
    rpc_url: str
    network: str
    deployments_dir: Path
    keystore_dir: Path

    @classmethod
    def resolve(
        cls,
        *,
        config: Path | None,
        rpc_url: str | None,
        network: str | None,
        deployments_dir: Path | None,
        keystore_dir: Path | None,
    ) -> WalletSettings:
        """Flags and environment (already merged by the option parser) win over the file."""
        file = load_config(config)
        return cls(
            rpc_url=rpc_url or str(file.get("rpc_url", defaults.RPC_URL)),
            network=network or str(file.get("network", defaults.NETWORK)),
            deployments_dir=_path(deployments_dir or file.get("deployments_dir"))
            or defaults.DEPLOYMENTS_DIR,
            keystore_dir=_path(keystore_dir or file.get("keystore_dir"))
            or Path(DEFAULT_KEYSTORE_DIR).expanduser(),
        )

    def ledger(self) -> LedgerSettings:
        """The library's settings (CITYLEDGER_RECEIPT_TIMEOUT etc. still come from the env)."""
        from ledger.config import LedgerSettings, build_settings

        return build_settings(
            LedgerSettings,
            rpc_url=self.rpc_url,
            network=self.network,
            deployments_dir=self.deployments_dir,
        )

    @property
    def manifest_path(self) -> Path:
        return self.deployments_dir / f"{self.network}.json"


def load_config(path: Path | None) -> dict[str, str | Path]:
    """The settings in ``path`` (must exist) or in the default file (if it exists)."""
    explicit = path is not None
    target = (path or Path(DEFAULT_CONFIG)).expanduser()
    try:
        raw = tomllib.loads(target.read_text())
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {target} does not exist") from None
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {target}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {target} is not valid TOML: {exc}") from exc
    settings: dict[str, str | Path] = {}
    for key, value in raw.items():
        if key not in (*_PATHS, *_STRINGS):
            known = ", ".join((*_STRINGS, *_PATHS))
            raise ConfigError(f"unknown setting {key!r} in {target} (known: {known})")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"setting {key!r} in {target} must be a non-empty string")
        settings[key] = (target.parent / Path(value).expanduser()) if key in _PATHS else value
    return settings


def _path(value: str | Path | None) -> Path | None:
    return Path(value).expanduser() if value else None

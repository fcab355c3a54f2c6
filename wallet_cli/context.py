"""What every command gets: resolved settings, output channels, the keystore and the city.

:func:`wallet_command` adds the shared options (``--rpc-url``, ``--json``, ``--keystore-dir``,
``--network``, ``--deployments-dir``, ``--config``) to a command and hands the command a
:class:`Wallet` built from them, so each command declares only its own arguments.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Concatenate, ParamSpec

import typer
from rich.console import Console

from ledger import defaults
from ledger.cli.common import Language, option, set_parameters
from ledger.types import parse_address
from wallet_cli import output
from wallet_cli.passwords import get_password
from wallet_cli.settings import DEFAULT_CONFIG, DEFAULT_KEYSTORE_DIR, WalletSettings

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from eth_typing import ChecksumAddress

    from ledger.city import City
    from ledger.deploy import Manifest
    from ledger.keys import KeyStore

SHARED_PANEL = "Connection and output"


@dataclass(frozen=True)
class Party:
    """An account named on the command line: by alias (from the keystore) or by address."""

    address: ChecksumAddress
    alias: str | None = None

    @property
    def label(self) -> str:
        return f"{self.alias} ({self.address})" if self.alias else self.address


@dataclass
class Wallet:
    settings: WalletSettings
    json: bool
    out: Console = field(default_factory=output.console)
    err: Console = field(default_factory=lambda: output.console(stderr=True))

    @property
    def info(self) -> Console:
        """Where messages for people go: stdout, or stderr when stdout carries JSON."""
        return self.err if self.json else self.out

    @cached_property
    def keys(self) -> KeyStore:
        from ledger.keys import KeyStore

        return KeyStore(self.settings.keystore_dir)

    @cached_property
    def manifest(self) -> Manifest:
        """The deployment manifest alone (commands that need no node, like ``receive``)."""
        from ledger.city import load_manifest

        return load_manifest(self.settings.manifest_path)

    @cached_property
    def city(self) -> City:
        """The city's contracts, after checking the node serves the manifest's chain."""
        from ledger.city import City

        return City.connect(self.settings.ledger())

    @cached_property
    def _aliases(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for alias in self.keys.aliases():
            try:
                names.setdefault(self.keys.address(alias), alias)
            except ValueError:  # an unreadable file names nobody
                continue
        return names

    def party(self, who: str) -> Party:
        """``who`` is an alias in the keystore or a 0x address."""
        if who[:2].lower() == "0x":
            address = parse_address(who, "an address")
            return Party(address, self._aliases.get(address))
        return Party(self.keys.address(who), who)

    def name_of(self, address: str) -> str:
        return self._aliases.get(address, address)

    def unlock(self, alias: str, password_file: Path | None) -> LocalAccount:
        from ledger.exceptions import WrongPasswordError

        self.keys.document(alias)  # an unknown alias fails before the password prompt
        password = get_password(f"Password for {alias}", password_file=password_file)
        try:
            return self.keys.unlock(alias, password)
        except WrongPasswordError:
            raise WrongPasswordError(f"wrong password for key {alias!r}") from None


# -- the shared options ----------------------------------------------------------------------
RpcUrl = Annotated[
    str | None,
    typer.Option(
        "--rpc-url",
        envvar="CITYLEDGER_RPC_URL",
        help="JSON-RPC endpoint of the city chain.",
        show_default=defaults.RPC_URL,
        rich_help_panel=SHARED_PANEL,
    ),
]
JsonOutput = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON document on stdout and nothing else.",
        show_default="off",
        rich_help_panel=SHARED_PANEL,
    ),
]
KeystoreDir = Annotated[
    Path | None,
    typer.Option(
        "--keystore-dir",
        envvar="CITYLEDGER_KEYSTORE_DIR",
        help="Directory of keystore files, one <alias>.json per key.",
        show_default=DEFAULT_KEYSTORE_DIR,
        rich_help_panel=SHARED_PANEL,
    ),
]
Network = Annotated[
    str | None,
    typer.Option(
        "--network",
        envvar="CITYLEDGER_NETWORK",
        help="Deployment name: the manifest is <deployments-dir>/<network>.json.",
        show_default=defaults.NETWORK,
        rich_help_panel=SHARED_PANEL,
    ),
]
DeploymentsDir = Annotated[
    Path | None,
    typer.Option(
        "--deployments-dir",
        envvar="CITYLEDGER_DEPLOYMENTS_DIR",
        help="Directory of deployment manifests written by `cityledger deploy`.",
        show_default=str(defaults.DEPLOYMENTS_DIR),
        rich_help_panel=SHARED_PANEL,
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="CITYLEDGER_WALLET_CONFIG",
        help="TOML file with rpc_url, network, deployments_dir, keystore_dir "
        "(flags and environment override it).",
        show_default=DEFAULT_CONFIG,
        rich_help_panel=SHARED_PANEL,
    ),
]


SHARED_PARAMETERS = (
    option("rpc_url", RpcUrl),
    option("json_output", JsonOutput, False),
    option("keystore_dir", KeystoreDir),
    option("network", Network),
    option("deployments_dir", DeploymentsDir),
    option("config", ConfigFile),
    option("lang", Language),
)
SHARED_NAMES = frozenset(p.name for p in SHARED_PARAMETERS)

P = ParamSpec("P")


def wallet_command(func: Callable[Concatenate[Wallet, P], None]) -> Callable[P, None]:
    """Give ``func`` the shared options; it receives a :class:`Wallet` as first argument."""
    signature = inspect.signature(func, eval_str=True)
    own = list(signature.parameters.values())[1:]

    @functools.wraps(func)
    def command(*args: P.args, **kwargs: P.kwargs) -> None:
        options: dict[str, Any] = kwargs
        shared = {name: options.pop(name) for name in SHARED_NAMES}
        # shared["lang"] is in force already: WalletGroup.main read it before parsing.
        wallet = Wallet(
            WalletSettings.resolve(
                config=shared["config"],
                rpc_url=shared["rpc_url"],
                network=shared["network"],
                deployments_dir=shared["deployments_dir"],
                keystore_dir=shared["keystore_dir"],
            ),
            json=shared["json_output"],
        )
        func(wallet, *args, **kwargs)

    return set_parameters(command, [*own, *SHARED_PARAMETERS])

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
from typing import Annotated, Any, Concatenate, ParamSpec

import typer
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from rich.console import Console

from ledger.city import City, load_manifest
from ledger.config import DEFAULT_RPC_URL
from ledger.deploy import Manifest
from ledger.exceptions import WrongPasswordError
from ledger.keys import KeyStore
from ledger.types import parse_address
from wallet_cli import output
from wallet_cli.passwords import get_password
from wallet_cli.settings import (
    DEFAULT_CONFIG,
    DEFAULT_DEPLOYMENTS_DIR,
    DEFAULT_KEYSTORE_DIR,
    DEFAULT_NETWORK,
    WalletSettings,
)

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
        return KeyStore(self.settings.keystore_dir)

    @cached_property
    def manifest(self) -> Manifest:
        """The deployment manifest alone (commands that need no node, like ``receive``)."""
        return load_manifest(self.settings.manifest_path)

    @cached_property
    def city(self) -> City:
        """The city's contracts, after checking the node serves the manifest's chain."""
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
        show_default=DEFAULT_RPC_URL,
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
        show_default=DEFAULT_NETWORK,
        rich_help_panel=SHARED_PANEL,
    ),
]
DeploymentsDir = Annotated[
    Path | None,
    typer.Option(
        "--deployments-dir",
        envvar="CITYLEDGER_DEPLOYMENTS_DIR",
        help="Directory of deployment manifests written by `cityledger deploy`.",
        show_default=DEFAULT_DEPLOYMENTS_DIR,
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


def _shared(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


SHARED_PARAMETERS = (
    _shared("rpc_url", RpcUrl),
    _shared("json_output", JsonOutput, False),
    _shared("keystore_dir", KeystoreDir),
    _shared("network", Network),
    _shared("deployments_dir", DeploymentsDir),
    _shared("config", ConfigFile),
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

    parameters = [*own, *SHARED_PARAMETERS]
    command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command

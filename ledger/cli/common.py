"""What every `cityledger` command shares: connection options, the signer, and one place
that turns a LedgerError into a one-line message and exit code 1."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console

from ledger.city import City
from ledger.config import LedgerSettings
from ledger.exceptions import LedgerError
from ledger.keys import KeyStore, read_password_file, signer_from_env

console = Console()
errors = Console(stderr=True)

SIGNER_KEY_ENV = "CITYLEDGER_SIGNER_KEY"
PASSWORD_ENV = "CITYLEDGER_PASSWORD"

RpcUrl = Annotated[
    str | None,
    typer.Option("--rpc-url", envvar="CITYLEDGER_RPC_URL", help="Chain JSON-RPC endpoint."),
]
Network = Annotated[
    str,
    typer.Option(envvar="CITYLEDGER_NETWORK", help="Deployment name (deployments/<network>.json)."),
]
DeploymentsDir = Annotated[
    Path,
    typer.Option(envvar="CITYLEDGER_DEPLOYMENTS_DIR", help="Folder of deployment manifests."),
]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        envvar="CITYLEDGER_DB_URL",
        help="Index database URL, which the API shares (default: sqlite:///<data-dir>/index.sqlite3).",
    ),
]
StateDir = Annotated[
    Path, typer.Option("--data-dir", envvar="CITYLEDGER_DATA_DIR", help="Local state folder.")
]
KeystoreDir = Annotated[
    Path,
    typer.Option(
        envvar="CITYLEDGER_KEYSTORE_DIR", help="Folder of keystore files (one per alias)."
    ),
]
SignerAlias = Annotated[
    str | None,
    typer.Option(
        "--as",
        help=f"Keystore alias to sign with (or set ${SIGNER_KEY_ENV} to a private key).",
    ),
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        envvar="CITYLEDGER_PASSWORD_FILE",
        help=f"File holding the keystore password (or set ${PASSWORD_ENV}; else a prompt).",
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]

P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Every expected failure becomes one line on stderr and exit code 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (LedgerError, ValueError) as exc:
            errors.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None

    return wrapper


def settings(rpc_url: str | None, network: str, deployments_dir: Path) -> LedgerSettings:
    overrides: dict[str, Any] = {"network": network, "deployments_dir": deployments_dir}
    if rpc_url:
        overrides["rpc_url"] = rpc_url
    return LedgerSettings(**overrides)


def connect(rpc_url: str | None, network: str, deployments_dir: Path) -> City:
    return City.connect(settings(rpc_url, network, deployments_dir))


def load_signer(alias: str | None, keystore_dir: Path, password_file: Path | None) -> LocalAccount:
    """The signing account: a keystore alias unlocked by password, or the env private key."""
    if alias is None:
        signer = signer_from_env(SIGNER_KEY_ENV)
        if signer is None:
            raise ValueError(
                f"say who signs: --as ALIAS (a keystore in {keystore_dir}) or ${SIGNER_KEY_ENV}"
            )
        return signer
    keys = KeyStore(keystore_dir)
    keys.document(alias)  # fail on an unknown alias before asking for a password
    return keys.unlock(alias, read_password(alias, password_file))


def read_password(owner: str, password_file: Path | None) -> str:
    """A password from --password-file, $CITYLEDGER_PASSWORD, or a prompt on a terminal."""
    if password_file is not None:
        return read_password_file(password_file)
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    if sys.stdin.isatty():
        return str(typer.prompt(f"password for {owner}", hide_input=True))
    raise ValueError(f"no password for {owner}: use --password-file or ${PASSWORD_ENV}")


@dataclass
class Staff:
    """The connection and signer options a staff command starts from; the chain is reached
    only when a command needs it, so `--help` works without one."""

    rpc_url: str | None
    network: str
    deployments_dir: Path
    alias: str | None
    keystore_dir: Path
    password_file: Path | None
    _city: City | None = None

    @property
    def city(self) -> City:
        if self._city is None:
            self._city = connect(self.rpc_url, self.network, self.deployments_dir)
        return self._city

    @property
    def signer(self) -> LocalAccount:
        return load_signer(self.alias, self.keystore_dir, self.password_file)

    def signer_and_password(self) -> tuple[LocalAccount, str]:
        """The signer and its password, for secrets kept beside a key (a trustee's vault)."""
        signer = self.signer
        return signer, read_password(self.alias or signer.address, self.password_file)


def emit(document: Any) -> None:
    """Machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")

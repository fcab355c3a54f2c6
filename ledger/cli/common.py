"""What every `cityledger` command shares: connection options, the signer, and one place
that turns a LedgerError into a one-line message and exit code 1.

Module-level imports stay light (typer, rich): web3, eth-account and the contract wrappers are
imported by the commands that use them, so ``cityledger --help`` starts in a fraction of a
second.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from ledger import defaults
from ledger.exceptions import InputError, LedgerError
from ledger.secrets import PASSWORD_ENV

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.city import City
    from ledger.config import LedgerSettings

console = Console()
errors = Console(stderr=True)

SIGNER_KEY_ENV = "CITYLEDGER_SIGNER_KEY"

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
        help=f"File holding the keystore password (else ${PASSWORD_ENV} or "
        f"${PASSWORD_ENV}_FILE; else a prompt).",
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _language(value: str | None) -> str:
    """``--lang``, else the locale; an unknown name is a usage error (exit 2)."""
    from ledger.i18n import UnknownLanguageError, language_from_environment, parse_language

    if value is None:
        return language_from_environment(os.environ)
    try:
        return parse_language(value)
    except UnknownLanguageError as exc:
        raise typer.BadParameter(str(exc)) from None


Language = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of the messages: en or ko (else LC_ALL, LC_MESSAGES or LANG; else en).",
        show_default="locale",
        metavar="en|ko",
        callback=_language,
    ),
]
"""The one language option of both CLIs (ledger.i18n holds the rule)."""


def language_in(args: Sequence[str]) -> str:
    """The language a command line asks for before it is parsed (``--lang ko``,
    ``--lang=ko``), else the locale's: so that even a refusal made while parsing, and the
    "error:" line around it, are in that language. A bad name falls back to the locale here
    and is reported by the option itself."""
    from ledger.i18n import UnknownLanguageError, language_from_environment, parse_language

    for i, arg in enumerate(args):
        if arg == "--":
            break
        value = arg.removeprefix("--lang=") if arg.startswith("--lang=") else None
        if arg == "--lang" and i + 1 < len(args):
            value = args[i + 1]
        if value is not None:
            try:
                return parse_language(value)
            except UnknownLanguageError:
                break
    return language_from_environment(os.environ)


P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Every expected failure becomes one line on stderr and exit code 1, never a traceback.

    Expected means a :class:`LedgerError` (every error the library, the API's key rules and
    the parsers raise is one); anything else is a bug and keeps its traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except LedgerError as exc:
            errors.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None

    return wrapper


def set_parameters(function: Callable[P, R], parameters: list[inspect.Parameter]) -> Callable[P, R]:
    """Make typer see ``parameters`` as ``function``'s: how options declared once (the staff
    options, the wallet's connection options) are added to many commands and callbacks."""
    function.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    function.__annotations__ = {p.name: p.annotation for p in parameters}
    return function


def option(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    """A keyword parameter for :func:`set_parameters`."""
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def settings(rpc_url: str | None, network: str, deployments_dir: Path) -> LedgerSettings:
    from ledger.config import LedgerSettings, build_settings

    overrides: dict[str, Any] = {"network": network, "deployments_dir": deployments_dir}
    if rpc_url:
        overrides["rpc_url"] = rpc_url
    return build_settings(LedgerSettings, **overrides)


def connect(rpc_url: str | None, network: str, deployments_dir: Path) -> City:
    from ledger.city import City

    return City.connect(settings(rpc_url, network, deployments_dir))


def load_signer(alias: str | None, keystore_dir: Path, password_file: Path | None) -> LocalAccount:
    """The signing account: a keystore alias unlocked by password, or the env private key."""
    from ledger.keys import KeyStore, signer_from_env

    if alias is None:
        signer = signer_from_env(SIGNER_KEY_ENV)
        if signer is None:
            raise InputError(
                f"say who signs: --as ALIAS (a keystore in {keystore_dir}) or ${SIGNER_KEY_ENV}"
            )
        return signer
    keys = KeyStore(keystore_dir)
    keys.document(alias)  # fail on an unknown alias before asking for a password
    return keys.unlock(alias, read_password(alias, password_file))


def read_password(owner: str, password_file: Path | None) -> str:
    """A password from --password-file, $CITYLEDGER_PASSWORD(_FILE), or a terminal prompt."""
    from ledger.secrets import keystore_password

    password = keystore_password(password_file)
    if password is not None:
        return password
    if sys.stdin.isatty():
        return str(typer.prompt(f"password for {owner}", hide_input=True))
    raise InputError(f"no password for {owner}: use --password-file or ${PASSWORD_ENV}")


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
    _city: City | None = field(default=None, repr=False)

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


STAFF_OPTIONS = [
    option("rpc_url", RpcUrl),
    option("network", Network, defaults.NETWORK),
    option("deployments_dir", DeploymentsDir, defaults.DEPLOYMENTS_DIR),
    option("signer", SignerAlias),
    option("keystore_dir", KeystoreDir, defaults.KEYSTORE_DIR),
    option("password_file", PasswordFile),
]
"""The connection and signer options of every staff command group (``admin``, ``election``)."""


def staff(ctx: typer.Context) -> Staff:
    """The group's :class:`Staff` (set by :func:`staff_callback`)."""
    found: Staff = ctx.obj
    return found


def staff_callback(
    make: Callable[..., Staff] = Staff, extra: list[inspect.Parameter] | None = None
) -> Callable[..., None]:
    """A group callback taking :data:`STAFF_OPTIONS` (and ``extra``) before the command and
    handing the command ``make(...)`` of them as ``ctx.obj``."""

    def callback(ctx: typer.Context, **options: Any) -> None:
        """Connection and signer options, given before the command."""
        signer = options.pop("signer")
        ctx.obj = make(
            options.pop("rpc_url"),
            options.pop("network"),
            options.pop("deployments_dir"),
            signer,
            options.pop("keystore_dir"),
            options.pop("password_file"),
            **options,
        )

    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    return set_parameters(callback, [context, *STAFF_OPTIONS, *(extra or [])])


def emit(document: Any) -> None:
    """Machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")

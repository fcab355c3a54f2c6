"""Keys: ``new``, ``import``, ``list``, ``address``, ``export``. None of them needs the chain.

A private key never appears on the command line, on stdout or in a file in clear: it is read
from a file or an environment variable, and only the encrypted keystore leaves the wallet.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ledger.exceptions import AliasExistsError, InvalidKeyError
from ledger.keys import MNEMONIC_WORDS, STANDARD_SCRYPT_N, write_private
from ledger.secrets import PASSWORD_ENV
from wallet_cli import output
from wallet_cli.context import Wallet, wallet_command
from wallet_cli.errors import UsageError, WalletError
from wallet_cli.passwords import get_password
from wallet_cli.recovery import confirm_words, show_phrase

Alias = Annotated[
    str,
    typer.Argument(
        metavar="ALIAS", help="Name of the key in the keystore (lowercase, digits, - or _)."
    ),
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help=f"Read the keystore password from this file (else ${PASSWORD_ENV} or "
        f"${PASSWORD_ENV}_FILE, else a prompt).",
        show_default="prompt",
        dir_okay=False,
    ),
]
ScryptN = Annotated[
    int,
    typer.Option(
        "--scrypt-n",
        hidden=True,
        help="scrypt cost of the new keystore (a power of two; small values only for tests).",
        show_default=True,
    ),
]


def _check_scrypt_n(value: int) -> int:
    if value < 2 or value & (value - 1):
        raise typer.BadParameter(f"{value} is not a power of two", param_hint="--scrypt-n")
    return value


def _check_free(wallet: Wallet, alias: str) -> None:
    """Refuse a bad or taken alias before asking for anything (the store re-checks on write)."""
    if wallet.keys.path(alias).exists():
        raise AliasExistsError(f"a key called {alias!r} exists already")


def _created(wallet: Wallet, verb: str, alias: str, address: str) -> None:
    path = wallet.keys.path(alias)
    if wallet.json:
        output.print_json({"alias": alias, "address": address, "keystore": str(path)})
        return
    wallet.out.print(Text.assemble(f"{verb} key ", (alias, "bold"), f": {address}"))
    wallet.out.print(f"keystore: {path} (encrypted, mode 0600)")


@wallet_command
def new(
    wallet: Wallet,
    alias: Alias,
    mnemonic: Annotated[
        bool,
        typer.Option(
            "--mnemonic",
            help="Derive the key from a new BIP-39 recovery phrase (shown once, then some "
            "words asked back) so it can be restored with `wallet import --mnemonic`.",
        ),
    ] = False,
    words: Annotated[
        int,
        typer.Option("--words", help="Length of the recovery phrase: 12 or 24 words."),
    ] = 12,
    skip_check: Annotated[
        bool,
        typer.Option(
            "--skip-check",
            help="Do not ask words of the phrase back (for scripts that store it themselves).",
        ),
    ] = False,
    password_file: PasswordFile = None,
    scrypt_n: ScryptN = STANDARD_SCRYPT_N,
) -> None:
    """Create a new key, encrypted with a password you choose."""
    _check_scrypt_n(scrypt_n)
    if words not in MNEMONIC_WORDS:
        raise typer.BadParameter(f"{words} is not 12 or 24", param_hint="--words")
    _check_free(wallet, alias)
    password = get_password(f"New password for {alias}", password_file=password_file, confirm=True)
    if not mnemonic:
        address = wallet.keys.create(alias, password, scrypt_n=scrypt_n)
        _created(wallet, "created", alias, address)
        wallet.info.print(
            "Back up the keystore file and remember the password: the wallet cannot recover "
            "either. (`wallet new --mnemonic` gives a recovery phrase instead.)"
        )
        return
    from ledger.keys import HD_PATH, new_mnemonic

    phrase = new_mnemonic(words)
    show_phrase(wallet.err, phrase)
    if not skip_check:
        confirm_words(wallet.err, phrase)
    address = wallet.keys.import_mnemonic(alias, phrase, password, scrypt_n=scrypt_n)
    _created(wallet, "created", alias, address)
    wallet.info.print(
        f"derived on {HD_PATH.format(index=0)}: `wallet import ALIAS --mnemonic` restores it "
        "from the phrase on any computer."
    )


@wallet_command
def import_(
    wallet: Wallet,
    alias: Alias,
    private_key_file: Annotated[
        Path | None,
        typer.Option(
            "--private-key-file",
            help="File holding the private key (64 hex digits, optional 0x).",
            show_default="none",
            dir_okay=False,
        ),
    ] = None,
    private_key_env: Annotated[
        str | None,
        typer.Option(
            "--private-key-env",
            help="Name of an environment variable holding the private key.",
            show_default="none",
            metavar="VAR",
        ),
    ] = None,
    keystore: Annotated[
        Path | None,
        typer.Option(
            "--keystore",
            help="A keystore v3 JSON file (its password is asked to prove it opens).",
            show_default="none",
            dir_okay=False,
        ),
    ] = None,
    mnemonic: Annotated[
        bool,
        typer.Option(
            "--mnemonic",
            help="Restore from a BIP-39 recovery phrase, typed at a hidden prompt or piped "
            "on stdin.",
        ),
    ] = False,
    index: Annotated[
        int,
        typer.Option(
            "--index",
            min=0,
            max=2**31 - 1,
            help="With --mnemonic: the account number i on m/44'/60'/0'/0/i.",
        ),
    ] = 0,
    password_file: PasswordFile = None,
    scrypt_n: ScryptN = STANDARD_SCRYPT_N,
) -> None:
    """Import a key from a recovery phrase, a private key file or variable, or a keystore."""
    _check_scrypt_n(scrypt_n)
    sources = [s for s in (private_key_file, private_key_env, keystore) if s is not None]
    if len(sources) + mnemonic != 1:
        raise UsageError(
            "give exactly one of --mnemonic, --private-key-file, --private-key-env or --keystore"
        )
    if index and not mnemonic:
        raise UsageError("--index goes with --mnemonic")
    _check_free(wallet, alias)
    if mnemonic:
        from ledger.keys import account_from_mnemonic

        phrase = _read_phrase()
        account_from_mnemonic(phrase, index)  # a mistyped phrase fails before the password
        password = get_password(
            f"New password for {alias}", password_file=password_file, confirm=True
        )
        address = wallet.keys.import_mnemonic(
            alias, phrase, password, index=index, scrypt_n=scrypt_n
        )
        _created(wallet, "restored", alias, address)
        return
    if keystore is not None:
        password = get_password(f"Password of {keystore.name}", password_file=password_file)
        address = wallet.keys.import_keystore(alias, keystore, password)
        _created(wallet, "imported", alias, address)
        return
    if private_key_file is not None:
        key = private_key_file.read_text().strip()
    else:
        assert private_key_env is not None
        key = os.environ.get(private_key_env, "").strip()
        if not key:
            raise InvalidKeyError(f"${private_key_env} is not set")
    password = get_password(f"New password for {alias}", password_file=password_file, confirm=True)
    address = wallet.keys.import_private_key(alias, key, password, scrypt_n=scrypt_n)
    _created(wallet, "imported", alias, address)
    if private_key_file is not None:
        wallet.info.print(
            f"{private_key_file} still holds the key in clear: delete it once you have "
            "checked the import."
        )


def _read_phrase() -> str:
    """The recovery phrase from a hidden prompt, or a line of stdin when it is piped; never
    an argument (it would show in the process list and the shell history)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline()
    try:
        return str(
            typer.prompt("Recovery phrase (words separated by spaces)", hide_input=True, err=True)
        )
    except typer.Abort:
        raise WalletError("no recovery phrase given") from None


@wallet_command
def list_(wallet: Wallet) -> None:
    """List the keys in the keystore with their addresses."""
    keys: list[dict[str, str | None]] = []
    for alias in wallet.keys.aliases():
        try:
            keys.append({"alias": alias, "address": wallet.keys.address(alias)})
        except ValueError as exc:  # one damaged file should not hide the others
            keys.append({"alias": alias, "address": None, "error": str(exc)})
    if wallet.json:
        output.print_json(keys)
        return
    if not keys:
        wallet.out.print(
            f"no keys in {wallet.settings.keystore_dir}: create one with `wallet new ALIAS`"
        )
        return
    table = Table("alias", "address", title=str(wallet.settings.keystore_dir))
    for key in keys:
        table.add_row(key["alias"], key["address"] or f"unreadable: {key['error']}")
    wallet.out.print(table)


@wallet_command
def address(wallet: Wallet, alias: Alias) -> None:
    """Print the address of a key."""
    value = wallet.keys.address(alias)
    if wallet.json:
        output.print_json({"alias": alias, "address": value})
    else:
        typer.echo(value)


@wallet_command
def export(
    wallet: Wallet,
    alias: Alias,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the keystore here (mode 0600, never overwritten) instead of stdout.",
            show_default="stdout",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Export the encrypted keystore JSON of a key (never the private key itself)."""
    document = wallet.keys.document(alias)
    address = wallet.keys.address(alias)
    if out is None:
        output.print_json(document)
        return
    try:
        write_private(out, json.dumps(document))
    except FileExistsError:
        raise WalletError(f"{out} exists already: choose another --out") from None
    if wallet.json:
        output.print_json({"alias": alias, "address": address, "path": str(out)})
    else:
        wallet.out.print(f"wrote the encrypted keystore of {alias} ({address}) to {out}")

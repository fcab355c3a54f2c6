"""Keystore passwords: a file (``--password-file``), ``$CITYLEDGER_WALLET_PASSWORD``, or a prompt.

The prompt is hidden and written to stderr so ``--json`` output stays clean. A password is never
an option value: it would show in the process list and the shell history.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ledger.keys import read_password_file
from wallet_cli.errors import WalletError

PASSWORD_ENV = "CITYLEDGER_WALLET_PASSWORD"


def get_password(prompt: str, *, password_file: Path | None, confirm: bool = False) -> str:
    """The password from the file, else the environment, else a hidden prompt."""
    if password_file is not None:
        password = read_password_file(password_file)
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    else:
        try:
            password = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
        except typer.Abort:
            raise WalletError(
                f"no password given: type it at the prompt, or use --password-file or "
                f"${PASSWORD_ENV}"
            ) from None
    if not password:
        raise WalletError("the password must not be empty")
    return password

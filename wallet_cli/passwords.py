"""Keystore passwords: a file (``--password-file``), ``$CITYLEDGER_PASSWORD`` (or its
``_FILE``), or a prompt; the rule is :func:`ledger.secrets.keystore_password`, shared with the
operator CLI (the wallet's former ``$CITYLEDGER_WALLET_PASSWORD`` still works, with a warning).

The prompt is hidden and written to stderr so ``--json`` output stays clean. A password is never
an option value: it would show in the process list and the shell history.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ledger.secrets import PASSWORD_ENV, keystore_password
from wallet_cli.errors import WalletError


def get_password(prompt: str, *, password_file: Path | None, confirm: bool = False) -> str:
    """The password from the file, else the environment, else a hidden prompt."""
    password = keystore_password(password_file)
    if password is None:
        try:
            password = str(
                typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
            )
        except typer.Abort:
            raise WalletError(
                f"no password given: type it at the prompt, or use --password-file or "
                f"${PASSWORD_ENV}"
            ) from None
    if not password:
        raise WalletError("the password must not be empty")
    return password

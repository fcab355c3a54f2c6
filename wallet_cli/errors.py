"""Every failure ends here: one readable line on stderr and an exit code, never a traceback.

Exit 1 is a user error (wrong password, unknown alias, a refused transfer, an unreachable node...),
exit 2 a usage error (a missing argument, an unknown option), 130 an interrupt. A bug in the
wallet is reported as one "internal error" line too; CITYLEDGER_WALLET_DEBUG=1 shows its traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer

# typer vendors click (typer._click) and its parser raises these; they are re-exported here so
# commands raise the same classes (e.g. UsageError for exit 2).
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from ledger.exceptions import LedgerError

__all__ = ["USAGE_ERROR", "USER_ERROR", "UsageError", "WalletError", "WalletGroup", "fail"]

DEBUG_ENV = "CITYLEDGER_WALLET_DEBUG"
USER_ERROR = 1
USAGE_ERROR = 2


class WalletError(LedgerError):
    """A mistake the wallet itself catches (bad address, no password, cancelled...)."""


def fail(message: str, code: int = USER_ERROR) -> int:
    """Print ``message`` as one line on stderr; return ``code``."""
    line = " ".join(message.split())
    typer.secho("error: ", fg="red", err=True, nl=False)
    typer.echo(line, err=True)
    return code


def exit_code_for(exc: BaseException) -> int:
    """Report ``exc`` on stderr and return the exit code."""
    if isinstance(exc, NoArgsIsHelpError):
        exc.show()  # `wallet` alone: the help, as a usage error
        return USAGE_ERROR
    if isinstance(exc, UsageError):
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        return fail(exc.format_message() + hint, USAGE_ERROR)
    if isinstance(exc, ClickException):
        return fail(exc.format_message(), exc.exit_code)
    if isinstance(exc, typer.Abort):
        return fail("aborted: nothing was changed")
    if isinstance(exc, KeyboardInterrupt):
        return fail("interrupted", 130)
    if isinstance(exc, LedgerError):
        return fail(str(exc) or type(exc).__name__)
    # Only a failure gets here: web3 and requests are loaded by then if they are involved.
    import requests
    from web3.exceptions import Web3Exception

    if isinstance(exc, requests.exceptions.RequestException):
        return fail(f"cannot talk to the chain node: {exc}")
    if isinstance(exc, Web3Exception):
        return fail(f"the chain node answered with an error: {exc}")
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return fail(f"{exc.strerror or exc}{where}")
    if os.environ.get(DEBUG_ENV):
        raise exc
    return fail(
        f"internal error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)"
    )


class WalletGroup(TyperGroup):
    """The ``wallet`` command group, with the wallet's one-line error reporting."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        from ledger.cli.common import language_in
        from ledger.i18n import using_language

        argv = list(sys.argv[1:] if args is None else args)
        with using_language(language_in(argv)):
            return self._main(
                argv, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )

    def _main(
        self,
        args: Sequence[str],
        prog_name: str | None,
        complete_var: str | None,
        standalone_mode: bool,
        windows_expand_args: bool,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except (Exception, KeyboardInterrupt) as exc:
            code = exit_code_for(exc)
        else:
            # Without standalone mode click returns an Exit's code (an int), else the result.
            code = result if isinstance(result, int) else 0
            if not standalone_mode:
                return result
        if standalone_mode:
            sys.exit(code)
        return code

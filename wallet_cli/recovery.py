"""Showing a new recovery phrase once and asking some of its words back.

A phrase that was never written down is worse than none: the resident believes the key is
recoverable. So ``wallet new --mnemonic`` shows the words, waits, clears the screen when it can,
and asks for a few words by position before the keystore is written. Nothing is stored if an
answer is wrong; the resident runs the command again and gets a new phrase.
"""

from __future__ import annotations

import secrets

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from wallet_cli.errors import WalletError

CHECKED_WORDS = 3
"""How many words are asked back (MetaMask asks three of twelve)."""


def show_phrase(console: Console, phrase: str) -> None:
    """The numbered words in a panel, with what to do with them."""
    words = phrase.split()
    table = Table.grid(padding=(0, 3))
    columns = 4 if len(words) > 12 else 3
    for _ in range(columns):
        table.add_column(justify="right", style="dim")
        table.add_column(style="bold")
    rows = (len(words) + columns - 1) // columns
    for row in range(rows):
        cells: list[str] = []
        for column in range(columns):
            index = column * rows + row
            if index < len(words):
                cells += [f"{index + 1}.", words[index]]
            else:
                cells += ["", ""]
        table.add_row(*cells)
    console.print(Panel(table, title="recovery phrase", expand=False))
    console.print(
        "Write these words down, in order, on paper. Anyone who has them has the key; "
        "the wallet will not show them again."
    )


def confirm_words(console: Console, phrase: str, *, count: int = CHECKED_WORDS) -> None:
    """Ask ``count`` randomly chosen words back; raise :class:`WalletError` on a wrong one."""
    words = phrase.split()
    try:
        typer.prompt(
            "Press Enter when you have written them down",
            default="",
            show_default=False,
            err=True,
        )
    except typer.Abort:
        raise WalletError("stopped before the phrase was checked: no key was written") from None
    if console.is_terminal:
        console.clear()
    positions = sorted(secrets.SystemRandom().sample(range(len(words)), count))
    for position in positions:
        try:
            answer = str(typer.prompt(f"Word #{position + 1}", err=True))
        except typer.Abort:
            raise WalletError("stopped before the phrase was checked: no key was written") from None
        if answer.strip().lower() != words[position]:
            raise WalletError(
                f"word #{position + 1} does not match: no key was written. Run the command "
                "again for a new phrase, and copy it carefully."
            )

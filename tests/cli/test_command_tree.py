"""Both CLIs offer exactly the commands and options they offered before their commands moved
to entry points: the snapshot ``command_tree.json`` was taken from the tree before that change
(regenerate it only for a deliberate change of the interface, and say so in the commit)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tests.cli.command_tree import command_tree

SNAPSHOT = json.loads((Path(__file__).parent / "command_tree.json").read_text())


def test_cityledger_commands_are_unchanged() -> None:
    from cityledger.cli import app

    assert command_tree(typer.main.get_command(app)) == SNAPSHOT["cityledger"]


def test_wallet_commands_are_unchanged() -> None:
    from wallet_cli.main import app

    assert command_tree(typer.main.get_command(app)) == SNAPSHOT["wallet"]

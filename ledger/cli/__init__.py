"""The library's ``cityledger`` sub-commands: ``node`` and ``genesis`` (the embedded chain; the
one module that imports :mod:`ledger.node`), ``deploy``, ``index``, and each domain's own
(``admin`` for the core, its fees and redemptions for payments, ``election`` for voting), as
:data:`ledger.domains.DOMAINS` declares them.

:func:`add_commands` is the ``cityledger.commands`` entry point of the library; the root command
(:mod:`cityledger.cli`) calls it. Shared options and the error handling live in
:mod:`ledger.cli.common`.
"""

from __future__ import annotations

import typer

from ledger.domains import DOMAINS
from ledger.domains.spec import load


def add_commands(root: typer.Typer) -> None:
    from ledger.cli import deploy, index, node

    node.add_commands(root)
    deploy.add_commands(root)
    index.add_commands(root)
    for domain in DOMAINS:
        if domain.commands is not None:
            load(domain.commands)(root)

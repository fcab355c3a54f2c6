"""``cityledger``: the operator's command line, assembled from entry points.

Each package registers its own sub-commands under the ``cityledger.commands`` entry-point group
(as Flask's ``flask.commands``): ``ledger.cli.*`` the library's (node, deploy, admin, index,
election), ``api.cli`` the API's (serve, api-key), ``cityledger.up`` the platform's. So the root
imports none of them by name, and ``ledger`` never imports ``api``. Command modules import
their heavy dependencies (web3, py-evm, the API) inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from ledger.cli.common import Language

GROUP = "cityledger.commands"

app = typer.Typer(
    name="cityledger",
    help="Operate a CityLedger chain and its services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(context: typer.Context, lang: Language = None) -> None:
    """Messages of the whole run in ``--lang`` or the locale's language (ledger.i18n)."""
    from ledger.i18n import using_language

    assert lang is not None  # the option's callback resolved it from the locale
    context.with_resource(using_language(lang))


for entry_point in entry_points(group=GROUP):
    entry_point.load()(app)

"""``cityledger``: the operator's command line (node, platform, and later deploy/index/serve)."""

from __future__ import annotations

import typer

from ledger.cli import admin, deploy, election, index, serve
from ledger.cli import node as node_commands

app = typer.Typer(
    name="cityledger",
    help="Operate a CityLedger chain and its services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("node")(node_commands.node)
app.command("up")(node_commands.up)
app.command("genesis")(node_commands.genesis)
app.command("deploy")(deploy.deploy)
app.add_typer(admin.app, name="admin")
app.add_typer(index.app, name="index")
app.add_typer(election.app, name="election")
serve.register(app)

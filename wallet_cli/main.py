"""``wallet``: keys, payments and votes in the city's local currency, for residents and merchants.

Commands live in :mod:`wallet_cli.commands` (``keys``: new, import, list, address, export;
``token``: balance, send, history, receive; ``payments``: pay, points, refund, redeem;
``vote``: list, show, cast, status, verify); errors become one line on stderr
(:mod:`wallet_cli.errors`).
"""

from __future__ import annotations

import typer

from wallet_cli.commands import keys, payments, token, vote
from wallet_cli.errors import WalletGroup

app = typer.Typer(
    name="wallet",
    cls=WalletGroup,
    help="Keys and payments in the city's local currency (1 token = ₩1).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.command("new", rich_help_panel="Keys")(keys.new)
app.command("import", rich_help_panel="Keys")(keys.import_)
app.command("list", rich_help_panel="Keys")(keys.list_)
app.command("address", rich_help_panel="Keys")(keys.address)
app.command("export", rich_help_panel="Keys")(keys.export)
app.command("balance", rich_help_panel="Payments")(token.balance)
app.command("send", rich_help_panel="Payments")(token.send)
app.command("history", rich_help_panel="Payments")(token.history)
app.command("receive", rich_help_panel="Payments")(token.receive)
app.command("pay", rich_help_panel="Payments")(payments.pay)
app.command("points", rich_help_panel="Payments")(payments.points)
app.command("refund", rich_help_panel="Merchants")(payments.refund)
app.command("redeem", rich_help_panel="Merchants")(payments.redeem)
app.add_typer(vote.app, name="vote", rich_help_panel="Votes")

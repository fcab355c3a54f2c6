"""The local currency: ``balance``, ``send``, ``history``, ``receive``.

``send`` simulates the transfer before it shows the summary, so a transfer the token would refuse
is explained in words before a password is asked or anything is signed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from ledger.exceptions import AccountNotActiveError, InsufficientBalanceError, TokenPausedError
from ledger.types import AccountKind, AccountStatus, parse_krw
from wallet_cli import output
from wallet_cli.commands.keys import Alias, PasswordFile
from wallet_cli.context import Party, Wallet, wallet_command
from wallet_cli.errors import WalletError
from wallet_cli.history import PAYMENT_KINDS, WINDOW, ZERO_ADDRESS, Movement, account_history
from wallet_cli.payment import PaymentRequest, qr_text

if TYPE_CHECKING:
    from ledger.city import City
    from ledger.contracts.registry import Registration

Who = Annotated[
    str, typer.Argument(metavar="ALIAS|ADDRESS", help="An alias in the keystore or a 0x address.")
]
AMOUNT_HELP = "Whole won: 12345, 12,345 or ₩12,345."


def describe(registration: Registration) -> str:
    kind = registration.kind.name.lower().replace("_", " ")
    where = f"{kind}, district {registration.district}"
    match registration.status:
        case AccountStatus.ACTIVE:
            return f"active {where}"
        case AccountStatus.FROZEN:
            return f"frozen ({where})"
        case AccountStatus.RETIRED:
            return "retired by a key recovery"
        case _:
            return "not registered"


@wallet_command
def balance(wallet: Wallet, who: Who) -> None:
    """Show the token balance and registration of an account."""
    party = wallet.party(who)
    city = wallet.city
    amount = city.token.balance_of(party.address)
    registration = city.registry.registration_of(party.address)
    if wallet.json:
        output.print_json(
            {
                "alias": party.alias,
                "address": party.address,
                "balance": amount,
                "status": registration.status.name.lower(),
                "kind": registration.kind.name.lower()
                if registration.kind is not AccountKind.NONE
                else None,
                "district": registration.district or None,
            }
        )
        return
    table = Table.grid(padding=(0, 2))
    table.add_row("account", party.label)
    table.add_row("balance", Text(output.krw(amount), style="bold"))
    table.add_row("status", describe(registration))
    wallet.out.print(table)


@contextmanager
def _explained(city: City, source: Party, target: Party, amount: int) -> Iterator[None]:
    """Say which party a refused transfer is about, and why, in the wallet's words."""
    try:
        yield
    except InsufficientBalanceError as exc:
        has = exc.error_args.get("balance")
        raise InsufficientBalanceError(
            f"insufficient balance: {source.label} has "
            f"{output.krw(has) if isinstance(has, int) else '?'}, the transfer needs "
            f"{output.krw(amount)}",
            exc.error,
            exc.error_args,
        ) from exc
    except AccountNotActiveError as exc:
        account = exc.error_args.get("account")
        party = source if account == source.address else target
        role = "sender" if party is source else "recipient"
        status = city.registry.registration_of(party.address).status
        why = {
            AccountStatus.NONE: "is not registered: city staff must register it first",
            AccountStatus.FROZEN: "is frozen: nothing moves in or out until staff unfreeze it",
            AccountStatus.RETIRED: "was retired by a key recovery: use its new account",
        }.get(status, "is not active")
        raise AccountNotActiveError(
            f"the {role} {party.label} {why}", exc.error, exc.error_args
        ) from exc
    except TokenPausedError as exc:
        raise TokenPausedError(
            "the city token is paused: no transfer can be made until the city unpauses it",
            exc.error,
            exc.error_args,
        ) from exc


@wallet_command
def send(
    wallet: Wallet,
    sender: Annotated[str, typer.Argument(metavar="FROM", help="Alias of the paying key.")],
    to: Annotated[str, typer.Argument(metavar="TO", help="Recipient: an alias or a 0x address.")],
    amount: Annotated[str, typer.Argument(metavar="AMOUNT", help=AMOUNT_HELP)],
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Send without asking to confirm.", show_default="ask"),
    ] = False,
    password_file: PasswordFile = None,
) -> None:
    """Pay AMOUNT won from one of your keys to another registered account."""
    value = parse_krw(amount)
    if sender[:2].lower() == "0x":
        raise WalletError("FROM must be the alias of a key in the keystore, not an address")
    source = Party(wallet.keys.address(sender), sender)
    target = wallet.party(to)
    if target.address == ZERO_ADDRESS:
        raise WalletError("refusing to send to the zero address: tokens sent there are lost")
    city = wallet.city
    token = city.token
    before = token.balance_of(source.address)
    with _explained(city, source, target, value):
        # Chain.transact dry-runs again right before signing.
        token.check_transfer(source.address, target.address, value)
    summary = Table.grid(padding=(0, 2))
    summary.add_row("from", f"{source.label}  balance {output.krw(before)}")
    summary.add_row("to", target.label)
    summary.add_row("amount", Text(output.krw(value), style="bold"))
    summary.add_row("after", output.krw(before - value))
    summary.add_row("network", f"{wallet.settings.network} (chain {city.chain.chain_id})")
    wallet.info.print(summary)
    if not yes and not typer.confirm(
        f"Send {output.krw(value)} to {target.alias or target.address}?", err=True
    ):
        raise WalletError("cancelled: nothing was sent")
    signer = wallet.unlock(sender, password_file)
    with _explained(city, source, target, value):
        receipt = token.transfer(signer, target.address, value)
    tx_hash = receipt["transactionHash"].to_0x_hex()
    after = token.balance_of(source.address)
    if wallet.json:
        output.print_json(
            {
                "tx_hash": tx_hash,
                "block": receipt["blockNumber"],
                "from": source.address,
                "to": target.address,
                "amount": value,
                "balance": after,
            }
        )
        return
    wallet.out.print(
        f"sent {output.krw(value)} to {target.alias or target.address} "
        f"in block {receipt['blockNumber']}: {tx_hash}"
    )
    wallet.out.print(f"balance of {sender}: {output.krw(after)}")


@wallet_command
def history(
    wallet: Wallet,
    who: Who,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="Show at most N movements (0: all).")
    ] = 20,
) -> None:
    """List an account's token movements, newest first, from the chain's event logs."""
    party = wallet.party(who)
    city = wallet.city
    first = city.manifest.deployment_block or 0
    last = city.chain.block_number()
    with Progress(
        console=wallet.err, transient=True, disable=not wallet.err.is_terminal
    ) as progress:
        task = progress.add_task("reading logs", total=max(last - first + 1, 1))
        show = (lambda blocks: progress.advance(task, blocks)) if last - first > WINDOW else None
        movements = account_history(
            city.token,
            party.address,
            city.payments,
            first_block=first,
            last_block=last,
            limit=limit or None,
            on_window=show,
        )
    if wallet.json:
        output.print_json(
            {"address": party.address, "alias": party.alias, "movements": _rows(wallet, movements)}
        )
        return
    if not movements:
        wallet.out.print(f"no token movements for {party.label}")
        return
    table = Table(title=f"history of {party.label}")
    table.add_column("block", justify="right")
    table.add_column("kind")
    table.add_column("counterparty", no_wrap=True)
    table.add_column("amount", justify="right", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("reference")
    table.add_column("tx", no_wrap=True)
    for m in movements:
        table.add_row(
            str(m.block),
            m.kind,
            wallet.name_of(m.counterparty) if m.counterparty else "",
            output.signed_krw(m.signed_amount),
            output.signed_krw(m.points) if m.points else "",
            output.short(m.reference)
            if m.reference and m.kind in PAYMENT_KINDS
            else m.reference or "",
            output.short(m.tx_hash),
        )
    wallet.out.print(table)


def _rows(wallet: Wallet, movements: list[Movement]) -> list[dict[str, Any]]:
    return [
        {
            "block": m.block,
            "tx_hash": m.tx_hash,
            "log_index": m.log_index,
            "kind": m.kind,
            "counterparty": m.counterparty,
            "counterparty_alias": wallet.name_of(m.counterparty)
            if m.counterparty and wallet.name_of(m.counterparty) != m.counterparty
            else None,
            "amount": m.signed_amount,
            "points": m.points,
            "reference": m.reference,
        }
        for m in movements
    ]


@wallet_command
def receive(
    wallet: Wallet,
    alias: Alias,
    amount: Annotated[
        str | None,
        typer.Option("--amount", help=f"Ask for this amount. {AMOUNT_HELP}", show_default="any"),
    ] = None,
    qr: Annotated[bool, typer.Option(help="Draw the payment URI as a QR code.")] = True,
) -> None:
    """Show an address and an EIP-681 payment URI (and QR code) to get paid."""
    value = parse_krw(amount) if amount is not None else None
    address = wallet.keys.address(alias)
    manifest = wallet.manifest
    request = PaymentRequest(manifest.address("CityToken"), manifest.chain_id, address, value)
    uri = request.uri()
    if wallet.json:
        output.print_json(
            {
                "alias": alias,
                "address": address,
                "token": request.token,
                "chain_id": request.chain_id,
                "amount": value,
                "uri": uri,
            }
        )
        return
    wallet.out.print(Text.assemble(f"pay to {alias}: ", (address, "bold")))
    if value is not None:
        wallet.out.print(f"amount: {output.krw(value)}")
    wallet.out.print(f"payment URI: {uri}", soft_wrap=True)
    if qr:
        typer.echo(qr_text(uri))

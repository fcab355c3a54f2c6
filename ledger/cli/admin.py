"""`cityledger admin …`: the city staff's operations on the registry, the token and roles (the
payments domain adds the router's fees and redemptions to the group: ledger.cli.payments).

Each command signs as one staff account (``--as ALIAS`` or $CITYLEDGER_SIGNER_KEY) and the
contracts decide whether that account's role allows it: the CLI checks nothing the chain
would not check again.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ledger.cli.common import (
    JsonOutput,
    console,
    emit,
    friendly_errors,
    staff,
    staff_callback,
)
from ledger.roles import Role
from ledger.types import AccountKind, format_krw, parse_address, parse_krw

if TYPE_CHECKING:
    from ledger.registration import Change, Registrar

app = typer.Typer(
    help="City staff operations (registry, token, roles, payment fees and redemptions).",
    no_args_is_help=True,
)
app.callback()(staff_callback())

Account = Annotated[str, typer.Argument(help="Account address (0x…).")]
Ref = Annotated[
    str, typer.Option("--ref", help="Bank deposit / settlement reference (≤ 32 bytes).")
]


def done(what: str, receipt: dict[str, object]) -> None:
    console.print(f"[green]{what}[/green] (block {receipt['blockNumber']})")


def _registrar(ctx: typer.Context) -> Registrar:
    from ledger.registration import Registrar

    member = staff(ctx)
    return Registrar.from_env(member.city, member.signer)


def _report(what: str, change: Change) -> None:
    """The registry change, then what happened to the node allowlists."""
    from ledger.secrets import NODE_ADMIN_TOKEN_ENV

    done(what, dict(change.receipt))
    if change.allowlists is None:
        console.print(
            f"[yellow]note:[/yellow] node allowlists unchanged (set ${NODE_ADMIN_TOKEN_ENV} or "
            f"${NODE_ADMIN_TOKEN_ENV}_FILE to let staff commands update them)"
        )
    elif change.allowed or change.disallowed:
        console.print(f"node allowlists updated on {', '.join(change.allowlists)}")


@app.command()
@friendly_errors
def register(
    ctx: typer.Context,
    account: Account,
    kind: Annotated[str, typer.Option(help="resident, merchant, city-service, prosumer, …")],
    district: Annotated[int, typer.Option(help="District code.", min=0, max=2**32 - 1)],
    credential: Annotated[
        str,
        typer.Option(help="Credential reference; only its keyed hash goes on chain."),
    ],
) -> None:
    """Register an account (registrar)."""
    checked = parse_address(account)
    change = _registrar(ctx).register(checked, AccountKind.parse(kind), district, credential)
    _report(f"registered {checked} as {kind} in district {district}", change)


@app.command()
@friendly_errors
def update(
    ctx: typer.Context,
    account: Account,
    kind: Annotated[str, typer.Option(help="New account kind.")],
    district: Annotated[int, typer.Option(help="New district code.", min=0, max=2**32 - 1)],
    credential: Annotated[str, typer.Option(help="Credential reference (hashed).")],
) -> None:
    """Change an account's kind, district or credential (registrar)."""
    change = _registrar(ctx).update(
        parse_address(account), AccountKind.parse(kind), district, credential
    )
    done(f"updated {account}", dict(change.receipt))


@app.command()
@friendly_errors
def freeze(ctx: typer.Context, account: Account) -> None:
    """Freeze an account: it can neither send nor receive, and the nodes refuse its
    transactions (registrar)."""
    _report(f"froze {account}", _registrar(ctx).freeze(parse_address(account)))


@app.command()
@friendly_errors
def unfreeze(ctx: typer.Context, account: Account) -> None:
    """Unfreeze an account (registrar)."""
    _report(f"unfroze {account}", _registrar(ctx).unfreeze(parse_address(account)))


@app.command()
@friendly_errors
def recover(
    ctx: typer.Context,
    old_account: Annotated[str, typer.Argument(help="The account whose key was lost.")],
    new_account: Annotated[str, typer.Argument(help="The resident's new account.")],
) -> None:
    """Move a lost key's registration and balance to a new account (registrar)."""
    old, new = parse_address(old_account), parse_address(new_account)
    _report(f"recovered {old} → {new}", _registrar(ctx).recover(old, new))


@app.command()
@friendly_errors
def mint(
    ctx: typer.Context,
    account: Account,
    amount: Annotated[str, typer.Argument(help="Whole won, e.g. 50000 or ₩50,000.")],
    ref: Ref,
) -> None:
    """Issue tokens against a fiat deposit reference, usable once (treasury)."""
    member = staff(ctx)
    value = parse_krw(amount)
    receipt = member.city.token.mint(member.signer, parse_address(account), value, ref)
    done(f"minted {format_krw(value)} to {account} against {ref}", dict(receipt))


@app.command()
@friendly_errors
def redeem(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="Whole won to burn from the signer's balance.")],
    ref: Ref,
) -> None:
    """Burn the signer's tokens against a bank settlement reference, usable once."""
    member = staff(ctx)
    value = parse_krw(amount)
    receipt = member.city.token.redeem(member.signer, value, ref)
    done(f"redeemed {format_krw(value)} against {ref}", dict(receipt))


@app.command()
@friendly_errors
def pause(ctx: typer.Context) -> None:
    """Stop every token movement (pauser)."""
    member = staff(ctx)
    done("paused the token", dict(member.city.token.pause(member.signer)))


@app.command()
@friendly_errors
def unpause(ctx: typer.Context) -> None:
    """Let tokens move again (pauser)."""
    member = staff(ctx)
    done("unpaused the token", dict(member.city.token.unpause(member.signer)))


@app.command()
@friendly_errors
def grant(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="Role name, e.g. treasury or registrar.")],
    account: Account,
    delay: Annotated[int, typer.Option(help="Execution delay in seconds.", min=0)] = 0,
) -> None:
    """Grant a role (admin)."""
    member = staff(ctx)
    parsed = Role.parse(role)
    receipt = member.city.authority.grant_role(member.signer, parsed, parse_address(account), delay)
    done(f"granted {parsed.label} to {account}", dict(receipt))


@app.command()
@friendly_errors
def revoke(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="Role name.")],
    account: Account,
) -> None:
    """Revoke a role (admin)."""
    member = staff(ctx)
    parsed = Role.parse(role)
    receipt = member.city.authority.revoke_role(member.signer, parsed, parse_address(account))
    done(f"revoked {parsed.label} from {account}", dict(receipt))


@app.command()
@friendly_errors
def account(ctx: typer.Context, address: Account, json_output: JsonOutput = False) -> None:
    """Show an account's registration, balance and roles (no signer needed)."""
    city = staff(ctx).city
    checked = parse_address(address)
    registration = city.registry.registration_of(checked)
    roles = [r.label for r in Role if city.authority.has_role(r, checked).is_member]
    document = {
        "address": checked,
        "kind": registration.kind.name.lower(),
        "status": registration.status.name.lower(),
        "district": registration.district,
        "balance": city.token.balance_of(checked),
        "roles": roles,
    }
    if json_output:
        emit(document)
        return
    for key, value in document.items():
        shown = format_krw(int(str(value))) if key == "balance" else value
        console.print(f"{key:>9}: {shown}")


@app.command()
@friendly_errors
def supply(ctx: typer.Context, json_output: JsonOutput = False) -> None:
    """Supply report: minted, burned, outstanding, and every change by reference."""
    token = staff(ctx).city.token
    records = token.supply_changes()
    minted, burned, outstanding = token.total_minted(), token.total_burned(), token.total_supply()
    if json_output:
        emit(
            {
                "minted": minted,
                "burned": burned,
                "outstanding": outstanding,
                "changes": [asdict(r) for r in records],
            }
        )
        return
    table = Table(title=f"{token.symbol()} supply changes")
    for column in ("block", "kind", "account", "amount", "reference"):
        table.add_column(column, justify="right" if column in ("block", "amount") else "left")
    for r in records:
        table.add_row(str(r.block), r.kind, r.account, format_krw(r.amount), r.reference)
    console.print(table)
    console.print(
        f"minted {format_krw(minted)} − burned {format_krw(burned)} = "
        f"outstanding {format_krw(outstanding)}"
    )
    if minted - burned != outstanding:
        raise typer.Exit(code=2)


def add_commands(root: typer.Typer) -> None:
    """The ``cityledger.commands`` entry point of these commands."""
    root.add_typer(app, name="admin")

"""`cityledger admin …`: the city staff's operations on the registry, the token, roles and the
payment router (fees, merchant redemptions, the city's fee share).

Each command signs as one staff account (``--as ALIAS`` or $CITYLEDGER_SIGNER_KEY) and the
contracts decide whether that account's role allows it: the CLI checks nothing the chain
would not check again.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

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
from ledger.exceptions import InputError
from ledger.payments.fees import BPS
from ledger.roles import Role
from ledger.types import AccountKind, RedemptionStatus, format_krw, parse_address, parse_krw

if TYPE_CHECKING:
    from ledger.registration import Change, Registrar

app = typer.Typer(
    help="City staff operations (registry, token, roles, payment fees and redemptions).",
    no_args_is_help=True,
)
app.callback()(staff_callback())
fees_app = typer.Typer(
    help="The payment router's fees: show them (anyone) or change them (merchant-admin).",
    no_args_is_help=True,
)
app.add_typer(fees_app, name="fees")

Account = Annotated[str, typer.Argument(help="Account address (0x…).")]
Ref = Annotated[
    str, typer.Option("--ref", help="Bank deposit / settlement reference (≤ 32 bytes).")
]


def _done(what: str, receipt: dict[str, object]) -> None:
    console.print(f"[green]{what}[/green] (block {receipt['blockNumber']})")


def _registrar(ctx: typer.Context) -> Registrar:
    from ledger.registration import Registrar

    member = staff(ctx)
    return Registrar.from_env(member.city, member.signer)


def _report(what: str, change: Change) -> None:
    """The registry change, then what happened to the node allowlists."""
    from ledger.secrets import NODE_ADMIN_TOKEN_ENV

    _done(what, dict(change.receipt))
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
    _done(f"updated {account}", dict(change.receipt))


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
    _done(f"minted {format_krw(value)} to {account} against {ref}", dict(receipt))


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
    _done(f"redeemed {format_krw(value)} against {ref}", dict(receipt))


@app.command()
@friendly_errors
def pause(ctx: typer.Context) -> None:
    """Stop every token movement (pauser)."""
    member = staff(ctx)
    _done("paused the token", dict(member.city.token.pause(member.signer)))


@app.command()
@friendly_errors
def unpause(ctx: typer.Context) -> None:
    """Let tokens move again (pauser)."""
    member = staff(ctx)
    _done("unpaused the token", dict(member.city.token.unpause(member.signer)))


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
    _done(f"granted {parsed.label} to {account}", dict(receipt))


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
    _done(f"revoked {parsed.label} from {account}", dict(receipt))


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


# -- payments: fees, redemptions, the city's fee share ---------------------------------------------

Rate = Annotated[
    str, typer.Argument(help="Basis points (100 = 1 %) or a percentage such as 1% or 0.25%.")
]
Category = Annotated[int, typer.Argument(help="Merchant category code (0: the default).", min=0)]


def _bps(text: str) -> int:
    """'100' (basis points) or '1%' / '0.25%' as basis points, 0 to 10,000."""
    raw = text.strip().lower().removesuffix("bps").strip()
    try:
        value = Decimal(raw[:-1].strip()) * 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if value != value.to_integral_value() or not 0 <= value <= BPS:
        raise InputError(
            f"{text!r} is not a rate: give basis points from 0 to {BPS:,} (100 = 1 %) "
            "or a percentage such as 1% or 0.25%"
        )
    return int(value)


def _rate(bps: int) -> str:
    return f"{bps:,} bps ({bps / 100:.2f} %)"


@fees_app.command("show")
@friendly_errors
def fees_show(
    ctx: typer.Context,
    merchant: Annotated[
        str | None, typer.Option(help="Also show this merchant's category and fee.")
    ] = None,
    category: Annotated[
        list[int] | None, typer.Option(help="Also show this category's fee (repeatable).", min=0)
    ] = None,
    json_output: JsonOutput = False,
) -> None:
    """Show the default fee, the points' share, the city's fee share and the escrow."""
    payments = staff(ctx).city.payments
    schedule = payments.fee_schedule()
    document: dict[str, Any] = {
        "default_fee_bps": schedule.default_fee_bps,
        "point_share_bps": schedule.point_share_bps,
        "city_fees": payments.city_fees(),
        "redemption_escrow": payments.escrowed(),
        "categories": {str(c): payments.category_fee_of(c) for c in category or []},
    }
    if merchant is not None:
        checked = parse_address(merchant)
        document["merchant"] = {
            "address": checked,
            "category": payments.merchant_category_of(checked),
            "own_fee_bps": payments.merchant_fee_of(checked),
            "fee_bps": payments.fee_bps_of(checked),
        }
    if json_output:
        emit(document)
        return
    console.print(f"default fee: {_rate(schedule.default_fee_bps)}")
    console.print(f"point share: {_rate(schedule.point_share_bps)} of each fee back to the payer")
    console.print(f"city fees held: {format_krw(document['city_fees'])}")
    console.print(f"redemption escrow: {format_krw(document['redemption_escrow'])}")
    for code, fee in document["categories"].items():
        shown = _rate(fee) if fee is not None else "none (pays the default fee)"
        console.print(f"category {code}: {shown}")
    if merchant is not None:
        terms = document["merchant"]
        own = terms["own_fee_bps"]
        console.print(
            f"merchant {terms['address']}: category {terms['category']}, "
            f"own fee {_rate(own) if own is not None else 'none'}, "
            f"pays {_rate(terms['fee_bps'])}"
        )


@fees_app.command("schedule")
@friendly_errors
def fees_schedule(
    ctx: typer.Context,
    default_fee: Rate,
    point_share: Annotated[
        str, typer.Argument(help="Share of each fee back to the payer as points, e.g. 100%.")
    ],
) -> None:
    """Set the default fee and the points' share of every fee (merchant-admin)."""
    member = staff(ctx)
    fee, share = _bps(default_fee), _bps(point_share)
    receipt = member.city.payments.set_fee_schedule(member.signer, fee, share)
    _done(f"default fee {_rate(fee)}, point share {_rate(share)}", dict(receipt))


@fees_app.command("category")
@friendly_errors
def fees_category(ctx: typer.Context, category: Category, fee: Rate) -> None:
    """Set the fee of a merchant category (merchant-admin)."""
    member = staff(ctx)
    bps = _bps(fee)
    receipt = member.city.payments.set_category_fee(member.signer, category, bps)
    _done(f"category {category} pays {_rate(bps)}", dict(receipt))


@fees_app.command("merchant-category")
@friendly_errors
def fees_merchant_category(ctx: typer.Context, merchant: Account, category: Category) -> None:
    """Put a merchant in a category (merchant-admin)."""
    member = staff(ctx)
    checked = parse_address(merchant)
    receipt = member.city.payments.set_merchant_category(member.signer, checked, category)
    _done(f"{checked} is in category {category}", dict(receipt))


@fees_app.command("merchant")
@friendly_errors
def fees_merchant(
    ctx: typer.Context,
    merchant: Account,
    fee: Annotated[
        str | None, typer.Argument(help="The merchant's own fee (bps or %); omit with --clear.")
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove the own fee: pay the category's.")
    ] = False,
) -> None:
    """Give a merchant its own fee, or remove it with --clear (merchant-admin)."""
    member = staff(ctx)
    checked = parse_address(merchant)
    if clear == (fee is not None):
        raise InputError("give the merchant's own FEE, or --clear to remove it (not both)")
    bps = 0 if fee is None else _bps(fee)
    receipt = member.city.payments.set_merchant_fee(member.signer, checked, bps, not clear)
    what = "pays its category's fee" if clear else f"pays {_rate(bps)}"
    _done(f"{checked} {what}", dict(receipt))


@app.command()
@friendly_errors
def redemptions(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list confirmed and rejected requests.")
    ] = False,
    json_output: JsonOutput = False,
) -> None:
    """List merchants' redemption requests waiting for the treasury (no signer needed)."""
    requests = staff(ctx).city.payments.redemption_requests()
    if not show_all:
        requests = [r for r in requests if r.redemption.status is RedemptionStatus.REQUESTED]
    if json_output:
        emit(
            [
                {
                    **asdict(r.redemption),
                    "status": r.redemption.status.name.lower(),
                    "block": r.block,
                    "tx_hash": r.tx_hash,
                }
                for r in requests
            ]
        )
        return
    table = Table(title="redemption requests" + ("" if show_all else " waiting for a decision"))
    for column in ("id", "block", "merchant", "amount", "status", "settlement"):
        table.add_column(column, justify="right" if column in ("id", "block", "amount") else "left")
    for r in requests:
        table.add_row(
            str(r.redemption.id),
            str(r.block),
            r.redemption.merchant,
            format_krw(r.redemption.amount),
            r.redemption.status.name.lower(),
            r.redemption.settlement_ref or "",
        )
    console.print(table)
    total = sum(r.redemption.amount for r in requests)
    console.print(f"{len(requests)} request(s), {format_krw(total)}")


RedemptionId = Annotated[int, typer.Argument(help="Redemption request id.", min=1)]


@app.command("confirm-redemption")
@friendly_errors
def confirm_redemption(
    ctx: typer.Context,
    redemption_id: RedemptionId,
    settlement_ref: Annotated[
        str, typer.Argument(help="The bank settlement that paid the merchant (≤ 32 bytes).")
    ],
) -> None:
    """Burn a redemption's escrow against the bank settlement reference (treasury)."""
    member = staff(ctx)
    receipt = member.city.payments.confirm_redemption(member.signer, redemption_id, settlement_ref)
    _done(f"confirmed redemption {redemption_id} against {settlement_ref}", dict(receipt))


@app.command("reject-redemption")
@friendly_errors
def reject_redemption(
    ctx: typer.Context,
    redemption_id: RedemptionId,
    reason: Annotated[str, typer.Argument(help="Why, as a short reference (≤ 32 bytes).")],
) -> None:
    """Return a redemption's escrow to its merchant (treasury)."""
    member = staff(ctx)
    receipt = member.city.payments.reject_redemption(member.signer, redemption_id, reason)
    _done(f"rejected redemption {redemption_id} ({reason})", dict(receipt))


@app.command("withdraw-city-fees")
@friendly_errors
def withdraw_city_fees(
    ctx: typer.Context,
    to: Account,
    amount: Annotated[str, typer.Argument(help="Whole won, e.g. 5000 or ₩5,000.")],
) -> None:
    """Move part of the city's fee share out of the payment router (treasury)."""
    member = staff(ctx)
    value = parse_krw(amount)
    checked = parse_address(to)
    receipt = member.city.payments.withdraw_city_fees(member.signer, checked, value)
    _done(f"withdrew {format_krw(value)} of city fees to {checked}", dict(receipt))


def add_commands(root: typer.Typer) -> None:
    """The ``cityledger.commands`` entry point of these commands."""
    root.add_typer(app, name="admin")

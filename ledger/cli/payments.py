"""`cityledger admin fees …`, `redemptions`, `confirm-redemption`, `reject-redemption` and
`withdraw-city-fees`: the payment router's settings and the treasury's side of merchants'
redemptions, added to the staff's ``admin`` group by the payments domain.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.table import Table

from ledger.cli.admin import Account, done
from ledger.cli.admin import app as admin
from ledger.cli.common import JsonOutput, console, emit, friendly_errors, staff
from ledger.exceptions import InputError
from ledger.payments.fees import BPS
from ledger.types import RedemptionStatus, format_krw, parse_address, parse_krw

fees_app = typer.Typer(
    help="The payment router's fees: show them (anyone) or change them (merchant-admin).",
    no_args_is_help=True,
)

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
    done(f"default fee {_rate(fee)}, point share {_rate(share)}", dict(receipt))


@fees_app.command("category")
@friendly_errors
def fees_category(ctx: typer.Context, category: Category, fee: Rate) -> None:
    """Set the fee of a merchant category (merchant-admin)."""
    member = staff(ctx)
    bps = _bps(fee)
    receipt = member.city.payments.set_category_fee(member.signer, category, bps)
    done(f"category {category} pays {_rate(bps)}", dict(receipt))


@fees_app.command("merchant-category")
@friendly_errors
def fees_merchant_category(ctx: typer.Context, merchant: Account, category: Category) -> None:
    """Put a merchant in a category (merchant-admin)."""
    member = staff(ctx)
    checked = parse_address(merchant)
    receipt = member.city.payments.set_merchant_category(member.signer, checked, category)
    done(f"{checked} is in category {category}", dict(receipt))


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
    done(f"{checked} {what}", dict(receipt))


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
    done(f"confirmed redemption {redemption_id} against {settlement_ref}", dict(receipt))


@friendly_errors
def reject_redemption(
    ctx: typer.Context,
    redemption_id: RedemptionId,
    reason: Annotated[str, typer.Argument(help="Why, as a short reference (≤ 32 bytes).")],
) -> None:
    """Return a redemption's escrow to its merchant (treasury)."""
    member = staff(ctx)
    receipt = member.city.payments.reject_redemption(member.signer, redemption_id, reason)
    done(f"rejected redemption {redemption_id} ({reason})", dict(receipt))


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
    done(f"withdrew {format_krw(value)} of city fees to {checked}", dict(receipt))


def add_commands(_root: typer.Typer) -> None:
    """The payments domain's commands join the staff's ``admin`` group, which the core domain
    added to the root before (:data:`ledger.domains.DOMAINS` order)."""
    admin.add_typer(fees_app, name="fees")
    admin.command()(redemptions)
    admin.command("confirm-redemption")(confirm_redemption)
    admin.command("reject-redemption")(reject_redemption)
    admin.command("withdraw-city-fees")(withdraw_city_fees)

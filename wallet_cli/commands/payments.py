"""Merchant payments: ``pay`` an invoice, ``points``, and for merchants ``refund`` and ``redeem``.

``pay`` reads everything it shows from the chain (the router's quote, the invoice's state, the
merchant's registration) and checks the invoice can still be paid before asking for a password;
the invoice itself comes from a payment URI, or from the city API when given an invoice id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from ledger.types import parse_krw
from wallet_cli import output
from wallet_cli.commands.keys import PasswordFile
from wallet_cli.context import Party, Wallet, wallet_command
from wallet_cli.errors import WalletError

if TYPE_CHECKING:
    from ledger.contracts.payments import Payment, PaymentRouter
    from ledger.payments.orders import PaymentUri

Yes = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Go ahead without asking to confirm.", show_default="ask"),
]
ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        envvar="CITYLEDGER_API_URL",
        help="The city API, to look up an invoice by its id.",
        show_default="none",
    ),
]
PayerAlias = Annotated[str, typer.Argument(metavar="PAYER", help="Alias of the paying key.")]
MerchantAlias = Annotated[
    str, typer.Argument(metavar="MERCHANT", help="Alias of the merchant key.")
]
Who = Annotated[
    str, typer.Argument(metavar="ALIAS|ADDRESS", help="An alias in the keystore or a 0x address.")
]


def _own(wallet: Wallet, alias: str, role: str) -> Party:
    if alias[:2].lower() == "0x":
        raise WalletError(f"{role} must be the alias of a key in the keystore, not an address")
    return Party(wallet.keys.address(alias), alias)


def _parse_ref(text: str) -> bytes:
    body = text.removeprefix("0x")
    if len(body) != 64:
        raise WalletError(f"{text!r} is not an invoice id: expected 0x and 64 hex digits")
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise WalletError(f"{text!r} is not an invoice id: expected 0x and 64 hex digits") from None


def resolve_invoice(invoice: str, api_url: str | None) -> PaymentUri:
    """The order behind a payment URI, or behind an invoice id (asking the city API)."""
    import httpx

    from ledger.payments.orders import parse_pay_uri

    if invoice.startswith("ethereum:"):
        return parse_pay_uri(invoice)
    ref = _parse_ref(invoice)
    if api_url is None:
        raise WalletError(
            "an invoice id needs the city API to look it up: pass --api-url (or set "
            "CITYLEDGER_API_URL), or pay the invoice's payment URI instead"
        )
    url = f"{api_url.rstrip('/')}/invoices/0x{ref.hex()}/payment-request"
    try:
        response = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        raise WalletError(f"cannot reach the city API at {api_url}: {exc}") from None
    if response.status_code == 404:
        raise WalletError(f"the city API knows no invoice 0x{ref.hex()}")
    if response.status_code != 200:
        raise WalletError(f"the city API refused the invoice lookup ({response.status_code})")
    try:
        found = parse_pay_uri(str(response.json()["payment_uri"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise WalletError(f"the city API sent an unreadable payment request: {exc}") from None
    if found.order.ref != ref:
        raise WalletError("the city API sent a payment request for another invoice")
    return found


@wallet_command
def pay(
    wallet: Wallet,
    payer: PayerAlias,
    invoice: Annotated[
        str,
        typer.Argument(
            metavar="INVOICE", help="A payment URI (ethereum:…/pay?…) or an invoice id."
        ),
    ],
    api_url: ApiUrl = None,
    yes: Yes = False,
    password_file: PasswordFile = None,
) -> None:
    """Pay a merchant's invoice: shows the fee and the token points you get back, then pays."""
    from ledger.payments.payability import check_payable

    source = _own(wallet, payer, "PAYER")
    request = resolve_invoice(invoice, api_url)
    city = wallet.city
    check_payable(city, request)
    order = request.order
    split = city.payments.quote(order.merchant, order.amount)
    before = city.token.balance_of(source.address)
    if before < split.payer_outflow:
        raise WalletError(
            f"insufficient balance: {source.label} has {output.krw(before)}, the invoice needs "
            f"{output.krw(split.payer_outflow)}"
        )
    summary = Table.grid(padding=(0, 2))
    summary.add_row("merchant", wallet.name_of(order.merchant))
    summary.add_row("invoice", f"0x{order.ref.hex()}")
    summary.add_row("amount", Text(output.krw(order.amount), style="bold"))
    summary.add_row("merchant gets", output.krw(split.merchant_amount))
    summary.add_row("fee", output.krw(split.fee))
    summary.add_row("  back to you as points", output.krw(split.points))
    if split.city_share:
        summary.add_row("  to the city", output.krw(split.city_share))
    summary.add_row("you pay", output.krw(split.payer_outflow))
    summary.add_row("balance after", output.krw(before - split.payer_outflow))
    wallet.info.print(summary)
    if not yes and not typer.confirm(
        f"Pay {output.krw(order.amount)} to {wallet.name_of(order.merchant)}?", err=True
    ):
        raise WalletError("cancelled: nothing was paid")
    signer = wallet.unlock(payer, password_file)
    receipt = city.payments.pay(signer, order)
    settled = city.payments.settlement_in(receipt)
    after = city.token.balance_of(source.address)
    if wallet.json:
        output.print_json(
            {
                "invoice_ref": f"0x{settled.ref.hex()}",
                "tx_hash": settled.tx_hash,
                "block": settled.block,
                "payer": settled.payer,
                "merchant": settled.merchant,
                "amount": settled.amount,
                "merchant_amount": settled.merchant_amount,
                "fee": settled.fee,
                "points": settled.points,
                "city_share": settled.city_share,
                "balance": after,
            }
        )
        return
    wallet.out.print(
        f"paid {output.krw(settled.amount)} to {wallet.name_of(settled.merchant)} in block "
        f"{settled.block}: {settled.tx_hash}"
    )
    wallet.out.print(
        f"merchant got {output.krw(settled.merchant_amount)}, you got "
        f"{output.krw(settled.points)} back as points; balance of {payer}: {output.krw(after)}"
    )


@wallet_command
def points(wallet: Wallet, who: Who) -> None:
    """Show the token points an account earned by paying merchants (net of refunds)."""
    party = wallet.party(who)
    city = wallet.city
    router = city.payments
    first = city.manifest.deployment_block or 0
    earned = router.events(
        "PaymentSettled", from_block=first, argument_filters={"payer": party.address}
    )
    refunded = router.events(
        "PaymentRefunded", from_block=first, argument_filters={"payer": party.address}
    )
    gross = sum(int(e["args"]["points"]) for e in earned)
    clawed = sum(int(e["args"]["pointsClawedBack"]) for e in refunded)
    if wallet.json:
        output.print_json(
            {
                "address": party.address,
                "alias": party.alias,
                "payments": len(earned),
                "points_earned": gross,
                "points_clawed_back": clawed,
                "points": gross - clawed,
            }
        )
        return
    table = Table.grid(padding=(0, 2))
    table.add_row("account", party.label)
    table.add_row("payments", str(len(earned)))
    table.add_row("points earned", output.krw(gross))
    if clawed:
        table.add_row("clawed back by refunds", output.krw(-clawed))
    table.add_row("points", Text(output.krw(gross - clawed), style="bold"))
    wallet.out.print(table)


def _payment(router: PaymentRouter, ref: bytes, merchant: Party) -> Payment:
    payment = router.payment_of(ref)
    if payment is None:
        raise WalletError(f"no payment was made with invoice 0x{ref.hex()}")
    if payment.merchant != merchant.address:
        raise WalletError(
            f"payment 0x{ref.hex()} was made to another merchant, not {merchant.label}"
        )
    return payment


@wallet_command
def refund(
    wallet: Wallet,
    merchant: MerchantAlias,
    invoice: Annotated[str, typer.Argument(metavar="INVOICE", help="The paid invoice's id (0x…).")],
    amount: Annotated[
        str | None,
        typer.Argument(metavar="AMOUNT", help="Whole won to refund (default: all that is left)."),
    ] = None,
    yes: Yes = False,
    password_file: PasswordFile = None,
) -> None:
    """Refund all or part of a payment to its payer (merchants); points are clawed back pro rata."""
    from ledger.payments.fees import refund_split

    seller = _own(wallet, merchant, "MERCHANT")
    ref = _parse_ref(invoice)
    router = wallet.city.payments
    payment = _payment(router, ref, seller)
    value = parse_krw(amount) if amount is not None else payment.refundable
    if payment.refundable == 0:
        raise WalletError(f"payment 0x{ref.hex()} was refunded in full already")
    parts = refund_split(payment.split, payment.refund_state, value)
    summary = Table.grid(padding=(0, 2))
    summary.add_row("payment", f"0x{ref.hex()} of {output.krw(payment.amount)}")
    summary.add_row("payer", wallet.name_of(payment.payer))
    summary.add_row("refund", Text(output.krw(value), style="bold"))
    summary.add_row("from you", output.krw(parts.from_merchant))
    if parts.from_city:
        summary.add_row("from the city's fee share", output.krw(parts.from_city))
    summary.add_row("points clawed back", output.krw(parts.points_clawed_back))
    summary.add_row("payer receives", output.krw(parts.payer_inflow))
    wallet.info.print(summary)
    if not yes and not typer.confirm(f"Refund {output.krw(value)}?", err=True):
        raise WalletError("cancelled: nothing was refunded")
    signer = wallet.unlock(merchant, password_file)
    done = router.refund_in(router.refund(signer, ref, value))
    if wallet.json:
        output.print_json(
            {
                "invoice_ref": f"0x{ref.hex()}",
                "tx_hash": done.tx_hash,
                "block": done.block,
                "amount": done.amount,
                "from_merchant": done.from_merchant,
                "from_city": done.from_city,
                "points_clawed_back": done.points_clawed_back,
                "refunded_total": done.refunded_total,
            }
        )
        return
    wallet.out.print(
        f"refunded {output.krw(done.amount)} of 0x{ref.hex()} in block {done.block} "
        f"({output.krw(done.refunded_total)} of {output.krw(payment.amount)} refunded in all): "
        f"{done.tx_hash}"
    )


@wallet_command
def redeem(
    wallet: Wallet,
    merchant: MerchantAlias,
    amount: Annotated[str, typer.Argument(metavar="AMOUNT", help="Whole won to cash out.")],
    yes: Yes = False,
    password_file: PasswordFile = None,
) -> None:
    """Ask the city to pay tokens out to the merchant's bank account (held until confirmed)."""
    seller = _own(wallet, merchant, "MERCHANT")
    value = parse_krw(amount)
    city = wallet.city
    balance = city.token.balance_of(seller.address)
    if balance < value:
        raise WalletError(
            f"insufficient balance: {seller.label} has {output.krw(balance)}, the redemption "
            f"needs {output.krw(value)}"
        )
    wallet.info.print(
        f"{output.krw(value)} of {seller.label} go into the city's escrow until the treasury "
        "confirms the bank transfer (or returns them)"
    )
    if not yes and not typer.confirm(f"Redeem {output.krw(value)}?", err=True):
        raise WalletError("cancelled: nothing was redeemed")
    signer = wallet.unlock(merchant, password_file)
    redemption_id = city.payments.request_redemption(signer, value)
    if wallet.json:
        output.print_json(
            {"redemption_id": redemption_id, "merchant": seller.address, "amount": value}
        )
        return
    wallet.out.print(f"redemption {redemption_id} requested: {output.krw(value)} in escrow")

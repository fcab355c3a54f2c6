"""Merchants' invoices: created here (an order with a random salt), paid on chain, read from
the index; cancelled on chain by the API's service account for the merchant."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from api.core import scopes
from api.core.errors import ApiError, not_found
from api.deps import (
    CurrentPrincipal,
    Principal,
    ServicesDep,
    SessionDep,
    SettingsDep,
    list_owner,
)
from api.idempotency import IdempotencyDep
from api.index import (
    IndexHead,
    as_utc,
    effective_status,
    index_head,
    index_time,
    is_active_merchant,
)
from api.models import utcnow
from api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from api.schemas import (
    ADDRESS_PATTERN,
    InvoiceCreate,
    InvoicePublic,
    OrderPublic,
    PaymentRequestPublic,
    QrPublic,
)
from api.services import Services
from ledger.indexer.models import Invoice
from ledger.payments.orders import Order
from ledger.payments.states import InvoiceStatus

router = APIRouter(prefix="/invoices", tags=["invoices"])

RefPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="Invoice reference.")]
QrFormat = Annotated[Literal["svg"] | None, Query(description="Also return the QR code as SVG.")]


def order_of(invoice: Invoice) -> Order | None:
    """The order behind an invoice the API created (invoices first seen on chain have none)."""
    if invoice.salt is None or invoice.valid_until is None:
        return None
    return Order(
        invoice.merchant, invoice.amount, invoice.valid_until, bytes.fromhex(invoice.salt[2:])
    )


def to_public(
    invoice: Invoice,
    services: Services,
    head: IndexHead | None,
    grace: int,
    *,
    qr: str | None = None,
    cancel_tx: str | None = None,
) -> InvoicePublic:
    order = order_of(invoice)
    uri = order.uri(services.router_address, services.chain_id) if order else None
    svg = None
    if uri is not None and qr == "svg":
        import segno

        svg = segno.make(uri, error="m", micro=False).svg_inline(scale=4)
    status = effective_status(invoice, head, grace)
    return InvoicePublic(
        ref=invoice.ref,
        merchant=invoice.merchant,
        amount=invoice.amount,
        valid_until=invoice.valid_until,
        status=status,
        description=invoice.description,
        external_id=invoice.external_id,
        created_at=as_utc(invoice.created_at),
        payer=invoice.payer,
        paid_tx=invoice.paid_tx,
        paid_block=invoice.paid_block,
        order=OrderPublic(
            merchant=order.merchant,
            amount=order.amount,
            valid_until=order.valid_until,
            salt="0x" + order.salt.hex(),
        )
        if order
        else None,
        payment_uri=uri,
        qr=QrPublic(text=uri, svg=svg) if uri else None,
        cancel_tx=cancel_tx,
    )


def _valid_until(body: InvoiceCreate, default_ttl: int, max_ttl: int) -> int:
    now = int(time.time())
    if body.valid_until is not None and body.valid_for is not None:
        raise ApiError(422, "invalid_expiry", "give valid_until or valid_for, not both")
    if body.valid_until is not None:
        valid_until = body.valid_until
    else:
        valid_until = now + (body.valid_for if body.valid_for is not None else default_ttl)
    if valid_until <= now:
        raise ApiError(422, "invalid_expiry", f"valid_until {valid_until} is in the past")
    if valid_until > now + max_ttl:
        raise ApiError(
            422, "invalid_expiry", f"an invoice may be valid for at most {max_ttl:,} seconds"
        )
    return valid_until


def _check_merchant(session: Session, merchant: str) -> None:
    if not is_active_merchant(session, merchant):
        raise ApiError(
            422,
            "not_an_active_merchant",
            f"{merchant} is not an active merchant in the registry (as indexed)",
        )


def _owned(session: Session, principal: Principal, ref: str) -> Invoice:
    invoice = session.get(Invoice, ref.lower())
    if invoice is None or not principal.may_read(scopes.INVOICES_READ, invoice.merchant):
        raise not_found("invoice")
    return invoice


@router.post("", status_code=201, response_model=InvoicePublic)
def create_invoice(
    body: InvoiceCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
    idempotency: IdempotencyDep,
    qr: QrFormat = None,
) -> JSONResponse:
    """Create an invoice: its reference, payment URI and QR payload."""
    principal.require(scopes.INVOICES_WRITE)
    merchant = principal.merchant_address()

    def create() -> tuple[int, InvoicePublic]:
        valid_until = _valid_until(body, settings.invoice_default_ttl, settings.invoice_max_ttl)
        _check_merchant(session, merchant)
        order = Order.new(merchant, body.amount, valid_until)
        invoice = Invoice(
            ref="0x" + order.ref.hex(),
            merchant=order.merchant,
            amount=order.amount,
            valid_until=order.valid_until,
            salt="0x" + order.salt.hex(),
            description=body.description,
            external_id=body.external_id,
            status=InvoiceStatus.OPEN,
            created_at=index_time(utcnow()),
        )
        session.add(invoice)
        head = index_head(session)
        return 201, to_public(invoice, services, head, settings.expiry_grace, qr=qr)

    return idempotency.run(session, body, create)


@router.get("")
def list_invoices(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
    status: InvoiceStatus | None = None,
    merchant: Annotated[
        str | None,
        Query(pattern=ADDRESS_PATTERN, description="City services: whose invoices."),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[InvoicePublic]:
    """The merchant's invoices, newest first."""
    principal.require(scopes.INVOICES_READ)
    owner = list_owner(principal, merchant)
    head = index_head(session)
    query = select(Invoice)
    if owner is not None:
        query = query.where(col(Invoice.merchant) == owner)
    cutoff = max(int(time.time()) - settings.expiry_grace, (head.timestamp or 0) if head else 0)
    unpaid = col(Invoice.status) == InvoiceStatus.OPEN
    expired = and_(unpaid, col(Invoice.valid_until) < cutoff)
    if status is InvoiceStatus.EXPIRED:
        query = query.where(or_(col(Invoice.status) == InvoiceStatus.EXPIRED, expired))
    elif status is InvoiceStatus.OPEN:
        query = query.where(unpaid, col(Invoice.valid_until) >= cutoff)
    elif status is not None:
        query = query.where(col(Invoice.status) == status)
    after = decode_cursor(cursor, (str, str))
    if after is not None:
        created, ref = after
        try:
            moment = datetime.fromisoformat(str(created))
        except ValueError:
            raise ApiError(
                422, "invalid_cursor", "the cursor is not one this API returned"
            ) from None
        query = query.where(
            or_(
                col(Invoice.created_at) < moment,
                and_(col(Invoice.created_at) == moment, col(Invoice.ref) < ref),
            )
        )
    rows = session.exec(
        query.order_by(col(Invoice.created_at).desc(), col(Invoice.ref).desc()).limit(limit + 1)
    ).all()
    items = [to_public(i, services, head, settings.expiry_grace) for i in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return Page[InvoicePublic](
        items=items,
        next_cursor=encode_cursor(last.created_at.isoformat(), last.ref) if last else None,
    )


@router.get("/{ref}")
def get_invoice(
    ref: RefPath,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
    qr: QrFormat = None,
) -> InvoicePublic:
    """One invoice and where it stands (open, paid, cancelled or expired)."""
    invoice = _owned(session, principal, ref)
    return to_public(invoice, services, index_head(session), settings.expiry_grace, qr=qr)


@router.get("/{ref}/payment-request")
def payment_request(
    ref: RefPath, session: SessionDep, settings: SettingsDep, services: ServicesDep
) -> PaymentRequestPublic:
    """The payment URI of an invoice, for the payer's wallet (`wallet pay <ref> --api-url …`).

    Public on purpose: while an invoice is open its reference commits to a random 32-byte salt
    that only the holder of the invoice (the QR code at the till) knows. Once it is paid or
    cancelled the reference is in the chain's events for anyone to read, so from then on the
    answer leaves out the merchant's free-text description (which may name a customer). It
    never shows a payer.
    """
    invoice = session.get(Invoice, ref.lower())
    order = order_of(invoice) if invoice is not None else None
    if invoice is None or order is None:
        raise not_found("invoice")
    status = effective_status(invoice, index_head(session), settings.expiry_grace)
    return PaymentRequestPublic(
        ref=invoice.ref,
        merchant=order.merchant,
        amount=order.amount,
        valid_until=order.valid_until,
        status=status,
        description=invoice.description if status is InvoiceStatus.OPEN else None,
        payment_uri=order.uri(services.router_address, services.chain_id),
    )


@router.post("/{ref}/cancel", response_model=InvoicePublic)
def cancel_invoice(
    ref: RefPath,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Cancel an unpaid invoice on chain, so it can never be paid."""
    principal.require(scopes.INVOICES_WRITE)
    merchant = principal.merchant_address()

    def cancel() -> tuple[int, InvoicePublic]:
        invoice = session.get(Invoice, ref.lower())
        if invoice is None or invoice.merchant != merchant:
            raise not_found("invoice")
        if invoice.status in (InvoiceStatus.PAID, InvoiceStatus.CANCELLED):
            raise ApiError(409, f"invoice_{invoice.status}", f"the invoice is {invoice.status}")
        order = order_of(invoice)
        if order is None:
            raise ApiError(409, "invoice_without_order", "this invoice was not created here")
        receipt = services.city.payments.cancel_invoice_for(services.service_signer, order)
        invoice.status = InvoiceStatus.CANCELLED
        session.add(invoice)
        return 200, to_public(
            invoice,
            services,
            index_head(session),
            settings.expiry_grace,
            cancel_tx=receipt["transactionHash"].to_0x_hex(),
        )

    return idempotency.run(session, None, cancel)

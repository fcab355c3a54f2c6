"""Settled payments, from the index: their payer, their merchant, or city staff see them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import and_, or_
from sqlmodel import col, select

from api.core import scopes
from api.core.errors import not_found
from api.deps import AddressQuery, CurrentPrincipal, SessionDep, party_filters
from api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from api.schemas import PaymentPublic
from ledger.indexer.models import Payment

router = APIRouter(prefix="/payments", tags=["payments"])

RefPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="Invoice reference.")]


def to_public(payment: Payment) -> PaymentPublic:
    return PaymentPublic.model_validate(payment, from_attributes=True)


@router.get("/{ref}")
def get_payment(ref: RefPath, principal: CurrentPrincipal, session: SessionDep) -> PaymentPublic:
    """The payment of an invoice reference: split, refunds so far, status."""
    payment = session.get(Payment, ref.lower())
    if payment is None or not principal.may_read(
        scopes.PAYMENTS_READ, payment.payer, payment.merchant
    ):
        raise not_found("payment")
    return to_public(payment)


@router.get("")
def list_payments(
    principal: CurrentPrincipal,
    session: SessionDep,
    merchant: AddressQuery = None,
    payer: AddressQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[PaymentPublic]:
    """Payments received (merchants) or made (residents), newest first."""
    principal.require(scopes.PAYMENTS_READ)
    query = select(Payment)
    for side, value in party_filters(principal, merchant, payer).items():
        query = query.where(col(getattr(Payment, side)) == value)
    after = decode_cursor(cursor, (int, str))
    if after is not None:
        block, ref = after
        query = query.where(
            or_(
                col(Payment.block_number) < block,
                and_(col(Payment.block_number) == block, col(Payment.ref) < ref),
            )
        )
    rows = session.exec(
        query.order_by(col(Payment.block_number).desc(), col(Payment.ref).desc()).limit(limit + 1)
    ).all()
    last = rows[limit - 1] if len(rows) > limit else None
    return Page[PaymentPublic](
        items=[to_public(p) for p in rows[:limit]],
        next_cursor=encode_cursor(last.block_number, last.ref) if last else None,
    )

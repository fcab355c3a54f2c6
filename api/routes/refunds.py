"""Refunds: read from the index; made by relaying the merchant's own signed transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import and_, or_
from sqlmodel import col, select

from api import relaying
from api.core import scopes
from api.deps import AddressQuery, CurrentPrincipal, ServicesDep, SessionDep, party_filters
from api.idempotency import IdempotencyDep
from api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from api.relaying import PENDING
from api.schemas import MerchantRelay, RefundPublic, RelayResult
from ledger.indexer.models import Refund

router = APIRouter(prefix="/refunds", tags=["refunds"])


@router.get("")
def list_refunds(
    principal: CurrentPrincipal,
    session: SessionDep,
    ref: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{64}$")] = None,
    merchant: AddressQuery = None,
    payer: AddressQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[RefundPublic]:
    """Refunds made (merchants) or received (residents), newest first."""
    principal.require(scopes.REFUNDS_READ)
    query = select(Refund)
    for side, value in party_filters(principal, merchant, payer).items():
        query = query.where(col(getattr(Refund, side)) == value)
    if ref is not None:
        query = query.where(col(Refund.ref) == ref.lower())
    after = decode_cursor(cursor, (int, int))
    if after is not None:
        block, log_index = after
        query = query.where(
            or_(
                col(Refund.block_number) < block,
                and_(col(Refund.block_number) == block, col(Refund.log_index) < log_index),
            )
        )
    rows = session.exec(
        query.order_by(col(Refund.block_number).desc(), col(Refund.log_index).desc()).limit(
            limit + 1
        )
    ).all()
    last = rows[limit - 1] if len(rows) > limit else None
    return Page[RefundPublic](
        items=[RefundPublic.model_validate(r, from_attributes=True) for r in rows[:limit]],
        next_cursor=encode_cursor(last.block_number, last.log_index) if last else None,
    )


@router.post("", status_code=201, response_model=RelayResult, responses=PENDING)
def relay_refund(
    body: MerchantRelay,
    principal: CurrentPrincipal,
    session: SessionDep,
    services: ServicesDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Relay the merchant's signed `refund` (and optionally its token approval first)."""
    principal.require(scopes.REFUNDS_WRITE)
    merchant = principal.merchant_address()

    def send() -> tuple[int, RelayResult]:
        return relaying.merchant_relay(
            services, body.raw_transaction, body.approve_transaction, merchant, "refund"
        )

    return idempotency.run(session, body, send, recheck=lambda _stored: send())

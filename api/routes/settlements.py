"""Merchants' redemptions (bank payouts): requested by relaying the merchant's own signed
``requestRedemption``, confirmed or rejected by the treasury on chain, read from the index."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from api import relaying
from api.core import scopes
from api.core.errors import not_found
from api.deps import CurrentPrincipal, ServicesDep, SessionDep, list_owner
from api.idempotency import IdempotencyDep
from api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from api.relaying import PENDING
from api.schemas import ADDRESS_PATTERN, MerchantRelay, RedemptionPublic, RelayResult
from ledger.indexer.models import Redemption
from ledger.payments.states import RedemptionState

router = APIRouter(prefix="/settlements", tags=["settlements"])


@router.get("")
def list_settlements(
    principal: CurrentPrincipal,
    session: SessionDep,
    status: RedemptionState | None = None,
    merchant: Annotated[str | None, Query(pattern=ADDRESS_PATTERN)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[RedemptionPublic]:
    """The merchant's redemption requests, newest first."""
    principal.require(scopes.SETTLEMENTS_READ)
    owner = list_owner(principal, merchant)
    query = select(Redemption)
    if owner is not None:
        query = query.where(col(Redemption.merchant) == owner)
    if status is not None:
        query = query.where(col(Redemption.status) == status)
    after = decode_cursor(cursor, (int,))
    if after is not None:
        query = query.where(col(Redemption.id) < after[0])
    rows = session.exec(query.order_by(col(Redemption.id).desc()).limit(limit + 1)).all()
    last = rows[limit - 1] if len(rows) > limit else None
    return Page[RedemptionPublic](
        items=[RedemptionPublic.model_validate(r, from_attributes=True) for r in rows[:limit]],
        next_cursor=encode_cursor(last.id) if last else None,
    )


@router.get("/{redemption_id}")
def get_settlement(
    redemption_id: Annotated[int, Path(ge=0, lt=2**63)],
    principal: CurrentPrincipal,
    session: SessionDep,
) -> RedemptionPublic:
    """One redemption request and its decision."""
    redemption = session.get(Redemption, redemption_id)
    if redemption is None or not principal.may_read(scopes.SETTLEMENTS_READ, redemption.merchant):
        raise not_found("redemption")
    return RedemptionPublic.model_validate(redemption, from_attributes=True)


@router.post("", status_code=201, response_model=RelayResult, responses=PENDING)
def request_settlement(
    body: MerchantRelay,
    principal: CurrentPrincipal,
    session: SessionDep,
    services: ServicesDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Relay the merchant's signed `requestRedemption` (and optionally its approval first)."""
    principal.require(scopes.SETTLEMENTS_WRITE)
    merchant = principal.merchant_address()

    def send() -> tuple[int, RelayResult]:
        return relaying.merchant_relay(
            services, body.raw_transaction, body.approve_transaction, merchant, "requestRedemption"
        )

    return idempotency.run(session, body, send, recheck=lambda _stored: send())

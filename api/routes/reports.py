"""Merchants' daily settlement reports (the arithmetic is :mod:`ledger.payments.report`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from api.core import scopes
from api.core.errors import ApiError, forbidden
from api.core.scopes import PrincipalKind
from api.deps import CurrentPrincipal, SessionDep, SettingsDep, checked_address
from api.index import index_head
from api.schemas import ADDRESS_PATTERN, DailyReportPublic
from ledger.indexer.models import Payment, Redemption, Refund
from ledger.payments.report import (
    PaymentLine,
    RedemptionLine,
    RefundLine,
    daily_report,
    day_bounds,
)
from ledger.payments.states import RedemptionState

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/daily")
def daily(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[date, Query(description="The local day (report timezone), YYYY-MM-DD.")],
    merchant: Annotated[
        str | None,
        Query(pattern=ADDRESS_PATTERN, description="City services: whose report."),
    ] = None,
) -> DailyReportPublic:
    """A merchant's day: payments, refunds, fees, points, redemptions, net, saving vs card."""
    principal.require(scopes.REPORTS_READ)
    if principal.kind is PrincipalKind.SERVICE:
        if merchant is None:
            raise ApiError(422, "merchant_required", "name the merchant (?merchant=0x…)")
        owner = checked_address(merchant)
    else:
        if principal.kind is not PrincipalKind.MERCHANT or principal.address is None:
            raise forbidden("reports are for merchants and city services")
        if merchant is not None and checked_address(merchant) != principal.address:
            raise forbidden("you may read only your own reports")
        owner = principal.address
    if not date(1970, 1, 2) <= day <= date(9999, 12, 30):
        raise ApiError(422, "invalid_day", "the day is out of range")
    start, end = day_bounds(day, settings.report_timezone)
    payments = session.exec(
        select(Payment).where(
            col(Payment.merchant) == owner,
            col(Payment.timestamp) >= start,
            col(Payment.timestamp) < end,
        )
    ).all()
    refunds = session.exec(
        select(Refund).where(
            col(Refund.merchant) == owner,
            col(Refund.timestamp) >= start,
            col(Refund.timestamp) < end,
        )
    ).all()
    requested = session.exec(
        select(Redemption).where(
            col(Redemption.merchant) == owner,
            col(Redemption.requested_at) >= start,
            col(Redemption.requested_at) < end,
        )
    ).all()
    decided = session.exec(
        select(Redemption).where(
            col(Redemption.merchant) == owner,
            col(Redemption.decided_at) >= start,
            col(Redemption.decided_at) < end,
        )
    ).all()
    report = daily_report(
        owner,
        day,
        [PaymentLine(p.amount, p.merchant_amount, p.fee, p.points, p.city_share) for p in payments],
        [RefundLine(r.amount, r.from_merchant, r.from_city, r.points_clawed_back) for r in refunds],
        [RedemptionLine(r.amount, RedemptionState.REQUESTED) for r in requested]
        + [
            RedemptionLine(r.amount, RedemptionState(r.status))
            for r in decided
            if r.status != RedemptionState.REQUESTED
        ],
        timezone=settings.report_timezone,
        card_fee_bps=settings.card_fee_bps,
        van_fee_bps=settings.van_fee_bps,
    )
    head = index_head(session)
    return DailyReportPublic(**asdict(report), indexed_block=head.block_number if head else None)

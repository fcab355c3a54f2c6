"""Merchants' webhook endpoints: register, list, rotate the secret, delete; the delivery log."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select

from api.core import scopes
from api.core.config import Settings
from api.core.errors import ApiError, not_found
from api.core.sealing import sealer_for
from api.deps import CurrentPrincipal, Principal, SessionDep, SettingsDep
from api.idempotency import IdempotencyDep
from api.index import index_head
from api.models import WebhookDelivery, WebhookEndpoint, WebhookOutbox, utcnow
from api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from api.schemas import (
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointPublic,
    WebhookEndpointSecret,
)
from api.webhooks import secret_store
from api.webhooks.destinations import (
    DestinationNotAllowed,
    InvalidWebhookUrl,
    check_registration,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

IdPath = Annotated[uuid.UUID, Path(description="Webhook endpoint id.")]


def to_public(endpoint: WebhookEndpoint) -> WebhookEndpointPublic:
    return WebhookEndpointPublic(
        id=endpoint.id,
        url=endpoint.url,
        event_types=endpoint.event_types.split(),
        description=endpoint.description,
        active=endpoint.active,
        created_at=endpoint.created_at,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


def with_secret(endpoint: WebhookEndpoint, secret: str) -> WebhookEndpointSecret:
    return WebhookEndpointSecret(**to_public(endpoint).model_dump(), secret=secret)


def check_url(url: str, settings: Settings) -> str:
    """An absolute http(s) URL whose host is public, unless private hosts are allowed (SSRF:
    see :mod:`api.webhooks.destinations`; the worker checks again at every connection)."""
    try:
        check_registration(
            url,
            allow_private=settings.webhook_allow_private_hosts,
            require_https=settings.webhook_require_https,
        )
    except DestinationNotAllowed:
        # One answer for a private address and a name that does not resolve: which internal
        # names exist is not the merchant's business.
        raise ApiError(
            422,
            "invalid_webhook_url",
            "webhook URLs must point at a host with public addresses only",
        ) from None
    except InvalidWebhookUrl as exc:
        raise ApiError(422, "invalid_webhook_url", str(exc)) from None
    return url


def _merchant(principal: Principal) -> str:
    principal.require(scopes.WEBHOOKS_MANAGE)
    return principal.merchant_address()


def _endpoint(session: Session, merchant: str, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.merchant != merchant or endpoint.deleted_at is not None:
        raise not_found("webhook endpoint")
    return endpoint


@router.post("", status_code=201, response_model=WebhookEndpointSecret)
def create_endpoint(
    body: WebhookEndpointCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Register an endpoint; the answer shows its signing secret, once."""
    merchant = _merchant(principal)

    def create() -> tuple[int, WebhookEndpointSecret]:
        head = index_head(session)
        endpoint = WebhookEndpoint(
            merchant=merchant,
            url=check_url(body.url, settings),
            description=body.description,
            event_types=" ".join(dict.fromkeys(body.event_types)),
            scan_from_block=head.block_number if head else 0,
            created_at=utcnow(),
        )
        session.add(endpoint)
        secret = secret_store.issue(session, endpoint, sealer_for(settings))
        return 201, with_secret(endpoint, secret)

    return idempotency.run(session, body, create, sealed=True)


@router.get("")
def list_endpoints(principal: CurrentPrincipal, session: SessionDep) -> list[WebhookEndpointPublic]:
    """The merchant's endpoints."""
    merchant = _merchant(principal)
    rows = session.exec(
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.merchant) == merchant, col(WebhookEndpoint.deleted_at).is_(None))
        .order_by(col(WebhookEndpoint.created_at))
    ).all()
    return [to_public(e) for e in rows]


@router.get("/{endpoint_id}")
def get_endpoint(
    endpoint_id: IdPath, principal: CurrentPrincipal, session: SessionDep
) -> WebhookEndpointPublic:
    """One endpoint (without its secret)."""
    return to_public(_endpoint(session, _merchant(principal), endpoint_id))


@router.post("/{endpoint_id}/rotate-secret", response_model=WebhookEndpointSecret)
def rotate_secret(
    endpoint_id: IdPath,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """A new signing secret; the replaced one still signs (another v1) for the overlap period,
    and so do earlier ones still in theirs."""
    merchant = _merchant(principal)

    def rotate() -> tuple[int, WebhookEndpointSecret]:
        endpoint = _endpoint(session, merchant, endpoint_id)
        try:
            secret = secret_store.rotate(
                session,
                endpoint,
                sealer_for(settings),
                settings.webhook_secret_overlap,
                utcnow(),
            )
        except secret_store.TooManyRotations as exc:
            raise ApiError(409, "too_many_rotations", str(exc)) from None
        return 200, with_secret(endpoint, secret)

    return idempotency.run(session, None, rotate, sealed=True)


@router.delete("/{endpoint_id}", status_code=204)
def delete_endpoint(
    endpoint_id: IdPath, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Stop sending to an endpoint (its delivery log is kept, its secrets are not)."""
    endpoint = _endpoint(session, _merchant(principal), endpoint_id)
    endpoint.deleted_at = utcnow()
    endpoint.active = False
    session.add(endpoint)
    secret_store.forget(session, endpoint.id)
    session.commit()
    return Response(status_code=204)


@router.get("/{endpoint_id}/deliveries")
def list_deliveries(
    endpoint_id: IdPath,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[WebhookDeliveryPublic]:
    """Every delivery attempt to the endpoint, newest first."""
    endpoint = _endpoint(session, _merchant(principal), endpoint_id)
    query = (
        select(WebhookDelivery, WebhookOutbox.event_type)
        .join(WebhookOutbox, col(WebhookOutbox.id) == col(WebhookDelivery.outbox_id))
        .where(col(WebhookDelivery.endpoint_id) == endpoint.id)
    )
    after = decode_cursor(cursor, (int,))
    if after is not None:
        query = query.where(col(WebhookDelivery.id) < after[0])
    rows = session.exec(query.order_by(col(WebhookDelivery.id).desc()).limit(limit + 1)).all()
    items = [
        WebhookDeliveryPublic(
            id=d.id or 0,
            event_id=d.event_id,
            event_type=event_type,
            attempt=d.attempt,
            attempted_at=d.attempted_at,
            status_code=d.status_code,
            error=d.error,
            duration_ms=d.duration_ms,
        )
        for d, event_type in rows[:limit]
    ]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return Page[WebhookDeliveryPublic](
        items=items, next_cursor=encode_cursor(last.id or 0) if last else None
    )

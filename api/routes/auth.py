"""Residents sign in with Ethereum (EIP-4361): a single-use nonce, a signed message, a token."""

from __future__ import annotations

import math
import secrets
import warnings
from datetime import datetime, timedelta
from typing import Any

from eth_keys.exceptions import BadSignature
from fastapi import APIRouter, Request
from sqlalchemy import update
from sqlmodel import col

from api.core.config import Settings
from api.core.errors import ApiError
from api.core.limits import client_ip
from api.core.security import create_access_token
from api.deps import ServicesDep, SessionDep, SettingsDep
from api.models import SiweNonce, utcnow
from api.schemas import NonceRequest, NonceResponse, TokenResponse, VerifyRequest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # siwe's grammar emits harmless GrammarWarnings on import
    import siwe  # type: ignore[import-untyped]

router = APIRouter(prefix="/auth", tags=["auth"])

_NONCE_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _unauthorized(code: str, detail: str) -> ApiError:
    return ApiError(401, code, detail, headers={"WWW-Authenticate": "Bearer"})


@router.post("/nonce", status_code=201)
def create_nonce(
    request: Request,
    body: NonceRequest,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
) -> NonceResponse:
    """A single-use sign-in nonce (and the message to sign, if an address is given).

    Each nonce is a stored row, so a client IP may ask for ``siwe_nonces_per_minute`` of them
    (beyond the API's general rate limit)."""
    wait = request.app.state.nonce_buckets.take(client_ip(request.scope))
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            "too many sign-in nonces from this address: retry after the Retry-After seconds",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    now = utcnow()
    nonce = "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(22))
    expires = now + timedelta(seconds=settings.siwe_nonce_ttl)
    chain_id = services.chain_id
    address = None
    message = None
    if body.address is not None:
        from eth_utils import to_checksum_address

        address = to_checksum_address(body.address)
        message = siwe.SiweMessage(
            domain=settings.siwe_domain,
            address=address,
            statement=settings.siwe_statement,
            uri=settings.siwe_uri,
            version="1",
            chain_id=chain_id,
            nonce=nonce,
            issued_at=siwe.ISO8601Datetime.from_datetime(now),
            expiration_time=siwe.ISO8601Datetime.from_datetime(expires),
        ).prepare_message()
    session.add(SiweNonce(nonce=nonce, address=address, created_at=now, expires_at=expires))
    session.commit()
    return NonceResponse(
        nonce=nonce,
        expires_at=expires,
        domain=settings.siwe_domain,
        uri=settings.siwe_uri,
        chain_id=chain_id,
        statement=settings.siwe_statement,
        message=message,
    )


@router.post("/verify")
def verify(
    body: VerifyRequest, session: SessionDep, settings: SettingsDep, services: ServicesDep
) -> TokenResponse:
    """Exchange a signed EIP-4361 message for a short-lived access token."""
    message = _parse(body.message)
    if message.uri != settings.siwe_uri:
        raise _unauthorized(
            "siwe_wrong_uri",
            f"the message is for {message.uri!r}, this service is {settings.siwe_uri!r}",
        )
    if message.domain != settings.siwe_domain:
        raise _unauthorized(
            "siwe_wrong_domain",
            f"the message is for {message.domain!r}, this service is {settings.siwe_domain!r}",
        )
    if message.chain_id != services.chain_id:
        raise _unauthorized(
            "siwe_wrong_chain",
            f"the message is for chain {message.chain_id}, this is chain {services.chain_id}",
        )
    now = utcnow()
    _check_issued_at(message, now, settings)
    try:
        message.verify(body.signature, domain=settings.siwe_domain, timestamp=now)
    except siwe.ExpiredMessage:
        raise _unauthorized("siwe_expired", "the signed message expired: sign in again") from None
    except siwe.NotYetValidMessage:
        raise _unauthorized("siwe_not_yet_valid", "the signed message is not valid yet") from None
    except (siwe.VerificationError, BadSignature):  # BadSignature: r = s = 0 recovers no key
        raise _unauthorized(
            "siwe_bad_signature", f"the signature is not {message.address}'s"
        ) from None
    consumed = session.execute(
        update(SiweNonce)
        .where(
            col(SiweNonce.nonce) == message.nonce,
            col(SiweNonce.used_at).is_(None),
            col(SiweNonce.expires_at) > now,
        )
        .values(used_at=now)
    )
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise _nonce_problem(session.get(SiweNonce, message.nonce))
    record = session.get(SiweNonce, message.nonce)
    if record is not None and record.address not in (None, message.address):
        session.rollback()
        raise _unauthorized("siwe_nonce_unknown", "this nonce was issued to another address")
    session.commit()
    token = create_access_token(
        settings.secret_key, message.address, services.chain_id, settings.access_token_ttl, now=now
    )
    return TokenResponse(
        access_token=token.token,
        expires_at=token.expires_at,
        expires_in=settings.access_token_ttl,
        address=message.address,
    )


def _check_issued_at(message: Any, now: datetime, settings: Settings) -> None:
    """A message is issued when its nonce is: not ahead of the clock, and not older than a
    nonce lives (the nonce's own expiry is checked when it is consumed)."""
    try:
        issued = datetime.fromisoformat(str(message.issued_at).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422, "siwe_invalid_message", f"issued-at {message.issued_at!r} is not a time"
        ) from None
    skew = timedelta(seconds=settings.siwe_clock_skew)
    if issued > now + skew:
        raise _unauthorized("siwe_not_yet_valid", "the message is issued in the future")
    if issued < now - timedelta(seconds=settings.siwe_nonce_ttl) - skew:
        raise _unauthorized("siwe_expired", "the message was issued too long ago: sign in again")


def _parse(text: str) -> Any:
    try:
        return siwe.SiweMessage.from_message(text)
    except Exception as exc:  # the ABNF parser and pydantic raise many kinds
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ApiError(
            422, "siwe_invalid_message", f"not an EIP-4361 sign-in message: {reason}"
        ) from None


def _nonce_problem(record: SiweNonce | None) -> ApiError:
    if record is None:
        return _unauthorized("siwe_nonce_unknown", "unknown nonce: request one at /auth/nonce")
    if record.used_at is not None:
        return _unauthorized("siwe_nonce_used", "this nonce was already used: request a new one")
    return _unauthorized("siwe_nonce_expired", "this nonce expired: request a new one")

"""Dependencies every route shares: the database session, settings, the chain, and who is
asking (a resident's access token, or a merchant's or city service's API key)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from eth_utils import is_address, to_checksum_address
from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.core import scopes
from api.core.config import Settings
from api.core.errors import ApiError, forbidden
from api.core.scopes import PrincipalKind
from api.core.security import (
    InvalidTokenError,
    decode_access_token,
    hash_api_key,
    is_api_key,
)
from api.models import ApiKey
from api.schemas import ADDRESS_PATTERN
from api.services import Services
from ledger.exceptions import AddressError
from ledger.types import parse_address


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: ``address`` is the account they act as (None for a city service)."""

    kind: PrincipalKind
    id: str
    address: str | None
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scopes.ADMIN in self.scopes or scope in self.scopes

    def require(self, scope: str) -> None:
        if not self.has(scope):
            raise forbidden(f"this credential lacks the scope {scope!r}")

    def may_read(self, scope: str, *owners: str | None) -> bool:
        """Whether it may read data of ``owners`` (any of them) under ``scope``."""
        if not self.has(scope):
            return False
        if self.kind is PrincipalKind.SERVICE:
            return True
        return self.address is not None and self.address in owners

    def merchant_address(self) -> str:
        """The merchant it acts for; only a merchant key creates things in a merchant's name."""
        if self.kind is not PrincipalKind.MERCHANT or self.address is None:
            raise forbidden("only a merchant's API key may do this")
        return self.address


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(
    auto_error=False,
    description="A merchant's or city service's API key (`clk_…`), or a resident's access "
    "token from `POST /auth/verify`.",
)


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def get_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("send an API key or access token as 'Authorization: Bearer …'")
    credential = credentials.credentials
    if is_api_key(credential):
        key = session.exec(
            select(ApiKey).where(ApiKey.key_hash == hash_api_key(credential))
        ).first()
        if key is None:
            raise _unauthorized("unknown API key")
        if key.revoked_at is not None:
            raise _unauthorized("this API key was revoked")
        kind = PrincipalKind(key.principal_kind)
        identity = (
            f"merchant:{key.principal_address}"
            if kind is PrincipalKind.MERCHANT
            else f"key:{key.id}"
        )
        principal = Principal(kind, identity, key.principal_address, frozenset(key.scopes.split()))
    else:
        try:
            claims = decode_access_token(settings.secret_key, credential)
        except InvalidTokenError as exc:
            raise _unauthorized(str(exc)) from None
        address = str(claims["sub"])
        if claims.get("kind") != PrincipalKind.RESIDENT or not is_address(address):
            raise _unauthorized("invalid access token")
        address = to_checksum_address(address)
        principal = Principal(
            PrincipalKind.RESIDENT, f"resident:{address}", address, scopes.RESIDENT
        )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
AddressPath = Annotated[str, Path(pattern=ADDRESS_PATTERN, description="An account address.")]
AddressQuery = Annotated[str | None, Query(pattern=ADDRESS_PATTERN)]


def checked_address(address: str) -> str:
    """A path or query address, checksummed; 422 if it is not one."""
    try:
        return parse_address(address)
    except AddressError as exc:
        raise ApiError(422, "invalid_address", str(exc)) from None


def party_filters(principal: Principal, merchant: str | None, payer: str | None) -> dict[str, str]:
    """The ``merchant``/``payer`` filters of a list of payments or refunds: merchants see what
    they received, residents what they paid, city services anything."""
    wanted = {
        "merchant": checked_address(merchant) if merchant else None,
        "payer": checked_address(payer) if payer else None,
    }
    if principal.kind is not PrincipalKind.SERVICE:
        own_side = "merchant" if principal.kind is PrincipalKind.MERCHANT else "payer"
        if wanted[own_side] not in (None, principal.address):
            raise forbidden("you may list only your own items")
        wanted[own_side] = principal.address
    return {side: value for side, value in wanted.items() if value is not None}


def list_owner(principal: Principal, merchant: str | None) -> str | None:
    """Whose items a merchant-side list shows: the caller's own, or (city services) one
    merchant's or everyone's."""
    if principal.kind is PrincipalKind.SERVICE:
        return checked_address(merchant) if merchant else None
    if merchant is not None and checked_address(merchant) != principal.address:
        raise forbidden("you may list only your own items")
    return principal.address

"""API keys of merchants and city services: who may hold which scopes, and their storage.

The policy lives here once (as the FastAPI template's ``crud``), so the ``cityledger api-key``
commands, the demo set-up and any future admin route issue keys by the same rules:

* a merchant key acts in its merchant's name; it holds any scopes but ``admin``;
* a city service key reads merchants' data (and may be ``admin``); it never acts in a
  merchant's name, so it holds no write scope.

Only a key's SHA-256 digest is stored; the key itself is returned once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.core import scopes as scope_names
from api.core.scopes import PrincipalKind
from api.core.security import generate_api_key
from api.index import is_active_merchant
from api.models import ApiKey, utcnow
from ledger.exceptions import LedgerError
from ledger.types import parse_address


class ApiKeyError(LedgerError, ValueError):
    """A key request breaks the key policy, or names no key."""


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a new key may do, checked against the policy."""

    kind: PrincipalKind
    """MERCHANT or SERVICE: residents sign in with their key instead (api.routes.auth)."""
    address: str | None
    label: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: uuid.UUID
    key: str
    """Shown to its owner once; only its digest is stored."""
    grant: KeyGrant


def merchant_grant(
    session: Session, address: str, scopes: str | None = None, label: str | None = None
) -> KeyGrant:
    """A merchant's key, for an active merchant of the registry (as indexed): every scope but
    ``admin`` unless fewer are asked for."""
    checked = parse_address(address, "an address for --merchant")
    if not is_active_merchant(session, checked):
        raise ApiKeyError(
            f"{checked} is not an active merchant in the registry (as indexed): register it "
            "as a merchant and let the indexer catch up (`cityledger index`)"
        )
    granted = scope_names.parse_scopes(scopes) if scopes else scope_names.MERCHANT_DEFAULT
    if scope_names.ADMIN in granted:
        raise ApiKeyError("a merchant key cannot hold the admin scope")
    return KeyGrant(PrincipalKind.MERCHANT, checked, label or "merchant", granted)


def service_grant(name: str, scopes: str | None, label: str | None = None) -> KeyGrant:
    """A city service's key: read scopes (and ``admin``) only, named explicitly."""
    if not scopes:
        raise ApiKeyError("a service key needs --scopes (e.g. reports:read)")
    granted = scope_names.parse_scopes(scopes)
    extra = granted - scope_names.SERVICE_READ_ONLY - {scope_names.ADMIN}
    if extra:
        raise ApiKeyError(
            f"a service key reads; it cannot hold {', '.join(sorted(extra))} "
            "(those act in a merchant's name)"
        )
    return KeyGrant(PrincipalKind.SERVICE, None, label or name, granted)


def issue_key(session: Session, grant: KeyGrant) -> IssuedKey:
    """Store a new key's digest and commit; the returned key exists nowhere else."""
    new = generate_api_key()
    row = ApiKey(
        prefix=new.prefix,
        key_hash=new.digest,
        label=grant.label,
        principal_kind=grant.kind,
        principal_address=grant.address,
        scopes=" ".join(sorted(grant.scopes)),
    )
    session.add(row)
    session.commit()
    return IssuedKey(row.id, new.key, grant)


def list_keys(session: Session) -> Sequence[ApiKey]:
    """Every key, oldest first (digests and prefixes only)."""
    return session.exec(select(ApiKey).order_by(col(ApiKey.created_at))).all()


def revoke_key(session: Session, key_id: str) -> ApiKey:
    """Revoke a key at once (revoking a revoked key changes nothing)."""
    try:
        identifier = uuid.UUID(key_id)
    except ValueError:
        raise ApiKeyError(f"{key_id!r} is not a key id") from None
    key = session.get(ApiKey, identifier)
    if key is None:
        raise ApiKeyError(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.commit()
    return key


def is_active_key(engine: Engine, digest: str) -> bool:
    """Whether an unrevoked key has this digest (the rate limiter asks before any route)."""
    with Session(engine) as session:
        found = session.exec(
            select(ApiKey.id).where(ApiKey.key_hash == digest, col(ApiKey.revoked_at).is_(None))
        ).first()
    return found is not None

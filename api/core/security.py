"""API keys (stored only as a SHA-256 digest, shown once) and short-lived HS256 access tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from api.core.scopes import PrincipalKind

KEY_PREFIX = "clk_"
"""Every API key starts so: tells keys from JWTs in one Authorization header, and scanners
(secret scanning, log filters) can recognise a leaked key."""
_KEY_BYTES = 32
ALGORITHM = "HS256"
AUDIENCE = "cityledger-api"
ISSUER = "cityledger"


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str
    """The key itself: shown to its owner once, never stored."""
    prefix: str
    """The first characters, stored to tell keys apart in lists."""
    digest: str


def generate_api_key() -> NewApiKey:
    """A key with 256 random bits: a plain SHA-256 is enough to store it (nothing to guess)."""
    key = KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)
    return NewApiKey(key, key[: len(KEY_PREFIX) + 8], hash_api_key(key))


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def is_api_key(credential: str) -> bool:
    return credential.startswith(KEY_PREFIX)


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_at: datetime


class InvalidTokenError(ValueError):
    """The access token is malformed, forged, expired or for another audience."""


def create_access_token(
    secret: str, address: str, chain_id: int, ttl: int, *, now: datetime | None = None
) -> AccessToken:
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(seconds=ttl)
    claims = {
        "sub": address,
        "kind": PrincipalKind.RESIDENT.value,
        "chain_id": chain_id,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "aud": AUDIENCE,
        "iss": ISSUER,
        "jti": secrets.token_hex(8),
    }
    return AccessToken(jwt.encode(claims, secret, algorithm=ALGORITHM), expires)


def decode_access_token(secret: str, token: str) -> dict[str, object]:
    try:
        claims: dict[str, object] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidTokenError("the access token expired: sign in again") from None
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"invalid access token: {exc}") from None
    return claims

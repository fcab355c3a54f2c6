"""Verify a CityLedger webhook signature (copy this module into a merchant's service freely).

Every delivery carries ``CityLedger-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`` where
each ``v1`` is ``HMAC-SHA256(secret, f"{t}.{body}")`` in lowercase hex. While a rotated secret's
predecessor is still valid, a delivery carries one ``v1`` per secret. Verify against the *raw*
request body (before any JSON parsing), then check the timestamp to refuse replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "CityLedger-Signature"
SCHEME = "v1"


class WebhookSignatureError(ValueError):
    """The signature does not prove the payload came from CityLedger just now."""


class MalformedSignatureHeader(WebhookSignatureError):
    """The header is missing or is not ``t=<unix>,v1=<hex>``."""


class TimestampOutsideTolerance(WebhookSignatureError):
    """The signature is too old (a replay?) or from too far in the future (a clock problem)."""


class NoMatchingSignature(WebhookSignatureError):
    """No ``v1`` value matches the payload under any of the given secrets."""


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{payload}"`` under ``secret``."""
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """The header value signing ``payload`` with every secret in ``secrets`` (newest first)."""
    return ",".join(
        [f"t={timestamp}", *(f"{SCHEME}={sign(payload, s, timestamp)}" for s in secrets)]
    )


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    tolerance: int = 300,
    now: float | None = None,
) -> int:
    """Check ``header`` signs ``payload`` with one of ``secrets`` within ``tolerance`` seconds.

    Returns the signed timestamp; raises a :class:`WebhookSignatureError` saying what is wrong.
    """
    if not secrets:
        raise ValueError("give at least one endpoint secret")
    if not header:
        raise MalformedSignatureHeader(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise MalformedSignatureHeader(f"{part.strip()!r} is not name=value")
        if name == "t":
            if timestamp is not None or not value.isdigit():
                raise MalformedSignatureHeader("the header needs exactly one integer t=")
            timestamp = int(value)
        elif name == SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise MalformedSignatureHeader("the header has no t= timestamp")
    if not signatures:
        raise MalformedSignatureHeader(f"the header has no {SCHEME}= signature")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise TimestampOutsideTolerance(
            f"signed at {timestamp}, {abs(current - timestamp):.0f} s from now "
            f"(tolerance {tolerance} s): a replay, or a clock out of sync"
        )
    for secret in secrets:
        expected = sign(payload, secret, timestamp)
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return timestamp
    raise NoMatchingSignature(
        "no signature matches: wrong secret (rotated?), or the body was changed "
        "(verify the raw bytes, before parsing the JSON)"
    )

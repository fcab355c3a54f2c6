"""Endpoints' signing secrets: made, rotated, read back for signing and forgotten, always sealed
in the database (:mod:`api.core.sealing`).

A rotation gives the endpoint a new current secret and lets the one it replaces sign for
``webhook_secret_overlap`` more seconds. Every rotated secret keeps its own expiry: a second
rotation within the overlap does not cut the first one's short (the merchant who has not yet
deployed either new secret still verifies every delivery), so a delivery may carry several
``v1`` values, newest first. At most :data:`MAX_SIGNING_SECRETS` sign at once.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from api.core.sealing import Sealer
from api.models import WebhookEndpoint, WebhookSecret
from ledger.exceptions import LedgerError

SECRET_PREFIX = "whsec_"
MAX_SIGNING_SECRETS = 5
"""The current secret and up to four rotated ones still in their overlap."""


class TooManyRotations(LedgerError):
    """Another rotation would make more than :data:`MAX_SIGNING_SECRETS` secrets sign."""

    def __init__(self, next_expiry: datetime) -> None:
        super().__init__(
            f"{MAX_SIGNING_SECRETS - 1} rotated secrets still sign during their overlap; "
            f"rotate again after {next_expiry.isoformat()}, when the oldest expires"
        )
        self.next_expiry = next_expiry


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def issue(session: Session, endpoint: WebhookEndpoint, sealer: Sealer) -> str:
    """A first secret for a new endpoint (added to ``session``); returns it in clear."""
    secret = new_secret()
    session.add(WebhookSecret(endpoint_id=endpoint.id, sealed=sealer.seal(secret)))
    return secret


def rotate(
    session: Session, endpoint: WebhookEndpoint, sealer: Sealer, overlap: int, now: datetime
) -> str:
    """Replace the current secret; the replaced one signs until ``now + overlap``."""
    previous = session.exec(
        select(WebhookSecret).where(
            col(WebhookSecret.endpoint_id) == endpoint.id,
            col(WebhookSecret.expires_at) > now,
        )
    ).all()
    if len(previous) >= MAX_SIGNING_SECRETS - 1:
        raise TooManyRotations(min(s.expires_at for s in previous if s.expires_at))
    expires = now + timedelta(seconds=overlap)
    session.execute(
        update(WebhookSecret)
        .where(
            col(WebhookSecret.endpoint_id) == endpoint.id,
            col(WebhookSecret.expires_at).is_(None),
        )
        .values(expires_at=expires)
    )
    endpoint.previous_secret_expires_at = expires
    session.add(endpoint)
    return issue(session, endpoint, sealer)


def signing_secrets(
    session: Session, endpoint_id: uuid.UUID, sealer: Sealer, now: datetime
) -> tuple[str, ...]:
    """The secrets that sign a delivery made ``now``, in clear, newest first."""
    rows = session.exec(
        select(WebhookSecret)
        .where(
            col(WebhookSecret.endpoint_id) == endpoint_id,
            col(WebhookSecret.expires_at).is_(None) | (col(WebhookSecret.expires_at) > now),
        )
        .order_by(col(WebhookSecret.id).desc())
    ).all()
    return tuple(sealer.open(row.sealed) for row in rows)


def forget(session: Session, endpoint_id: uuid.UUID) -> None:
    """Delete every secret of a deleted endpoint."""
    session.execute(delete(WebhookSecret).where(col(WebhookSecret.endpoint_id) == endpoint_id))


def forget_expired(session: Session, now: datetime) -> int:
    """Delete rotated secrets past their overlap; returns how many."""
    result = session.execute(delete(WebhookSecret).where(col(WebhookSecret.expires_at) <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]

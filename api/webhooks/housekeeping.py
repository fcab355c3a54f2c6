"""What the worker tidies every minute: expired idempotency records and sign-in nonces,
rotated secrets past their overlap (no copy of a secret outlives its use), and tokens sealed
under an older encryption key (re-sealed under the first, so the old key can be removed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import TypeVar

import structlog
from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from api.core.config import Settings
from api.core.sealing import Sealer, SealingError
from api.models import IdempotencyRecord, SiweNonce, WebhookSecret, utcnow
from api.webhooks.secret_store import forget_expired

log = structlog.get_logger("api.webhooks")

RowId = TypeVar("RowId")


def tidy(engine: Engine, settings: Settings) -> None:
    """Forget spent idempotency records, nonces and rotated secrets."""
    now = utcnow()
    with Session(engine) as session:
        session.execute(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.created_at)
                < now - timedelta(seconds=settings.idempotency_ttl + 3600)
            )
        )
        session.execute(
            delete(SiweNonce).where(col(SiweNonce.expires_at) < now - timedelta(days=1))
        )
        forget_expired(session, now)
        session.commit()


def reseal(engine: Engine, sealer: Sealer) -> int:
    """Re-seal under the first key whatever an older key sealed; returns how many."""
    changed = 0
    with Session(engine) as session:
        secrets = session.exec(select(WebhookSecret.id, WebhookSecret.sealed)).all()
        for secret_id, fresh in _resealed(sealer, secrets, WebhookSecret.__tablename__):
            session.execute(
                update(WebhookSecret).where(col(WebhookSecret.id) == secret_id).values(sealed=fresh)
            )
            changed += 1
        records = session.exec(
            select(IdempotencyRecord.id, IdempotencyRecord.response_body).where(
                col(IdempotencyRecord.response_sealed)
            )
        ).all()
        for record_id, fresh in _resealed(sealer, records, IdempotencyRecord.__tablename__):
            session.execute(
                update(IdempotencyRecord)
                .where(col(IdempotencyRecord.id) == record_id)
                .values(response_body=fresh)
            )
            changed += 1
        session.commit()
    return changed


def _resealed(
    sealer: Sealer, rows: Iterable[tuple[RowId, str | None]], table: str
) -> Iterator[tuple[RowId, str]]:
    """(id, token sealed under the first key) for each row an older key sealed. A token no
    configured key opens is left as it is, and logged: its key was removed too early."""
    for row_id, token in rows:
        if token is None or sealer.is_current(token):
            continue
        try:
            yield row_id, sealer.reseal(token)
        except SealingError:
            log.warning("sealed_row_unreadable", table=table, id=str(row_id))

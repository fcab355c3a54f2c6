"""Delivering the outbox: claim due rows with a lease, POST them signed, log every attempt,
and schedule retries with exponential backoff. Several replicas may deliver at once: a row is
claimed by one of them at a time, and an attempt cut short by a crash is made again after its
lease."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import httpx
import structlog
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from api.core.config import Settings
from api.models import WebhookDelivery, WebhookEndpoint, WebhookOutbox, utcnow
from api.webhooks.verify import SIGNATURE_HEADER, signature_header

log = structlog.get_logger("api.webhooks")


@dataclass(frozen=True, slots=True)
class _Due:
    outbox_id: int
    endpoint_id: uuid.UUID
    event_id: str
    url: str
    payload: bytes
    secrets: tuple[str, ...]
    attempts: int


@dataclass(frozen=True, slots=True)
class _Attempt:
    due: _Due
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Deliverer:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """Attempt every due delivery once; returns how many were attempted."""
        due = await anyio.to_thread.run_sync(self._claim_due)
        if not due:
            return 0
        attempts = await asyncio.gather(*(self._attempt(client, d) for d in due))
        await anyio.to_thread.run_sync(self._record, attempts)
        return len(attempts)

    def _claim_due(self) -> list[_Due]:
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.webhook_timeout + 30)
        with Session(self.engine) as session:
            rows = session.exec(
                select(WebhookOutbox, WebhookEndpoint)
                .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookOutbox.endpoint_id))
                .where(
                    col(WebhookOutbox.delivered_at).is_(None),
                    col(WebhookOutbox.failed_at).is_(None),
                    col(WebhookOutbox.next_attempt_at) <= now,
                    col(WebhookEndpoint.active),
                    col(WebhookEndpoint.deleted_at).is_(None),
                )
                .order_by(col(WebhookOutbox.next_attempt_at), col(WebhookOutbox.id))
                .limit(self.settings.webhook_batch)
            ).all()
            candidates = {
                outbox.id: _due(outbox, endpoint, now) for outbox, endpoint in rows if outbox.id
            }
            if not candidates:
                return []
            # One conditional UPDATE claims them all; a row another replica leased meanwhile
            # fails the condition and is not returned.
            taken = session.execute(
                update(WebhookOutbox)
                .where(
                    col(WebhookOutbox.id).in_(list(candidates)),
                    col(WebhookOutbox.delivered_at).is_(None),
                    col(WebhookOutbox.next_attempt_at) <= now,
                )
                .values(next_attempt_at=lease)
                .returning(col(WebhookOutbox.id))
            ).scalars()
            claimed = set(taken)
            session.commit()
        return [due for outbox_id, due in candidates.items() if outbox_id in claimed]

    async def _attempt(self, client: httpx.AsyncClient, due: _Due) -> _Attempt:
        started = time.monotonic()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(due.payload, due.secrets, int(time.time())),
            "CityLedger-Event-Id": due.event_id,
        }
        try:
            response = await client.post(due.url, content=due.payload, headers=headers)
        except httpx.HTTPError as exc:
            return _Attempt(due, None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        code = response.status_code
        return _Attempt(due, code, None if 200 <= code < 300 else f"HTTP {code}", _ms(started))

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: doubling from the base, capped, jittered."""
        delay: float = min(
            self.settings.webhook_backoff_max,
            self.settings.webhook_backoff_base * 2.0 ** (attempts - 1),
        )
        return delay * (1 + self.settings.webhook_backoff_jitter * random.random())

    def _record(self, attempts: list[_Attempt]) -> None:
        now = utcnow()
        with Session(self.engine) as session:
            for attempt in attempts:
                number = attempt.due.attempts + 1
                session.add(
                    WebhookDelivery(
                        outbox_id=attempt.due.outbox_id,
                        endpoint_id=attempt.due.endpoint_id,
                        event_id=attempt.due.event_id,
                        attempt=number,
                        attempted_at=now,
                        status_code=attempt.status_code,
                        error=attempt.error,
                        duration_ms=attempt.duration_ms,
                    )
                )
                values: dict[str, Any] = {"attempts": number, "last_error": attempt.error}
                if attempt.ok:
                    values["delivered_at"] = now
                elif number >= self.settings.webhook_max_attempts:
                    values["failed_at"] = now
                else:
                    values["next_attempt_at"] = now + timedelta(seconds=self.backoff(number))
                session.execute(
                    update(WebhookOutbox)
                    .where(col(WebhookOutbox.id) == attempt.due.outbox_id)
                    .values(**values)
                )
                if not attempt.ok:
                    log.info(
                        "webhook_delivery_failed",
                        event_id=attempt.due.event_id,
                        attempt=number,
                        error=attempt.error,
                    )
            session.commit()


def _due(outbox: WebhookOutbox, endpoint: WebhookEndpoint, now: datetime) -> _Due:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        secrets.append(endpoint.previous_secret)  # rotation: both signatures for a while
    return _Due(
        outbox_id=outbox.id or 0,
        endpoint_id=endpoint.id,
        event_id=outbox.event_id,
        url=endpoint.url,
        payload=outbox.payload.encode(),
        secrets=tuple(secrets),
        attempts=outbox.attempts,
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

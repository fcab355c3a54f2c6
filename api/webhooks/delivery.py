"""Delivering one endpoint's outbox rows: claim the due ones with a lease, POST them signed,
and write each attempt's outcome as soon as it is known.

Several replicas may deliver at once: a row is claimed by one of them at a time, and an attempt
cut short by a crash is made again after its lease. An outcome is committed by itself right
after its response (never batched with other endpoints' or other rows'), so a crash can repeat
at most the attempts in flight, and the delivery log keeps every attempt that finished.

What the merchant sees of a failure (``error`` in the delivery log) is coarse on purpose: a
status code, "timed out", "could not connect" or "destination not allowed". Connection errors'
details stay in the API's own log: shown to whoever registers a URL, they would map the
network around the API.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from api.core.config import Settings
from api.core.sealing import Sealer
from api.models import WebhookDelivery, WebhookEndpoint, WebhookOutbox, utcnow
from api.webhooks.destinations import DestinationError, DestinationNotAllowed, InvalidWebhookUrl
from api.webhooks.secret_store import signing_secrets
from api.webhooks.verify import SIGNATURE_HEADER, signature_header

log = structlog.get_logger("api.webhooks")

TIMED_OUT = "timed out"
COULD_NOT_CONNECT = "could not connect"
NOT_ALLOWED = "destination not allowed: the host is not a public address"
INVALID_URL = "the URL cannot be used"
FAILED = "the request failed"


@dataclass(frozen=True, slots=True)
class Target:
    """An endpoint as one batch of attempts needs it."""

    endpoint_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Due:
    outbox_id: int
    event_id: str
    payload: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Attempt:
    target: Target
    due: Due
    status_code: int | None
    error: str | None
    """Coarse, for the merchant (see the module's docstring)."""
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def coarse_error(exc: Exception) -> str:
    """What a merchant is told about a failed request."""
    if isinstance(exc, DestinationNotAllowed):
        return NOT_ALLOWED
    if isinstance(exc, httpx.InvalidURL | InvalidWebhookUrl):
        return INVALID_URL
    if isinstance(exc, httpx.TimeoutException):
        return TIMED_OUT
    if isinstance(exc, httpx.ConnectError):
        return COULD_NOT_CONNECT
    return FAILED


class Deliverer:
    def __init__(self, engine: Engine, settings: Settings, sealer: Sealer) -> None:
        self.engine = engine
        self.settings = settings
        self.sealer = sealer

    def due_endpoints(self, limit: int, exclude: frozenset[uuid.UUID]) -> list[uuid.UUID]:
        """Live endpoints with due rows, the longest waiting first."""
        now = utcnow()
        query = (
            select(WebhookOutbox.endpoint_id)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookOutbox.endpoint_id))
            .where(
                col(WebhookOutbox.delivered_at).is_(None),
                col(WebhookOutbox.failed_at).is_(None),
                col(WebhookOutbox.next_attempt_at) <= now,
                col(WebhookEndpoint.active),
                col(WebhookEndpoint.deleted_at).is_(None),
            )
            .group_by(col(WebhookOutbox.endpoint_id))
            .order_by(func.min(WebhookOutbox.next_attempt_at))
            .limit(limit)
        )
        if exclude:
            query = query.where(col(WebhookOutbox.endpoint_id).not_in(list(exclude)))
        with Session(self.engine) as session:
            return list(session.exec(query).all())

    def claim(self, endpoint_id: uuid.UUID) -> tuple[Target, list[Due]] | None:
        """Lease up to ``webhook_batch`` due rows of a live endpoint; None when there are none
        (or another replica took them)."""
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.webhook_timeout + 30)
        with Session(self.engine) as session:
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or not endpoint.active or endpoint.deleted_at is not None:
                return None
            rows = session.exec(
                select(WebhookOutbox)
                .where(
                    col(WebhookOutbox.endpoint_id) == endpoint_id,
                    col(WebhookOutbox.delivered_at).is_(None),
                    col(WebhookOutbox.failed_at).is_(None),
                    col(WebhookOutbox.next_attempt_at) <= now,
                )
                .order_by(col(WebhookOutbox.next_attempt_at), col(WebhookOutbox.id))
                .limit(self.settings.webhook_batch)
            ).all()
            candidates = {
                row.id: Due(row.id, row.event_id, row.payload.encode(), row.attempts)
                for row in rows
                if row.id is not None
            }
            if not candidates:
                return None
            target = Target(
                endpoint_id, endpoint.url, signing_secrets(session, endpoint_id, self.sealer, now)
            )
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
        due = [d for outbox_id, d in candidates.items() if outbox_id in claimed]
        return (target, due) if due else None

    async def attempt(self, client: httpx.AsyncClient, target: Target, due: Due) -> Attempt:
        """POST one signed delivery; never raises for the endpoint's failures."""
        started = time.monotonic()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(due.payload, target.secrets, int(time.time())),
            "CityLedger-Event-Id": due.event_id,
        }
        try:
            response = await client.post(target.url, content=due.payload, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL, DestinationError) as exc:
            log.info(
                "webhook_request_failed",
                endpoint_id=str(target.endpoint_id),
                event_id=due.event_id,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            return Attempt(target, due, None, coarse_error(exc), _ms(started))
        except Exception:
            # Still an attempt: recorded and retried, never a row leased again and again.
            log.exception("webhook_request_crashed", endpoint_id=str(target.endpoint_id))
            return Attempt(target, due, None, FAILED, _ms(started))
        code = response.status_code
        error = None if 200 <= code < 300 else f"HTTP {code}"
        return Attempt(target, due, code, error, _ms(started))

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: doubling from the base, capped, jittered."""
        delay: float = min(
            self.settings.webhook_backoff_max,
            self.settings.webhook_backoff_base * 2.0 ** (attempts - 1),
        )
        return delay * (1 + self.settings.webhook_backoff_jitter * random.random())

    def record(self, attempt: Attempt) -> None:
        """Log the attempt and settle or reschedule its row, in one commit of its own."""
        now = utcnow()
        number = attempt.due.attempts + 1
        with Session(self.engine) as session:
            session.add(
                WebhookDelivery(
                    outbox_id=attempt.due.outbox_id,
                    endpoint_id=attempt.target.endpoint_id,
                    event_id=attempt.due.event_id,
                    attempt=number,
                    attempted_at=now,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    duration_ms=attempt.duration_ms,
                )
            )
            session.execute(
                update(WebhookOutbox)
                .where(col(WebhookOutbox.id) == attempt.due.outbox_id)
                .values(**self._outcome(attempt, number, now))
            )
            session.commit()
        if not attempt.ok:
            log.info(
                "webhook_delivery_failed",
                event_id=attempt.due.event_id,
                attempt=number,
                error=attempt.error,
            )

    def _outcome(self, attempt: Attempt, number: int, now: datetime) -> dict[str, Any]:
        values: dict[str, Any] = {"attempts": number, "last_error": attempt.error}
        if attempt.ok:
            values["delivered_at"] = now
        elif number >= self.settings.webhook_max_attempts:
            values["failed_at"] = now
        else:
            values["next_attempt_at"] = now + timedelta(seconds=self.backoff(number))
        return values


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

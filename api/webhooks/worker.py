"""The webhook worker: index → durable outbox → signed HTTP deliveries with backoff.

One loop per API process (started in the app's lifespan, off with ``webhooks_enabled``):
every ``webhook_poll_interval`` seconds it scans the index into the outbox
(:mod:`api.webhooks.scanner`), delivers what is due (:mod:`api.webhooks.delivery`) and, every
minute, forgets spent sign-in nonces and expired idempotency records. The outbox is in the
database, so a restarted API carries on where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import anyio
import httpx
import structlog
from sqlalchemy import Engine, delete
from sqlmodel import Session, col

from api.core.config import Settings
from api.models import IdempotencyRecord, SiweNonce, utcnow
from api.services import Services
from api.webhooks.delivery import Deliverer
from api.webhooks.scanner import Scanner

log = structlog.get_logger("api.webhooks")

USER_AGENT = "CityLedger-Webhooks/1"


class WebhookWorker:
    def __init__(self, engine: Engine, settings: Settings, services: Services) -> None:
        self.engine = engine
        self.settings = settings
        self.scanner = Scanner(engine, settings, services)
        self.deliverer = Deliverer(engine, settings)
        self._last_housekeeping = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(
            timeout=self.settings.webhook_timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        ) as client:
            while not stop.is_set():
                try:
                    await self.tick(client)
                except Exception:
                    log.exception("webhook_worker_tick_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.webhook_poll_interval)

    async def tick(self, client: httpx.AsyncClient) -> None:
        await anyio.to_thread.run_sync(self.scanner.scan_once)
        await self.deliverer.deliver_due(client)
        if time.monotonic() - self._last_housekeeping > 60:
            await anyio.to_thread.run_sync(self.housekeeping)
            self._last_housekeeping = time.monotonic()

    def housekeeping(self) -> None:
        """Forget idempotency records past their lifetime and spent sign-in nonces."""
        now = utcnow()
        with Session(self.engine) as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    col(IdempotencyRecord.created_at)
                    < now - timedelta(seconds=self.settings.idempotency_ttl + 3600)
                )
            )
            session.execute(
                delete(SiweNonce).where(col(SiweNonce.expires_at) < now - timedelta(days=1))
            )
            session.commit()

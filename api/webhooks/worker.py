"""The webhook worker: index → durable outbox → signed HTTP deliveries with backoff.

One loop per API process (started in the app's lifespan, off with ``webhooks_enabled``):
every ``webhook_poll_interval`` seconds it scans the index into the outbox
(:mod:`api.webhooks.scanner`) and starts delivery lanes for endpoints with due rows
(:mod:`api.webhooks.lanes`; they run on between ticks), and every minute it tidies
(:mod:`api.webhooks.housekeeping`). The outbox is in the database, so a restarted API
carries on where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import anyio
import httpx
import structlog
from sqlalchemy import Engine

from api.core.config import Settings
from api.core.sealing import sealer_for
from api.services import Services
from api.webhooks.delivery import Deliverer
from api.webhooks.housekeeping import reseal, tidy
from api.webhooks.lanes import Lanes
from api.webhooks.scanner import Scanner
from api.webhooks.transport import GuardedTransport

log = structlog.get_logger("api.webhooks")

USER_AGENT = "CityLedger-Webhooks/1"
HOUSEKEEPING_INTERVAL = 60.0


def webhook_client(settings: Settings) -> httpx.AsyncClient:
    """The client of deliveries: public destinations only (unless allowed), checked at every
    connection; no redirects, no proxy from the environment."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=settings.webhook_allow_private_hosts),
        timeout=settings.webhook_timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


class WebhookWorker:
    def __init__(self, engine: Engine, settings: Settings, services: Services) -> None:
        self.engine = engine
        self.settings = settings
        self.sealer = sealer_for(settings)
        self.scanner = Scanner(engine, settings, services)
        self.deliverer = Deliverer(engine, settings, self.sealer)
        self.lanes = Lanes(self.deliverer, settings.webhook_concurrency)
        self._last_housekeeping = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        async with webhook_client(self.settings) as client:
            try:
                while not stop.is_set():
                    try:
                        await self.tick(client, stop)
                    except Exception:
                        log.exception("webhook_worker_tick_failed")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.webhook_poll_interval)
            finally:
                await self.lanes.drain()

    async def tick(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        await anyio.to_thread.run_sync(self.scanner.scan_once)
        await self.lanes.dispatch(client, stop)
        if time.monotonic() - self._last_housekeeping > HOUSEKEEPING_INTERVAL:
            self._last_housekeeping = time.monotonic()
            await anyio.to_thread.run_sync(self.housekeeping)

    def housekeeping(self) -> None:
        tidy(self.engine, self.settings)
        resealed = reseal(self.engine, self.sealer)
        if resealed:
            log.info("secrets_resealed", count=resealed)

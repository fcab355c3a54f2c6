"""One delivery lane per endpoint, at most ``webhook_concurrency`` at once, so that one slow
or hanging merchant never delays another's webhooks.

A lane claims a batch of its endpoint's due rows, sends them concurrently and records each
outcome as it arrives; then it claims the next batch, until its endpoint has nothing due, or a
batch had a failure (the failed rows wait for their backoff; a failing endpoint does not keep
its slot), or the worker stops. The worker starts lanes every poll interval for the endpoints
with due rows that have none running, the longest waiting first. Database work goes through
a few threads of the lanes' own, never the ones that serve requests.
"""

from __future__ import annotations

import asyncio
import uuid

import anyio
import httpx
import structlog

from api.webhooks.delivery import Attempt, Deliverer, Due, Target

log = structlog.get_logger("api.webhooks")

DB_THREADS = 4
SHUTDOWN_GRACE = 5.0
"""Seconds a stopping worker lets attempts in flight finish; the rest are cut short and made
again after their lease (deliveries are at least once)."""


class Lanes:
    def __init__(self, deliverer: Deliverer, concurrency: int) -> None:
        self.deliverer = deliverer
        self.concurrency = concurrency
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._db = anyio.CapacityLimiter(DB_THREADS)

    @property
    def running(self) -> frozenset[uuid.UUID]:
        return frozenset(e for e, task in self._running.items() if not task.done())

    async def dispatch(self, client: httpx.AsyncClient, stopping: asyncio.Event) -> int:
        """Start lanes for endpoints with due rows and none running; returns how many."""
        self._running = {e: t for e, t in self._running.items() if not t.done()}
        free = self.concurrency - len(self._running)
        if free <= 0 or stopping.is_set():
            return 0
        endpoints = await anyio.to_thread.run_sync(
            self.deliverer.due_endpoints, free, frozenset(self._running), limiter=self._db
        )
        for endpoint_id in endpoints:
            self._running[endpoint_id] = asyncio.create_task(
                self._lane(client, endpoint_id, stopping), name=f"webhook-lane-{endpoint_id}"
            )
        return len(endpoints)

    async def drain(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Let every lane finish its attempts in flight for up to ``grace`` seconds, then
        cancel what is left (a hanging merchant must not hold up a shutdown)."""
        lanes = list(self._running.values())
        self._running.clear()
        if not lanes:
            return
        _, pending = await asyncio.wait(lanes, timeout=grace)
        for lane in pending:
            lane.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _lane(
        self, client: httpx.AsyncClient, endpoint_id: uuid.UUID, stopping: asyncio.Event
    ) -> None:
        try:
            while not stopping.is_set():
                claimed = await anyio.to_thread.run_sync(
                    self.deliverer.claim, endpoint_id, limiter=self._db
                )
                if claimed is None:
                    return
                target, batch = claimed
                outcomes = await asyncio.gather(*(self._deliver(client, target, d) for d in batch))
                if not all(outcomes):
                    return
        except Exception:
            log.exception("webhook_lane_failed", endpoint_id=str(endpoint_id))

    async def _deliver(self, client: httpx.AsyncClient, target: Target, due: Due) -> bool:
        attempt: Attempt = await self.deliverer.attempt(client, target, due)
        await anyio.to_thread.run_sync(self.deliverer.record, attempt, limiter=self._db)
        return attempt.ok

"""The FastAPI application: ``create_app(settings)`` builds it (``cityledger serve`` runs it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from api.core.config import Settings
from api.core.errors import COMMON_ERRORS, install_handlers
from api.core.language import RequestLanguage
from api.core.limits import BodySizeLimit, RateLimit, TokenBuckets, VerifiedKeys
from api.db import make_engine
from api.keys import is_active_key
from api.routes import (
    accounts,
    auth,
    chain,
    elections,
    health,
    invoices,
    payments,
    refunds,
    relay,
    reports,
    settlements,
    webhooks,
)
from api.services import Services
from api.webhooks.worker import WebhookWorker

DESCRIPTION = """\
The city's payment API over the CityLedger chain and its index. Non-custodial: residents and
merchants sign their own transactions; the API relays them and holds only its service key.

Authenticate with `Authorization: Bearer …`: a merchant's or city service's API key
(`clk_…`), or a resident's access token from `POST /auth/verify` (Sign-In with Ethereum).
Every POST accepts an `Idempotency-Key`. Errors are `{"code", "detail"}`.
"""


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _integer_bounds(node: Any) -> None:
    """FastAPI's OpenAPI models hold bounds as floats, so `amount <= 10**15` was published as
    1e15 and `< 2**256` as 1.157920892373162e+77 on integer fields; put integers back."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for bound in _BOUNDS:
                value = node.get(bound)
                if isinstance(value, float) and value.is_integer():
                    node[bound] = int(value)
        for child in node.values():
            _integer_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _integer_bounds(child)


def _with_integer_bounds(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _integer_bounds(build())
        return build()

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    services = Services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = None
        if settings.webhooks_enabled:
            worker = WebhookWorker(engine, settings, services)
            task = asyncio.create_task(worker.run(stop), name="webhook-worker")
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task

    # The same app as FastAPI(...), with /docs and /redoc served from files in the package
    # (FastAPI's own pages load Swagger UI and ReDoc from a CDN).
    app = FastAPIOffline(
        title="CityLedger API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.services = services
    install_handlers(app)
    app.include_router(health.router)
    for module in (
        chain,
        auth,
        accounts,
        invoices,
        payments,
        refunds,
        settlements,
        reports,
        relay,
        elections,
        webhooks,
    ):
        app.include_router(module.router, prefix=settings.api_prefix, responses=COMMON_ERRORS)
    app.state.verified_keys = VerifiedKeys(partial(is_active_key, engine))
    app.state.nonce_buckets = TokenBuckets(
        settings.siwe_nonces_per_minute / 60, settings.siwe_nonce_burst
    )
    app.add_middleware(
        RateLimit,
        buckets=TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst),
        secret=settings.secret_key,
        verified=app.state.verified_keys,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLanguage)  # outermost: the limits' refusals are translated too
    _with_integer_bounds(app)
    return app

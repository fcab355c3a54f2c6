"""The API on PostgreSQL (production's database): both migration trees side by side, the
idempotency claim under 50 concurrent requests, the outbox's conflict-free inserts, and the
ownership-sensitive reads — the same tests as on SQLite, against the session's throwaway
server (cityledger/testing/postgres.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import inspect

from api.migrations import VERSION_TABLE
from cityledger.testing.api import World, build_world, service_key_env
from cityledger.testing.city import TestCity
from cityledger.testing.postgres import PostgresServer
from ledger.indexer.db import VERSION_TABLE as INDEX_VERSION_TABLE
from tests.api.test_flow import test_invoice_paid_refunded_redeemed_reported
from tests.api.test_idempotency import (
    test_fifty_concurrent_cancels_send_one_transaction,
    test_fifty_concurrent_creates_make_one_invoice,
    test_replay_and_conflict,
)
from tests.api.test_webhooks import receiver, test_every_event_type_signed_and_once

__all__ = [
    "receiver",
    "test_every_event_type_signed_and_once",
    "test_fifty_concurrent_cancels_send_one_transaction",
    "test_fifty_concurrent_creates_make_one_invoice",
    "test_invoice_paid_refunded_redeemed_reported",
    "test_replay_and_conflict",
]


@pytest.fixture(scope="module")
def world(test_city: TestCity, postgres_server: PostgresServer) -> Iterator[World]:
    world = build_world(test_city, postgres_server.new_database("api"))
    with service_key_env(test_city.payment_operator):
        yield world
    world.engine.dispose()


def test_both_migration_trees_share_the_database(world: World) -> None:
    assert world.engine.dialect.name == "postgresql"
    tables = set(inspect(world.engine).get_table_names())
    assert {VERSION_TABLE, INDEX_VERSION_TABLE} <= tables
    assert {"api_key", "idempotency_record", "webhook_outbox", "invoice", "payment"} <= tables

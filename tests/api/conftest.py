"""Fixtures of the API suites: one deployed city per module (two merchants, two residents),
its index on a SQLite file, the API served by uvicorn, and the service signer in the env."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import make_accounts
from cityledger.testing.api import ApiServer, World, build_world, service_key_env
from cityledger.testing.city import TestCity

API_SUITE_ACCOUNTS = 16
"""5 staff, 9 people (2 merchants, 2 residents, spares), merchant admin, payment operator."""


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    return make_accounts(API_SUITE_ACCOUNTS)


@pytest.fixture(scope="module")
def world(test_city: TestCity, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("api-db") / "index.sqlite3"
    world = build_world(test_city, f"sqlite:///{db}")
    with service_key_env(test_city.payment_operator):
        yield world
    world.engine.dispose()


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[ApiServer]:
    """The API with the suite's default settings (no webhook worker)."""
    server = ApiServer(world.settings()).start()
    yield server
    server.stop()


@pytest.fixture
def serve(world: World) -> Iterator[Callable[..., ApiServer]]:
    """Start the API with other settings; stopped at teardown."""
    started: list[ApiServer] = []

    def start(**overrides: Any) -> ApiServer:
        server = ApiServer(world.settings(**overrides)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()

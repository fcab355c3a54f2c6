"""Shared fixtures: real node processes, anvil, accounts and web3 clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import settings
from web3 import Web3

from cityledger.testing.accounts import CHAIN_ID, FUNDS, make_accounts, write_genesis
from cityledger.testing.city import TestCity, deploy_test_city
from cityledger.testing.postgres import (
    PostgresServer,
    PostgresUnavailable,
    start_postgres,
    stop_postgres,
)
from cityledger.testing.processes import ANVIL, AnvilProcess, NodeProcess, free_port, rpc

# No timed assertions in tests (speed is measured by scripts/bench): hypothesis's per-example
# deadline would be one, and a flaky one on a shared 2-core machine running two test workers.
settings.register_profile("cityledger", deadline=None)
settings.load_profile("cityledger")

ACCOUNT_COUNT = 12
"""Staff of the test city (5 first, 2 last) around 5 people (see cityledger/testing/city.py)."""


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    return make_accounts(ACCOUNT_COUNT)


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    """Start embedded nodes in ``tmp_path``; all are stopped at teardown."""
    started: list[NodeProcess] = []

    def start(
        genesis_path: Path, *args: str, data_dir: Path | None = None, **env: str
    ) -> NodeProcess:
        node = NodeProcess(
            genesis_path=genesis_path,
            data_dir=data_dir or tmp_path / f"node{len(started)}",
            port=free_port(),
            extra_args=args,
            env=env,
        )
        started.append(node)
        return node.start()

    yield start
    for node in started:
        node.stop()


@pytest.fixture(scope="module")
def embedded_node(
    tmp_path_factory: pytest.TempPathFactory, accounts: list[LocalAccount]
) -> Iterator[NodeProcess]:
    """One running node per test module, all test accounts funded and allowlisted."""
    root = tmp_path_factory.mktemp("embedded")
    write_genesis(root / "genesis.json", accounts)
    node = NodeProcess(root / "genesis.json", root / "node", free_port(), ("--block-period", "0"))
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def anvil(accounts: list[LocalAccount]) -> Iterator[AnvilProcess]:
    if not ANVIL.exists():
        pytest.fail(f"{ANVIL} is missing: run `make test` (it runs npm ci in contracts/)")
    process = AnvilProcess(free_port(), CHAIN_ID).start()
    for account in accounts:
        rpc(process.url, "anvil_setBalance", account.address, hex(FUNDS))
    yield process
    process.stop()


@pytest.fixture(scope="module", params=["embedded", "anvil"])
def any_chain(request: pytest.FixtureRequest) -> Web3:
    """The same web3.py client on the embedded node and on anvil."""
    target = request.getfixturevalue("embedded_node" if request.param == "embedded" else "anvil")
    w3 = Web3(Web3.HTTPProvider(target.url, request_kwargs={"timeout": 30}))
    assert w3.eth.chain_id == CHAIN_ID
    return w3


@pytest.fixture(scope="module")
def test_city(
    embedded_node: NodeProcess,
    accounts: list[LocalAccount],
    tmp_path_factory: pytest.TempPathFactory,
) -> TestCity:
    """The city's contracts deployed on this module's embedded node (cityledger.testing.city)."""
    manifest = tmp_path_factory.mktemp("deployments") / "test.json"
    return deploy_test_city(embedded_node.url, accounts, manifest)


@pytest.fixture(scope="module")
def anvil_city(
    anvil: AnvilProcess, accounts: list[LocalAccount], tmp_path_factory: pytest.TempPathFactory
) -> TestCity:
    """The same deployment on anvil, for suites that must hold on a second client."""
    manifest = tmp_path_factory.mktemp("deployments") / "anvil.json"
    return deploy_test_city(anvil.url, accounts, manifest)


@pytest.fixture
def w3(embedded_node: NodeProcess) -> Web3:
    return Web3(Web3.HTTPProvider(embedded_node.url, request_kwargs={"timeout": 30}))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the session (each test makes a database of its own with
    ``new_database``); the test skips, saying why, if this machine cannot run one."""
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    stop_postgres(server)

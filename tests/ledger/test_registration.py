"""The registry and the nodes' allowlists change together through the library
(:mod:`ledger.registration`), not only through the admin CLI: a registered resident can send,
a frozen one's key is refused by the node, an unfrozen one can send again, and a recovery moves
the node's permission from the lost key to the new one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.city import TestCity, deploy_test_city
from cityledger.testing.processes import NodeProcess, free_port
from ledger.allowlists import NodeAllowlists
from ledger.exceptions import PermissioningError, TransactionRefusedError
from ledger.registration import Registrar
from ledger.types import AccountKind, AccountStatus

TOKEN = "registration-test-admin-token"
PEPPER = b"registration-test-pepper"


@pytest.fixture(scope="module")
def permissioned(
    tmp_path_factory: pytest.TempPathFactory, accounts: list[LocalAccount]
) -> Iterator[tuple[NodeProcess, TestCity]]:
    """A node whose allowlist holds only the city's staff (the people are not on it), with
    its admin API enabled, and the city deployed on it."""
    root = tmp_path_factory.mktemp("registration")
    staff = [*accounts[:5], *accounts[-2:]]
    write_genesis(root / "genesis.json", accounts, allowlisted=staff)
    node = NodeProcess(
        root / "genesis.json",
        root / "node",
        free_port(),
        ("--block-period", "0"),
        env={"CITYLEDGER_NODE_ADMIN_TOKEN": TOKEN},
    ).start()
    try:
        yield node, deploy_test_city(node.url, accounts, root / "deployments" / "reg.json")
    finally:
        node.stop()


def _perm(node: NodeProcess, method: str, *params: object) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    answer = httpx.post(
        node.url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).json()
    return answer["result"]


def _allowlist(node: NodeProcess) -> set[str]:
    return set(_perm(node, "perm_getAccountsAllowlist"))


def _can_send(city: TestCity, account: LocalAccount) -> bool:
    """Whether the node admits a transaction from ``account`` (a zero-value self-transfer)."""
    chain = city.city.chain
    try:
        chain.wait(chain.send(account, to=account.address))
    except TransactionRefusedError:
        return False
    return True


def test_register_freeze_unfreeze_recover_keep_the_allowlist_in_step(
    permissioned: tuple[NodeProcess, TestCity],
) -> None:
    node, city = permissioned
    registrar = Registrar(
        city.city, city.registrar, NodeAllowlists([node.url], TOKEN), pepper=PEPPER
    )
    resident, new_key = city.people[0], make_accounts(1, "registration-new-key")[0]
    assert resident.address not in _allowlist(node)
    assert not _can_send(city, resident)

    change = registrar.register(resident.address, AccountKind.RESIDENT, 5101, "card-1")
    assert change.allowed == (resident.address,)
    assert change.allowlists == (node.url,)
    assert resident.address in _allowlist(node)
    assert _can_send(city, resident)

    registrar.freeze(resident.address)
    status = city.city.registry.registration_of(resident.address).status
    assert status is AccountStatus.FROZEN
    assert resident.address not in _allowlist(node)
    assert not _can_send(city, resident)  # the frozen key is refused before any contract

    registrar.unfreeze(resident.address)
    assert resident.address in _allowlist(node)
    assert _can_send(city, resident)

    change = registrar.recover(resident.address, new_key.address)
    assert (change.allowed, change.disallowed) == ((new_key.address,), (resident.address,))
    assert new_key.address in _allowlist(node)
    assert resident.address not in _allowlist(node)
    registry = city.city.registry
    assert registry.registration_of(resident.address).status is AccountStatus.RETIRED
    assert registry.registration_of(new_key.address).status is AccountStatus.ACTIVE

    # sync repairs an allowlist edited by hand: the retired key goes again, the new one is back
    _perm(node, "perm_addAccountsToAllowlist", [resident.address])
    assert registrar.sync(resident.address) is False
    assert resident.address not in _allowlist(node)


def test_without_allowlists_only_the_registry_changes(
    permissioned: tuple[NodeProcess, TestCity],
) -> None:
    node, city = permissioned
    resident = city.people[1]
    change = Registrar(city.city, city.registrar, pepper=PEPPER).register(
        resident.address, AccountKind.RESIDENT, 5102, "card-2"
    )
    assert change.allowlists is None
    assert city.city.registry.registration_of(resident.address).status is AccountStatus.ACTIVE
    assert resident.address not in _allowlist(node)


def test_an_allowlist_failure_names_what_is_already_done(
    permissioned: tuple[NodeProcess, TestCity],
) -> None:
    node, city = permissioned
    resident = city.people[2]
    wrong = Registrar(
        city.city, city.registrar, NodeAllowlists([node.url], "not-the-token"), pepper=PEPPER
    )
    with pytest.raises(PermissioningError, match=r"the registry changed .* but the node"):
        wrong.register(resident.address, AccountKind.RESIDENT, 5103, "card-3")
    assert city.city.registry.registration_of(resident.address).status is AccountStatus.ACTIVE
    assert resident.address not in _allowlist(node)
    assert Registrar(city.city, city.registrar, NodeAllowlists([node.url], TOKEN)).sync(
        resident.address
    )
    assert resident.address in _allowlist(node)


def test_credentials_need_the_pepper(
    permissioned: tuple[NodeProcess, TestCity], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, city = permissioned
    monkeypatch.delenv("CITYLEDGER_CREDENTIAL_PEPPER", raising=False)
    monkeypatch.delenv("CITYLEDGER_CREDENTIAL_PEPPER_FILE", raising=False)
    registrar = Registrar(city.city, city.registrar)
    from ledger.exceptions import ConfigError

    with pytest.raises(ConfigError, match="CITYLEDGER_CREDENTIAL_PEPPER"):
        registrar.credential("card-9")
    (tmp_path / "pepper").write_text("from-a-file\n")
    monkeypatch.setenv("CITYLEDGER_CREDENTIAL_PEPPER_FILE", str(tmp_path / "pepper"))
    assert registrar.credential("card-9") == Registrar(
        city.city, city.registrar, pepper=b"from-a-file"
    ).credential("card-9")

"""Deployment: wires every role, resumes after a failure, verifies instead of redeploying."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from ledger import deploy as deploy_module
from ledger.chain import Chain
from ledger.city import City
from ledger.deploy import DeploymentError, DeployPlan, Manifest, deploy_city
from ledger.exceptions import AccessDeniedError
from ledger.roles import FUNCTION_ROLES, Role
from tests.support.accounts import write_genesis
from tests.support.processes import NodeProcess


@pytest.fixture
def fresh_chain(
    node_factory: Callable[..., NodeProcess], tmp_path: Path, accounts: list[LocalAccount]
) -> Chain:
    write_genesis(tmp_path / "genesis.json", accounts)
    node = node_factory(tmp_path / "genesis.json", "--block-period", "0")
    return Chain(node.url)


def test_deploy_wires_roles_and_hands_admin_over(
    fresh_chain: Chain, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    deployer, admin, treasury = accounts[0], accounts[1], accounts[2]
    plan = DeployPlan("test", admin.address, grants={Role.TREASURY: [(treasury.address, 0)]})
    manifest = deploy_city(fresh_chain, deployer, plan, tmp_path / "test.json")
    assert manifest.complete
    city = City.at(fresh_chain, manifest)
    assert city.registry.token() == city.token.address
    assert city.authority.has_role(Role.ADMIN, admin.address).is_member
    assert not city.authority.has_role(Role.ADMIN, deployer.address).is_member
    assert city.authority.has_role(Role.TREASURY, treasury.address).is_member
    assert city.authority.has_role(Role.RECOVERY, city.registry.address).is_member
    for target_name, functions in FUNCTION_ROLES.items():
        target = manifest.address(target_name)
        for function, role in functions.items():
            selector = deploy_module._selector(target_name, function)
            assert city.authority.target_function_role(target, selector) == role, function
    with pytest.raises(AccessDeniedError):
        city.authority.grant_role(deployer, Role.TREASURY, deployer.address)


def test_rerun_verifies_and_sends_nothing(
    fresh_chain: Chain, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    plan = DeployPlan("test", accounts[1].address)
    path = tmp_path / "test.json"
    first = deploy_city(fresh_chain, accounts[0], plan, path)
    block = fresh_chain.block_number()
    again = deploy_city(fresh_chain, accounts[0], plan, path)
    assert again == first
    assert fresh_chain.block_number() == block


def test_a_failed_run_resumes_where_it_stopped(
    fresh_chain: Chain,
    accounts: list[LocalAccount],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = DeployPlan("test", accounts[1].address)
    path = tmp_path / "test.json"
    real_steps = deploy_module._steps

    def failing_steps(*args: object) -> list[tuple[str, Callable[[], object]]]:
        steps = real_steps(*args)  # type: ignore[arg-type]

        def boom() -> None:
            raise RuntimeError("power cut")

        return [*steps[:4], ("link registry to token", boom), *steps[5:]]

    monkeypatch.setattr(deploy_module, "_steps", failing_steps)
    with pytest.raises(RuntimeError, match="power cut"):
        deploy_city(fresh_chain, accounts[0], plan, path)
    partial = Manifest.load(path)
    assert not partial.complete
    assert len(partial.steps) == 4
    monkeypatch.setattr(deploy_module, "_steps", real_steps)
    manifest = deploy_city(fresh_chain, accounts[0], plan, path)
    assert manifest.complete
    assert manifest.contracts == partial.contracts, "no contract was deployed twice"
    assert City.at(fresh_chain, manifest).registry.token() == manifest.address("CityToken")


def test_a_manifest_from_another_chain_state_is_refused(
    node_factory: Callable[..., NodeProcess], accounts: list[LocalAccount], tmp_path: Path
) -> None:
    write_genesis(tmp_path / "genesis.json", accounts)
    first = Chain(node_factory(tmp_path / "genesis.json", "--block-period", "0").url)
    plan = DeployPlan("test", accounts[1].address)
    deploy_city(first, accounts[0], plan, tmp_path / "test.json")
    reset = Chain(
        node_factory(
            tmp_path / "genesis.json", "--block-period", "0", data_dir=tmp_path / "new"
        ).url
    )
    with pytest.raises(DeploymentError, match="no code"):
        deploy_city(reset, accounts[0], plan, tmp_path / "test.json")
